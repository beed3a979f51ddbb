"""The CLI parses, validates and calls the pipeline; its errors are one line and a non-zero exit."""

from __future__ import annotations

import datetime as dt

import pytest

from alertrec import cli
from alertrec.errors import InputError
from tests.clock import freeze_cli_clock


@pytest.fixture()
def calls(monkeypatch, tmp_path):
    """Patch the pipeline: record the configs it is called with (relative outputs land in tmp_path)."""
    monkeypatch.chdir(tmp_path)  # `run` takes the day's lock under the output root
    seen = []

    def fake_run_day(config, spark=None, storage=None):
        seen.append(config)
        return {
            "day": config.date.isoformat(),
            "rows": {"actions": {"read": 10, "used": 6, "quarantined": 3, "ignored": 1}},
            "sessions": {"sessions": 2, "resolved": 1, "mean_duration_s": 600.0},
            "stages": {
                "rank": {"definitions_with_rows": 2, "fired_definitions": 3, "accounts": 1, "model_version": "m"}
            },
            "output": {"url": "/w/recommendations/dt=x", "rows": 7},
            "report_url": "/w/runs/r.json",
        }

    monkeypatch.setattr("alertrec.pipeline.run_day", fake_run_day)
    return seen


def test_run_builds_the_config_and_prints_a_summary(calls, capsys):
    code = cli.main(
        ["run", "--input", "in", "--output", "out", "--date", "2026-02-01", "--history-days", "14", "--top-k", "3"]
    )
    assert code == 0
    (config,) = calls
    assert (config.input_root, config.output_root, config.date) == ("in", "out", dt.date(2026, 2, 1))
    assert (config.history_days, config.top_k) == (14, 3)
    out = capsys.readouterr().out
    assert "published 2026-02-01 -> /w/recommendations/dt=x" in out
    assert "10 read = 6 used + 3 quarantined + 1 ignored" in out


def test_workers_and_engine_reach_the_config(calls):
    assert cli.main(["run", "--input", "in", "--date", "2026-02-01", "--workers", "3", "--engine", "spark"]) == 0
    assert (calls[0].workers, calls[0].engine) == (3, "spark")
    assert cli.main(["run", "--input", "in", "--date", "2026-02-01"]) == 0
    assert (calls[1].workers, calls[1].engine) == (0, "local")


def test_default_date_is_today_utc_and_output_is_warehouse(calls, monkeypatch):
    now = freeze_cli_clock(monkeypatch)
    assert cli.main(["run", "--input", "in"]) == 0
    assert calls[0].date == now.date() == dt.date(2026, 3, 14)
    assert calls[0].generated_at == now
    assert calls[0].output_root == "./warehouse"


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["run", "--input", "in", "--date", "2026-13-01"], "not a calendar day"),
        (["run", "--input", "in", "--date", "01/02/2026"], "YYYY-MM-DD"),
        (["run", "--input", "in", "--date", "2026-2-1"], "YYYY-MM-DD"),
        (["run", "--input", "in", "--top-k", "0"], "--top-k must be >= 1"),
        (["run", "--input", "in", "--history-days", "-3"], "--history-days must be >= 1"),
        (["run", "--input", "in", "--top-k", "many"], "invalid int value"),
        (["run"], "--input"),
        (["run", "--input", "in", "--workers", "-1"], "--workers must be >= 0"),
        (["run", "--input", "in", "--engine", "dask"], "invalid choice"),
        (
            ["run", "--input", "in", "--date", "2026-02-01", "--history-days", "10000000"],
            "--history-days must be within 1..739645 for --date 2026-02-01",
        ),
        (["run", "--input", "in", "--input-cache-gb", "0"], "--input-cache-gb must be > 0"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(calls, capsys, argv, needle):
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    assert calls == []


def test_alertrec_errors_from_the_pipeline_are_one_line(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)

    def failing(config, spark=None, storage=None):
        raise InputError("no actions/ under in: expected Hive-partitioned Parquet")

    monkeypatch.setattr("alertrec.pipeline.run_day", failing)
    assert cli.main(["run", "--input", "in", "--date", "2026-02-01"]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "alertrec: error: no actions/ under in: expected Hive-partitioned Parquet"


def test_unexpected_failures_are_one_line_without_traceback(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)

    def broken(config, spark=None, storage=None):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr("alertrec.pipeline.run_day", broken)
    assert cli.main(["run", "--input", "in", "--date", "2026-02-01"]) == 1
    err = capsys.readouterr().err
    assert "unexpected RuntimeError: boom" in err and "Traceback" not in err and "second line" not in err


def test_unwritable_output_fails_before_any_work(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code = cli.main(["run", "--input", str(tmp_path), "--output", str(blocker / "warehouse"), "--date", "2026-02-01"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 4
    assert err[-1].startswith("alertrec: error: ") and "a-file" in err[-1]
    assert not (tmp_path / "a-file" / "warehouse").exists()


def test_run_takes_the_days_lock_and_a_second_run_of_the_day_is_refused(calls, tmp_path, capsys):
    from alertrec.io.lock import LockOwner, lock_for
    from alertrec.io.storage import storage_for

    out = tmp_path / "w"
    holder = lock_for(storage_for(str(out)), dt.date(2026, 2, 1), LockOwner.current("the-first-run"))
    holder.acquire()
    try:
        code = cli.main(["run", "--input", "in", "--output", str(out), "--date", "2026-02-01"])
    finally:
        holder.release()
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 5 and calls == []
    assert len(err) == 1 and err[0].startswith("alertrec: error: another run of this day holds the lock"), err
    assert "the-first-run" in err[0]
    # another day is not blocked, and the lock is free again once its holder is done
    assert cli.main(["run", "--input", "in", "--output", str(out), "--date", "2026-02-02"]) == 0
    assert cli.main(["run", "--input", "in", "--output", str(out), "--date", "2026-02-01"]) == 0
    assert len(calls) == 2


def test_input_cache_settings_reach_the_config(calls):
    assert (
        cli.main(["run", "--input", "in", "--date", "2026-02-01", "--input-cache-dir", "/c", "--input-cache-gb", "0.5"])
        == 0
    )
    assert (calls[0].input_cache_dir, calls[0].input_cache_bytes) == ("/c", 512 * 1024**2)
