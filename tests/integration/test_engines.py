"""The per-account redesign: the same published day from 1 worker, N workers and Spark's
executors (a real multi-process Spark: local-cluster), bounded accounts, staging cleaned."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from alertrec import schema as S
from alertrec.account import merge_samples, recommend_accounts, sample_lists
from alertrec.config import Config
from alertrec.errors import AlertrecError
from alertrec.io.publish import read_day
from alertrec.io.storage import storage_for
from alertrec.pipeline import run_day
from tests.conftest import FIXTURE_DAY, FIXTURES, REPO
from tests.output_contract import check_recommendations, definitions_with_history

pytestmark = pytest.mark.spark

DAY = dt.date.fromisoformat(FIXTURE_DAY)
STAMP = dt.datetime(2026, 2, 1, 4, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """A small generated world with several accounts (the fixtures' accounts are few)."""
    from alertrec.generate import WorldSpec, generate_world, write_world

    root = tmp_path_factory.mktemp("world")
    write_world(generate_world(WorldSpec.for_actions(5_000, end_date=DAY, accounts=3), seed=11), root)
    return root


def _config(input_root: Path, output: Path, **changes) -> Config:
    return Config(
        input_root=str(input_root),
        output_root=str(output),
        date=FIXTURE_DAY,
        generated_at=STAMP,
        run_id=f"test-{output.name}",
        **changes,
    )


def _day_files(output: Path) -> dict[str, bytes]:
    """The published data files' bytes by position (file names carry the run id)."""
    manifest = json.loads((output / "recommendations" / f"dt={FIXTURE_DAY}" / "_SUCCESS").read_text())
    folder = output / "recommendations" / f"dt={FIXTURE_DAY}"
    return {str(i): (folder / name).read_bytes() for i, name in enumerate(manifest["files"])}


def _models(output: Path) -> dict[str, bytes]:
    base = output / "models"
    return {str(p.relative_to(base)): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def local_runs(spark, world, tmp_path_factory) -> dict[str, tuple[dict, Path]]:
    """The world's day from the local engine with 1 and with 2 workers (reports, outputs)."""
    base = tmp_path_factory.mktemp("local-runs")
    runs = {}
    for name, changes in (("one", {"workers": 1}), ("two", {"workers": 2, "parallel_min_rows": 0})):
        runs[name] = (run_day(_config(world, base / name, **changes), spark=spark), base / name)
    return runs


def test_one_and_two_workers_publish_the_same_bytes(spark, world, local_runs):
    (one, one_out), (two, two_out) = local_runs["one"], local_runs["two"]
    assert one["status"] == two["status"] == "published"
    assert one["accounts"]["count"] >= 3
    assert _day_files(one_out) == _day_files(two_out)
    assert _models(one_out) == _models(two_out)
    table = read_day(storage_for(str(two_out)), DAY)
    # the output contract, and every fired definition of an account with history has rows
    expected, n_fired = definitions_with_history(spark, _config(world, one_out))
    rows = check_recommendations(table, top_k=10, fired=expected, generated_at=STAMP)
    assert 0 < len(expected) <= n_fired and len(rows) == two["output"]["rows"]
    for dataset in (S.DATASET_ACTIONS, S.DATASET_ALERTS):
        counts = two["rows"][dataset]
        assert counts["reconciled"] and counts["read"] == counts["used"] + counts["quarantined"] + counts["ignored"]
    # the MXNet ranker is the default and its model files are kept under models/
    assert two["stages"]["rank"]["model_version"].startswith("mxnet")
    assert two["stages"]["model"]["files"] and all((two_out / f).is_file() for f in two["stages"]["model"]["files"])
    # the report has the stage timings and the Spark job count of the run
    assert two["spark_jobs"] is not None and 1 <= two["spark_jobs"] <= 12
    for stage in ("extract", "prepare", "shared_model", "finish", "publish"):
        assert stage in two["timings_s"]


def test_the_in_process_composition_gives_the_published_day(spark, world, local_runs):
    """recommend_accounts (notebooks, evaluation) is the per-account flow the job runs: it gives
    the day the 1-worker run published from the same world."""
    from alertrec.account import finish_accounts, prepare_accounts
    from alertrec.io.extract import extract_sessions
    from alertrec.io.inputs import read_inputs

    report, out = local_runs["one"]
    config = _config(world, out, workers=1)
    alerts, actions, _ = read_inputs(spark, config)
    ex = extract_sessions(spark, alerts, actions, config)
    recs, results = recommend_accounts(ex.sessions, ex.items, ex.fired, config)
    published = read_day(storage_for(str(out)), DAY).to_pandas()
    pd.testing.assert_frame_equal(recs.reset_index(drop=True), published, check_dtype=False)
    assert report["output"]["rows"] == len(recs) > 0
    assert {r.account_id for r in results} == set(ex.fired[S.ACCOUNT_ID]) | set(ex.sessions[S.ACCOUNT_ID])
    # scoring 3 definitions at a time gives the lists of one call over all of them (the scoring is in
    # the second half: one preparation serves both rankers and both batch sizes)
    assert ex.fired.groupby(S.ACCOUNT_ID).size().max() > 3
    prepared = prepare_accounts(ex.sessions, ex.items, ex.fired, config)
    for ranker in ("mxnet", "popularity"):
        whole, _ = finish_accounts(prepared, dataclasses.replace(config, ranker=ranker))
        batched, _ = finish_accounts(prepared, dataclasses.replace(config, ranker=ranker, score_batch_definitions=3))
        pd.testing.assert_frame_equal(batched, whole)
        if ranker == "mxnet":
            pd.testing.assert_frame_equal(whole, recs)


def test_an_account_over_the_memory_setting_fails_naming_it_and_leaves_no_staging(spark, tmp_path):
    staging = tmp_path / "staging"
    config = _config(FIXTURES, tmp_path / "out", max_account_rows=50, staging_root=str(staging))
    with pytest.raises(AlertrecError, match=r"account \d+ has [\d,]+ staged rows, more than --max-account-rows 50"):
        run_day(config, spark=spark)
    assert not (tmp_path / "out" / "recommendations").exists()
    report = json.loads(next((tmp_path / "out" / "runs").glob("*.json")).read_text())
    assert report["status"] == "failed" and "\n" not in report["error"]
    assert staging.exists() and not any(staging.iterdir())  # removed after a failure too


def test_staging_is_removed_after_the_run(spark, tmp_path):
    staging = tmp_path / "staging"
    run_day(_config(FIXTURES, tmp_path / "ok", staging_root=str(staging), ranker="popularity"), spark=spark)
    assert staging.exists() and not any(staging.iterdir())


def test_the_shared_sample_does_not_depend_on_the_order_of_accounts():
    rows = []
    for account in (1, 2, 3):
        for lid in range(40):
            rows.append(
                {
                    S.ACCOUNT_ID: account,
                    S.ALERT_ID: f"a{lid % 7}",
                    "cutoff": 1000.0 * (lid // 7),
                    "cold": lid % 2,
                    "list_id": lid,
                    "x": lid,
                }
            )
    lists = pd.DataFrame(rows)
    per = [sample_lists(lists[lists[S.ACCOUNT_ID] == a], cap=25, seed=3) for a in (1, 2, 3)]
    forward = merge_samples(per, cap=25)
    backward = merge_samples(per[::-1], cap=25)
    pd.testing.assert_frame_equal(forward, backward)
    assert forward["list_id"].nunique() <= 25
    # a list's cold copy (same account, alert and cutoff) is kept or dropped with it
    keys = forward.groupby([S.ACCOUNT_ID, S.ALERT_ID, "cutoff"])["cold"].nunique()
    assert set(keys) <= {1, 2}
    whole = sample_lists(lists.assign(list_id=lists[S.ACCOUNT_ID] * 100 + lists["list_id"]), cap=25, seed=3)
    assert len(whole.drop_duplicates("list_id")) == forward["list_id"].nunique()


SPARK_SUBMIT = Path(sys.executable).parent / "spark-submit"


@pytest.mark.s3
def test_the_emr_step_on_two_executors_publishes_the_local_engines_day_to_s3_and_glue(local_runs, world, s3_bucket):
    """The EMR step ``jobs/run_day_step.py`` under the real ``spark-submit``, with ``--engine spark`` on
    ``local-cluster[2,1,1024]``: two executor JVMs with their own Python workers, as on EMR. The output
    is ``s3://`` (moto) and the day is registered in Glue (moto), as the step in docs/emr.md does; the
    input stays local (a local Spark has no s3a:// jars). The job runs on the master spark-submit names,
    not on the CLI's default, and the day equals the local pool's with 2 workers (apart from
    generated_at), models included."""
    import pyspark

    from alertrec.io.lock import lock_path
    from tests.ops.helpers import glue_database, glue_partitions

    assert SPARK_SUBMIT.exists(), "pyspark's spark-submit is missing from the venv"
    root = f"s3://{s3_bucket}/alertrec"
    database = glue_database(s3_bucket)
    master = "local-cluster[2,1,1024]"
    env = {
        **os.environ,
        "SPARK_HOME": os.path.dirname(pyspark.__file__),
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
    }
    # fmt: off
    cmd = [
        str(SPARK_SUBMIT), "--master", master, "--driver-memory", "1g", "--conf", "spark.ui.enabled=false",
        "jobs/run_day_step.py", "--input", str(world), "--output", root, "--date", FIXTURE_DAY,
        "--engine", "spark", "--workers", "2", "--glue-database", database, "--glue-table", "recommendations",
    ]
    # fmt: on
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-4000:]
    storage = storage_for(root)
    spark_table = read_day(storage, DAY)
    rows = check_recommendations(spark_table, top_k=10)
    (report_path,) = [p for p in storage.list("runs") if p.endswith(".json")]
    report = json.loads(storage.read_bytes(report_path))
    assert report["status"] == "published" and report["output"]["rows"] == len(rows) > 0
    assert report["settings"]["spark_master"] == master  # spark-submit's master, not the CLI default
    assert report["settings"]["engine"] == "spark"
    assert glue_partitions(database, "recommendations") == {FIXTURE_DAY: f"{root}/recommendations/dt={FIXTURE_DAY}/"}
    assert not storage.exists(lock_path(DAY))
    # the executors' day is the local pool's
    local_out = local_runs["two"][1]
    spark_day, local_day = (
        t.to_pandas().drop(columns=[S.GENERATED_AT, "dt"], errors="ignore")
        for t in (spark_table, read_day(storage_for(str(local_out)), DAY))
    )
    pd.testing.assert_frame_equal(spark_day, local_day)
    models = {p.removeprefix("models/"): storage.read_bytes(p) for p in sorted(storage.list("models"))}
    assert models == _models(local_out)
    # EMR step logs: plain time-stamped lines, no terminal control characters. spark-submit's PythonRunner
    # merges the Python driver's stderr into its own stdout, so on EMR they are in the step's stdout log
    logs = proc.stdout + proc.stderr
    assert "\r" not in logs and "\x1b" not in logs
    assert re.search(
        r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO alertrec\.cli: published 2026-02-01 -> ", proc.stdout, re.M
    ), proc.stdout[-3000:]
    assert re.search(r"INFO alertrec\.io\.glue: registered dt=2026-02-01 in Glue table ", proc.stdout)
