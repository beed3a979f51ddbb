"""The EMR step entry point ``jobs/run_day_step.py`` under the real ``spark-submit --master local[2]``.

The output is ``s3://`` (moto) and the day is registered in Glue (moto), as the
EMR step in docs/emr.md does; the input stays local (a local Spark has no
s3a:// jars). The job must run on the master spark-submit names, not on the
CLI's default ``local[*]``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from alertrec.io.lock import lock_path
from alertrec.io.storage import storage_for
from tests.conftest import FIXTURE_DAY, FIXTURES, REPO
from tests.ops.helpers import DAY, glue_database, glue_partitions
from tests.output_contract import check_recommendations, read_published_day

pytestmark = [pytest.mark.spark, pytest.mark.s3]

SPARK_SUBMIT = Path(sys.executable).parent / "spark-submit"


def test_emr_step_runs_under_spark_submit_to_s3_and_glue(s3_bucket):
    assert SPARK_SUBMIT.exists(), "pyspark's spark-submit is missing from the venv"
    root = f"s3://{s3_bucket}/alertrec"
    database = glue_database(s3_bucket)
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
    proc = subprocess.run(
        [
            str(SPARK_SUBMIT),
            "--master",
            "local[2]",
            "--driver-memory",
            "1g",
            "--conf",
            "spark.ui.enabled=false",
            "jobs/run_day_step.py",
            "--input",
            str(FIXTURES),
            "--output",
            root,
            "--date",
            FIXTURE_DAY,
            "--top-k",
            "5",
            "--glue-database",
            database,
            "--glue-table",
            "recommendations",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    storage = storage_for(root)
    rows = check_recommendations(read_published_day(storage, DAY), top_k=5)
    (report_path,) = [p for p in storage.list("runs") if p.endswith(".json")]
    report = json.loads(storage.read_bytes(report_path))
    assert report["status"] == "published" and report["output"]["rows"] == len(rows)
    assert report["settings"]["spark_master"] == "local[2]"  # spark-submit's master, not the CLI default
    assert glue_partitions(database, "recommendations") == {FIXTURE_DAY: f"{root}/recommendations/dt={FIXTURE_DAY}/"}
    assert not storage.exists(lock_path(DAY))
    # EMR step logs: plain time-stamped lines, no terminal control characters. spark-submit's PythonRunner
    # merges the Python driver's stderr into its own stdout, so on EMR they are in the step's stdout log
    logs = proc.stdout + proc.stderr
    assert "\r" not in logs and "\x1b" not in logs
    assert re.search(
        r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO alertrec\.cli: published 2026-02-01 -> ", proc.stdout, re.M
    ), proc.stdout[-3000:]
    assert re.search(r"INFO alertrec\.io\.glue: registered dt=2026-02-01 in Glue table ", proc.stdout)
