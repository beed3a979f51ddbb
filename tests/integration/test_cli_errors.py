"""CLI failures on bad input: one line, a non-zero exit, nothing published, no traceback."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from alertrec import cli
from alertrec import schema as S
from tests.conftest import FIXTURE_DAY, REPO

pytestmark = pytest.mark.spark


def _published(out) -> bool:
    return (out / S.RECOMMENDATIONS_DIR).exists()


def test_missing_input_folder_as_a_real_process(tmp_path):
    out = tmp_path / "warehouse"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "alertrec",
            "run",
            "--input",
            str(tmp_path / "nope"),
            "--output",
            str(out),
            "--date",
            FIXTURE_DAY,
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert proc.returncode == 3, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("alertrec: error: ") and "nope" in last, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not _published(out)


def test_missing_actions_dataset(spark, tmp_path, capsys):
    (tmp_path / "in" / "alerts").mkdir(parents=True)
    out = tmp_path / "warehouse"
    code = cli.main(["run", "--input", str(tmp_path / "in"), "--output", str(out), "--date", FIXTURE_DAY])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 3 and "actions" in err, err
    assert not _published(out)


def test_input_without_the_contract_columns(spark, tmp_path, capsys):
    root = tmp_path / "in"
    day = dt.date.fromisoformat(FIXTURE_DAY) - dt.timedelta(days=1)
    for dataset, schema in (("alerts", S.ALERTS_ARROW), ("actions", S.ACTIONS_ARROW)):
        folder = root / dataset / f"dt={day.isoformat()}"
        folder.mkdir(parents=True)
        if dataset == "actions":  # the event log lost its payload and user_id columns
            schema = pa.schema([f for f in schema if f.name not in (S.PAYLOAD, S.USER_ID)])
        pq.write_table(schema.empty_table(), folder / "part-0.parquet")
    out = tmp_path / "warehouse"
    code = cli.main(["run", "--input", str(root), "--output", str(out), "--date", FIXTURE_DAY])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 3, err
    assert S.PAYLOAD in err and S.USER_ID in err, err
    assert not _published(out)
