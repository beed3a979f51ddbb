"""The per-account redesign: the same published day from 1 worker, N workers and Spark's
executors (a real multi-process Spark: local-cluster), bounded accounts, staging cleaned."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from alertrec import schema as S
from alertrec.account import merge_samples, recommend_accounts, sample_lists
from alertrec.config import Config
from alertrec.errors import AlertrecError
from alertrec.io.publish import read_day
from alertrec.io.storage import storage_for
from alertrec.pipeline import run_day
from tests.conftest import FIXTURE_DAY, FIXTURES, REPO
from tests.output_contract import check_recommendations

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


def test_one_and_two_workers_publish_the_same_bytes(local_runs):
    (one, one_out), (two, two_out) = local_runs["one"], local_runs["two"]
    assert one["status"] == two["status"] == "published"
    assert one["accounts"]["count"] >= 3
    assert _day_files(one_out) == _day_files(two_out)
    assert _models(one_out) == _models(two_out)
    table = read_day(storage_for(str(two_out)), DAY)
    check_recommendations(table, top_k=10)
    # the report has the stage timings and the Spark job count of the run
    assert two["spark_jobs"] is not None and 1 <= two["spark_jobs"] <= 12
    for stage in ("extract", "prepare", "shared_model", "finish", "publish"):
        assert stage in two["timings_s"]


def test_the_in_process_composition_gives_the_published_day(spark, tmp_path):
    """recommend_accounts (notebooks, evaluation) is the per-account flow the job runs."""
    from alertrec.io.extract import extract_sessions
    from alertrec.io.inputs import read_inputs

    config = _config(FIXTURES, tmp_path / "job")
    report = run_day(config, spark=spark)
    alerts, actions, _ = read_inputs(spark, config)
    ex = extract_sessions(spark, alerts, actions, config)
    recs, results = recommend_accounts(ex.sessions, ex.items, ex.fired, config)
    published = read_day(storage_for(config.output_root), DAY).to_pandas()
    pd.testing.assert_frame_equal(recs.reset_index(drop=True), published, check_dtype=False)
    assert report["output"]["rows"] == len(recs) > 0
    assert {r.account_id for r in results} == set(ex.fired[S.ACCOUNT_ID]) | set(ex.sessions[S.ACCOUNT_ID])
    # scoring 3 definitions at a time gives the lists of one call over all of them
    assert ex.fired.groupby(S.ACCOUNT_ID).size().max() > 3
    for ranker in ("mxnet", "popularity"):
        whole, _ = recommend_accounts(ex.sessions, ex.items, ex.fired, dataclasses.replace(config, ranker=ranker))
        batched, _ = recommend_accounts(
            ex.sessions, ex.items, ex.fired, dataclasses.replace(config, ranker=ranker, score_batch_definitions=3)
        )
        pd.testing.assert_frame_equal(batched, whole)


def test_an_account_over_the_memory_setting_fails_naming_it(spark, tmp_path):
    config = _config(FIXTURES, tmp_path / "out", max_account_rows=50)
    with pytest.raises(AlertrecError, match=r"account \d+ has [\d,]+ staged rows, more than --max-account-rows 50"):
        run_day(config, spark=spark)
    assert not (tmp_path / "out" / "recommendations").exists()
    report = json.loads(next((tmp_path / "out" / "runs").glob("*.json")).read_text())
    assert report["status"] == "failed" and "\n" not in report["error"]


def test_staging_is_removed_after_the_run_and_after_a_failure(spark, tmp_path):
    staging = tmp_path / "staging"
    run_day(_config(FIXTURES, tmp_path / "ok", staging_root=str(staging), ranker="popularity"), spark=spark)
    assert staging.exists() and not any(staging.iterdir())
    with pytest.raises(AlertrecError):
        run_day(_config(FIXTURES, tmp_path / "bad", staging_root=str(staging), max_account_rows=1), spark=spark)
    assert not any(staging.iterdir())


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


def test_the_spark_engine_on_two_executors_publishes_the_local_engines_day(world, local_runs, tmp_path):
    """``--engine spark`` on ``local-cluster[2,1,1024]``: two executor JVMs with their own
    Python workers, as on EMR; the day equals the local pool's with 2 workers (apart from
    generated_at), run by the CLI in its own process."""
    import pyspark

    env = {**os.environ, "SPARK_HOME": os.path.dirname(pyspark.__file__), "PYSPARK_PYTHON": sys.executable}
    out = tmp_path / "spark"
    cmd = [
        sys.executable,
        "-m",
        "alertrec",
        "run",
        "--input",
        str(world),
        "--output",
        str(out),
        "--date",
        FIXTURE_DAY,
        "--engine",
        "spark",
        "--spark-master",
        "local-cluster[2,1,1024]",
        "--workers",
        "2",
    ]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    outputs = {"spark": out, "local": local_runs["two"][1]}
    tables = {e: pq.read_table(o / "recommendations" / f"dt={FIXTURE_DAY}").to_pandas() for e, o in outputs.items()}
    spark_day, local_day = (
        t.drop(columns=[S.GENERATED_AT, "dt"], errors="ignore") for t in (tables["spark"], tables["local"])
    )
    assert len(spark_day) > 0
    pd.testing.assert_frame_equal(spark_day, local_day)
    assert _models(outputs["spark"]) == _models(outputs["local"])
