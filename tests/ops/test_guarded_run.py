"""alertrec.ops.run_day_guarded and ``alertrec cron``, with the pipeline patched (no Spark).

What is checked here is what ops adds around ``pipeline.run_day``: the lock, the
fence, the day's input check and the Glue bookkeeping. The real pipeline runs
under them in test_ops_spark.py, test_cron_entry.py and the EMR step test of
tests/integration/test_engines.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import boto3
import pytest

from alertrec import cli
from alertrec.config import Config
from alertrec.errors import OutputError
from alertrec.io.glue import GlueTarget, register_partition
from alertrec.io.lock import LockHeldError, LockOwner, lock_for, lock_path
from alertrec.io.publish import publish_day, success_path
from alertrec.io.storage import storage_for
from alertrec.ops import run_day_guarded
from tests.clock import freeze_cli_clock
from tests.conftest import FIXTURE_DAY, FIXTURES, REPO
from tests.ops.helpers import DAY, INPUT_DAY, fixture_copy, glue_database, glue_partitions
from tests.output_contract import read_published_day
from tests.unit.test_publish import item_ids, recs


class FakePipeline:
    """Stands in for pipeline.run_day: publishes a small table through the storage it is given."""

    def __init__(self, tag: str = "new", during=None, fail: Exception | None = None) -> None:
        self.tag, self.during, self.fail = tag, during, fail
        self.calls: list[Config] = []

    def __call__(self, config, spark=None, storage=None):
        self.calls.append(config)
        if self.during is not None:
            self.during(config, storage)
        if self.fail is not None:
            raise self.fail
        result = publish_day(storage, recs(self.tag), config.date, config.run_id)
        return {
            "run_id": config.run_id,
            "day": config.date.isoformat(),
            "status": "published",
            "output": {"url": result.url, "rows": result.rows},
            "timings_s": {"publish": 0.1},
        }


def _config(output: str, run: str = "run-1", input_root: str = str(FIXTURES)) -> Config:
    return Config(input_root=input_root, output_root=output, date=FIXTURE_DAY, run_id=run)


@pytest.fixture()
def fake(monkeypatch) -> FakePipeline:
    pipeline = FakePipeline()
    monkeypatch.setattr("alertrec.pipeline.run_day", pipeline)
    return pipeline


# --------------------------------------------------------------------------
# cron: refusals before any work
# --------------------------------------------------------------------------
_HOLDER = """
import datetime as dt, sys, time
from alertrec.io.lock import LockOwner, lock_for
from alertrec.io.storage import storage_for
lock_for(storage_for(sys.argv[1]), dt.date.fromisoformat(sys.argv[2]), LockOwner.current("run-nightly")).acquire()
print("held", flush=True)
time.sleep(120)
"""


def test_cron_is_refused_with_exit_5_while_another_run_of_the_day_holds_the_lock(fake, tmp_path, capsys):
    out = tmp_path / "warehouse"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(out), FIXTURE_DAY], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        code = cli.main(["cron", "--input", str(FIXTURES), "--output", str(out), "--date", FIXTURE_DAY])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 5, err
        assert err[-1].startswith("alertrec: error: another run of this day holds the lock ")
        assert f"run run-nightly on host {os.uname().nodename} (pid {holder.pid}" in err[-1]
        assert fake.calls == []  # refused before any work
        # another day is not blocked
        assert (
            cli.main(
                ["cron", "--input", str(FIXTURES), "--output", str(out), "--date", "2026-02-02", "--no-input-check"]
            )
            == 0
        )
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert not (out / "recommendations" / f"dt={FIXTURE_DAY}").exists()


@pytest.mark.parametrize("dataset", ["actions", "alerts"])
def test_cron_with_the_days_input_missing_is_exit_3_and_publishes_nothing(fake, tmp_path, capsys, dataset):
    root = fixture_copy(tmp_path / "in", drop=(dataset, INPUT_DAY))
    out = tmp_path / "warehouse"
    code = cli.main(["cron", "--input", str(root), "--output", str(out), "--date", FIXTURE_DAY])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 3, err
    assert err[-1] == (
        f"alertrec: error: the day's input is missing: no {dataset} partition {root}/{dataset}/dt={INPUT_DAY} "
        f"(the run for {FIXTURE_DAY} learns up to the end of {INPUT_DAY}); check that the upstream export for "
        "that day ran, or pass --no-input-check to run anyway"
    )
    assert fake.calls == []
    assert not (out / "recommendations").exists()
    # the lock went with the failed run
    with lock_for(storage_for(str(out)), DAY, LockOwner.current("next")) as lock:
        assert lock.held


def test_cron_default_day_is_today_utc_and_its_summary_goes_to_the_log(fake, tmp_path, capsys, caplog, monkeypatch):
    out = tmp_path / "warehouse"
    caplog.set_level("INFO")
    today = freeze_cli_clock(monkeypatch).date()
    assert cli.main(["cron", "--input", str(FIXTURES), "--output", str(out), "--no-input-check"]) == 0
    assert fake.calls[0].date == today
    captured = capsys.readouterr()
    assert captured.out == ""  # not a terminal: nothing on stdout, the summary is in the log
    assert f"published {today.isoformat()} -> " in caplog.text and "stages: publish 0.1 s" in caplog.text


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--glue-database", "db"], "--glue-database and --glue-table go together"),
        (["--glue-database", "db", "--glue-table", "t"], "need an s3:// --output"),
        (["--glue-database", "DB", "--glue-table", "t"], "lowercase"),
    ],
)
@pytest.mark.parametrize("command", ["run", "cron"])
def test_glue_flags_are_checked_before_any_work(fake, tmp_path, capsys, command, argv, needle):
    code = cli.main([command, "--input", str(FIXTURES), "--output", str(tmp_path / "w"), "--date", FIXTURE_DAY, *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and needle in err[-1], err
    assert fake.calls == []


# --------------------------------------------------------------------------
# S3: the lock during the run, the fence, Glue following _SUCCESS
# --------------------------------------------------------------------------
@pytest.mark.s3
class TestOnS3:
    @pytest.fixture()
    def root(self, s3_bucket) -> str:
        return f"s3://{s3_bucket}/alertrec"

    @pytest.fixture()
    def target(self, s3_bucket) -> GlueTarget:
        return GlueTarget(glue_database(s3_bucket), "recommendations")

    def _lock_doc(self, s3_bucket):
        client = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL_S3"])
        try:
            body = client.get_object(Bucket=s3_bucket, Key=f"alertrec/{lock_path(DAY)}")["Body"].read()
        except client.exceptions.NoSuchKey:
            return None
        return json.loads(body)

    def test_the_run_holds_the_lock_and_the_day_lands_in_glue_after_success(self, monkeypatch, root, s3_bucket, target):
        seen = {}

        def during(config, storage):
            seen["lock"] = self._lock_doc(s3_bucket)
            with pytest.raises(LockHeldError):  # a second run of the day, right now, is refused
                lock_for(storage_for(root), DAY, LockOwner.current("intruder")).acquire()

        monkeypatch.setattr("alertrec.pipeline.run_day", FakePipeline("new", during=during))
        storage = storage_for(root)
        publish_day(storage, recs("old"), DAY, "run-old")
        register_partition(target, storage, DAY)

        report = run_day_guarded(_config(root), glue=target, check_input=False)
        assert seen["lock"]["run_id"] == "run-1"
        assert self._lock_doc(s3_bucket) is None  # released
        assert report["lock"] == {"url": f"{root}/{lock_path(DAY)}"}
        assert report["glue"]["partition"] == f"dt={FIXTURE_DAY}" and not report["glue"]["table_created"]
        assert glue_partitions(target.database, target.table) == {
            FIXTURE_DAY: f"{root}/recommendations/dt={FIXTURE_DAY}/"
        }
        assert item_ids(read_published_day(storage, DAY)) == ["new-item-0", "new-item-1", "new-item-2"]

    def test_glue_drops_the_day_while_it_is_rewritten(self, monkeypatch, root, target):
        storage = storage_for(root)
        publish_day(storage, recs("old"), DAY, "run-old")
        register_partition(target, storage, DAY)
        seen = {}

        class Spy(FakePipeline):
            def __call__(self, config, spark=None, storage=None):
                out = super().__call__(config, spark, storage)
                seen["after_publish"] = glue_partitions(target.database, target.table)
                return out

        monkeypatch.setattr("alertrec.pipeline.run_day", Spy("new"))
        run_day_guarded(_config(root), glue=target, check_input=False)
        assert seen["after_publish"] == {}  # from step 1 on, Athena does not see the day
        assert list(glue_partitions(target.database, target.table)) == [FIXTURE_DAY]

    def test_a_run_that_fails_after_step_1_leaves_the_day_out_of_glue_until_a_rerun(self, monkeypatch, root, target):
        storage = storage_for(root)
        publish_day(storage, recs("old"), DAY, "run-old")
        register_partition(target, storage, DAY)

        def step_1_then_fail(config, storage):
            storage.delete([success_path(DAY)])
            raise OutputError("disk on fire")

        monkeypatch.setattr("alertrec.pipeline.run_day", FakePipeline(during=step_1_then_fail))
        with pytest.raises(OutputError, match="disk on fire"):
            run_day_guarded(_config(root), glue=target, check_input=False)
        assert not storage.exists(success_path(DAY))
        assert glue_partitions(target.database, target.table) == {}
        monkeypatch.setattr("alertrec.pipeline.run_day", FakePipeline("rerun"))
        run_day_guarded(_config(root, run="run-2"), glue=target, check_input=False)
        assert list(glue_partitions(target.database, target.table)) == [FIXTURE_DAY]
        assert item_ids(read_published_day(storage, DAY)) == ["rerun-item-0", "rerun-item-1", "rerun-item-2"]

    def test_a_run_whose_step_1_fails_puts_the_day_back_in_glue(self, monkeypatch, root, target):
        storage = storage_for(root)
        publish_day(storage, recs("old"), DAY, "run-old")
        register_partition(target, storage, DAY)

        class NoDelete:
            """The output refuses deletes (a bucket policy, say)."""

            def __init__(self, inner):
                self.inner = inner

            def __getattr__(self, name):
                return getattr(self.inner, name)

            def delete(self, paths):
                raise OutputError("cannot delete: access denied")

        from alertrec.io.storage import Storage

        Storage.register(NoDelete)
        monkeypatch.setattr("alertrec.pipeline.run_day", FakePipeline("new"))
        with pytest.raises(OutputError, match="step 1 of 4"):
            run_day_guarded(_config(root), storage=NoDelete(storage), glue=target, check_input=False)
        assert item_ids(read_published_day(storage, DAY)) == ["old-item-0", "old-item-1", "old-item-2"]
        assert list(glue_partitions(target.database, target.table)) == [FIXTURE_DAY]  # restored

    def test_a_run_that_lost_its_lock_stops_before_touching_the_day(self, monkeypatch, root, s3_bucket):
        storage = storage_for(root)
        publish_day(storage, recs("old"), DAY, "run-old")

        def taken_over(config, storage):  # the lease ran out and another run took the lock
            client = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL_S3"])
            doc = {"run_id": "run-other", "host": "elsewhere", "pid": 1, "token": "other", "ttl_s": 900}
            client.put_object(Bucket=s3_bucket, Key=f"alertrec/{lock_path(DAY)}", Body=json.dumps(doc).encode())

        monkeypatch.setattr("alertrec.pipeline.run_day", FakePipeline("new", during=taken_over))
        code = cli.main(["cron", "--input", str(FIXTURES), "--output", root, "--date", FIXTURE_DAY, "--no-input-check"])
        assert code == 5
        assert item_ids(read_published_day(storage, DAY)) == ["old-item-0", "old-item-1", "old-item-2"]
        assert self._lock_doc(s3_bucket)["run_id"] == "run-other"  # not ours to release


@pytest.mark.s3
def test_the_days_input_on_s3_is_listed_without_spark(s3_bucket):
    from alertrec.errors import InputError
    from alertrec.ops import check_day_input

    client = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL_S3"])
    config = _config("unused", input_root=f"s3://{s3_bucket}/events/")
    day_file = f"dt={INPUT_DAY}/part-0.parquet"
    client.put_object(
        Bucket=s3_bucket, Key=f"events/alerts/{day_file}", Body=(FIXTURES / "alerts" / day_file).read_bytes()
    )
    client.put_object(Bucket=s3_bucket, Key=f"events/actions/dt={INPUT_DAY}/_SUCCESS", Body=b"")
    with pytest.raises(InputError, match=f"no actions partition s3://{s3_bucket}/events/actions/dt={INPUT_DAY} "):
        check_day_input(config)  # a marker file alone is no data
    client.put_object(
        Bucket=s3_bucket, Key=f"events/actions/{day_file}", Body=(FIXTURES / "actions" / day_file).read_bytes()
    )
    found = check_day_input(config)
    assert found == {
        "day": INPUT_DAY,
        "actions": {"path": f"s3://{s3_bucket}/events/actions/dt={INPUT_DAY}", "files": 1},
        "alerts": {"path": f"s3://{s3_bucket}/events/alerts/dt={INPUT_DAY}", "files": 1},
    }
