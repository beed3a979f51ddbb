"""The nightly cron entry point ``jobs/nightly.py``, run for real as a child process.

- the refusals a scheduler acts on: exit 2 (usage), 3 (the day's input is
  missing), 5 (another run of the day holds the lock) -- one line each;
- a crashed night healed by the next run, at a terminal (stderr on a pty):
  the dead run's lock is taken over, its half-written day replaced, progress
  is drawn on the status line and the summary printed at the end;
- (slow) the real job SIGKILLed while publishing, then rerun with plain logs.
"""

from __future__ import annotations

import os
import pty
import re
import signal
import subprocess
import sys
import threading

import pytest

from alertrec.io.lock import lock_path
from alertrec.io.publish import day_dir, success_path
from alertrec.io.storage import storage_for
from tests.conftest import FIXTURE_DAY, FIXTURES, REPO
from tests.ops.helpers import DAY, INPUT_DAY, fixture_copy
from tests.output_contract import check_recommendations, read_published_day

NIGHTLY = "jobs/nightly.py"
SPARK_ARGS = ["--spark-master", "local[2]", "--driver-memory", "1g", "--top-k", "5"]
PLAIN_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) [\w.]+: ")


def _env() -> dict[str, str]:
    return dict(os.environ, PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)


def _nightly(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, NIGHTLY, *args],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def _on_a_terminal(cmd: list[str], timeout: int = 600) -> tuple[int, str, str]:
    """Run ``cmd`` with stderr on a pseudo-terminal; (exit code, stdout, what the terminal showed)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=dict(_env(), TERM="xterm"), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave
    )
    os.close(slave)
    shown: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO once the last writer closed it
                return
            if not data:
                return
            shown.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        out, _ = proc.communicate(timeout=timeout)
    finally:
        proc.kill()
        reader.join(timeout=30)
        os.close(master)
    return proc.returncode, out.decode(), b"".join(shown).decode(errors="replace")


_DEAD_HOLDER = """
import datetime as dt, os, signal, sys
from alertrec.io.lock import LockOwner, lock_for
from alertrec.io.storage import storage_for
lock_for(storage_for(sys.argv[1]), dt.date.fromisoformat(sys.argv[2]), LockOwner.current("run-crashed")).acquire()
os.kill(os.getpid(), signal.SIGKILL)
"""


# --------------------------------------------------------------------------
# refusals: no Spark needed
# --------------------------------------------------------------------------
def test_refusals_are_one_line_and_an_exit_code_a_scheduler_can_act_on(tmp_path):
    out = tmp_path / "warehouse"
    bad = _nightly("--input", str(FIXTURES), "--output", str(out), "--date", "2026-02-30")
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1].endswith(
        "is not a calendar day (day is out of range for month)"
    )

    root = fixture_copy(tmp_path / "in", drop=("actions", INPUT_DAY))
    missing = _nightly("--input", str(root), "--output", str(out), "--date", FIXTURE_DAY)
    assert missing.returncode == 3, missing.stderr
    last = missing.stderr.strip().splitlines()[-1]
    assert last.startswith(f"alertrec: error: the day's input is missing: no actions partition {root}/actions/")
    assert "Traceback" not in missing.stderr and missing.stdout == ""

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, datetime as dt\n"
            "from alertrec.io.lock import LockOwner, lock_for\nfrom alertrec.io.storage import storage_for\n"
            "lock_for(storage_for(sys.argv[1]), dt.date.fromisoformat(sys.argv[2]), LockOwner.current('run-early'))"
            ".acquire()\nprint('held', flush=True)\ntime.sleep(120)",
            str(out),
            FIXTURE_DAY,
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        locked = _nightly("--input", str(FIXTURES), "--output", str(out), "--date", FIXTURE_DAY)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert locked.returncode == 5, locked.stderr
    assert "another run of this day holds the lock" in locked.stderr.strip().splitlines()[-1]
    assert "run run-early" in locked.stderr
    assert not (out / "recommendations").exists()


@pytest.mark.spark
@pytest.mark.s3
def test_sigterm_is_exit_143_and_releases_the_lock(s3_bucket):
    import time

    import boto3

    client = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL_S3"])
    key = f"alertrec/{lock_path(DAY)}"
    proc = subprocess.Popen(
        [
            sys.executable,
            NIGHTLY,
            "--input",
            str(FIXTURES),
            "--output",
            f"s3://{s3_bucket}/alertrec",
            "--date",
            FIXTURE_DAY,
            *SPARK_ARGS,
        ],
        cwd=REPO,
        env=_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while "Contents" not in client.list_objects_v2(Bucket=s3_bucket, Prefix=key):
            assert proc.poll() is None and time.monotonic() < deadline, "the run never took its lock"
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)  # a scheduler stopping the job mid-run
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 143, err[-3000:]
    assert err.strip().splitlines()[-1] == "alertrec: terminated (SIGTERM); the day was not published by this run"
    assert "Contents" not in client.list_objects_v2(Bucket=s3_bucket, Prefix=key), "the lock was not released"


# --------------------------------------------------------------------------
# a crashed night, healed by the next run at a terminal
# --------------------------------------------------------------------------
@pytest.mark.spark
@pytest.mark.s3
def test_the_next_run_heals_a_crashed_night_and_shows_progress_at_a_terminal(s3_bucket):
    root = f"s3://{s3_bucket}/alertrec"
    storage = storage_for(root)
    # the crashed night: a day half rewritten (old file + a dead run's file, no _SUCCESS) and its lock left behind
    for tag, kill_at in (("old", "-1"), ("crashed", "2")):
        subprocess.run(
            [sys.executable, "-m", "tests.ops.publish_child", root, tag, f"run-{tag}", kill_at], cwd=REPO, timeout=120
        )
    subprocess.run([sys.executable, "-c", _DEAD_HOLDER, root, FIXTURE_DAY], cwd=REPO, timeout=120)
    assert not storage.exists(success_path(DAY)) and len(storage.list(day_dir(DAY))) == 2
    assert storage.exists(lock_path(DAY))

    code, out, terminal = _on_a_terminal(
        [sys.executable, NIGHTLY, "--input", str(FIXTURES), "--output", root, "--date", FIXTURE_DAY, *SPARK_ARGS]
    )
    assert code == 0, terminal[-3000:]
    # healed: exactly the new run's files, whole, and no lock left
    rows = check_recommendations(read_published_day(storage, DAY), top_k=5)
    assert len(storage.list(day_dir(DAY))) == 2 and not storage.exists(lock_path(DAY))
    # at a terminal: short lines, a redrawn status line naming the running stage, the summary on stdout
    assert re.search(
        r"WARNING: took over the lock \S+ from run run-crashed on host .* its process .* is gone", terminal
    ), terminal[-3000:]
    assert "\r\x1b[2K" in terminal
    assert re.search(r"\r\x1b\[2K[|/\\-] extract \d+:\d\d", terminal), terminal[-3000:]
    assert not PLAIN_LINE.search(terminal)
    lines = out.splitlines()
    assert lines[0] == f"published {FIXTURE_DAY} -> {root}/recommendations/dt={FIXTURE_DAY}"
    assert f"  {len(rows)} recommendations for " in out
    assert re.search(r"^  stages: .*extract [\d.]+ s.*\(total [\d.]+ s\)$", out, re.M), out


# --------------------------------------------------------------------------
# the real job killed while publishing
# --------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.spark
@pytest.mark.s3
def test_the_real_job_killed_while_publishing_is_healed_by_a_rerun(s3_bucket):
    root = f"s3://{s3_bucket}/alertrec"
    storage = storage_for(root)
    args = ["--input", str(FIXTURES), "--output", root, "--date", FIXTURE_DAY, *SPARK_ARGS]
    killed = subprocess.run(
        [sys.executable, "-m", "tests.ops.job_child", "_SUCCESS", NIGHTLY, *args],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    files = storage.list(day_dir(DAY))
    assert files and not storage.exists(success_path(DAY)), files  # data written, no _SUCCESS: unpublished
    assert storage.exists(lock_path(DAY))
    # cron logs: plain, time-stamped lines, no terminal control characters
    assert "\r" not in killed.stderr and "\x1b" not in killed.stderr
    assert re.search(r"INFO alertrec\.monitor: stage extract: started$", killed.stderr, re.M)

    rerun = _nightly(*args, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert rerun.stdout == ""
    assert re.search(r"INFO alertrec\.cli: published 2026-02-01 -> ", rerun.stderr)
    check_recommendations(read_published_day(storage, DAY), top_k=5)
    assert not storage.exists(lock_path(DAY))
