"""``--input s3://...`` with a local Spark: the window's partitions are copied into a bounded local cache.

Against moto's server (tests/conftest.py) with the bundled fixtures uploaded.
"""

from __future__ import annotations

import json
import os

import boto3
import pytest

from alertrec import cli
from alertrec import schema as S
from alertrec.config import Config
from alertrec.io import s3_input
from alertrec.io.inputs import read_inputs
from alertrec.io.s3_input import copy_window
from tests.conftest import FIXTURE_DAY, FIXTURES

pytestmark = [pytest.mark.s3, pytest.mark.spark]

RANGES = {S.DATASET_ALERTS: ("2026-01-28", FIXTURE_DAY), S.DATASET_ACTIONS: ("2026-01-29", FIXTURE_DAY)}


@pytest.fixture()
def s3_root(s3_bucket, s3_server):
    """The bundled fixtures under s3://<bucket>/events."""
    client = boto3.client("s3", endpoint_url=s3_server)
    for path in sorted(FIXTURES.rglob("*.parquet")):
        key = "events/" + path.relative_to(FIXTURES).as_posix()
        client.put_object(Bucket=s3_bucket, Key=key, Body=path.read_bytes())
    return f"s3://{s3_bucket}/events"


def _local_days(local, dataset):
    return sorted(p.name for p in (local / dataset).iterdir())


def _count_downloads(monkeypatch):
    seen = []
    real = s3_input._sync_day

    def spy(client, bucket, key_prefix, folder, meta_path):
        downloaded, kept = real(client, bucket, key_prefix, folder, meta_path)
        seen.append((key_prefix, downloaded, kept))
        return downloaded, kept

    monkeypatch.setattr(s3_input, "_sync_day", spy)
    return seen


def test_only_the_window_is_copied_and_a_second_copy_downloads_nothing(s3_root, tmp_path, monkeypatch):
    from pathlib import Path

    seen = _count_downloads(monkeypatch)
    local = Path(copy_window(s3_root, RANGES, cache_dir=str(tmp_path / "cache")))
    assert _local_days(local, S.DATASET_ALERTS) == [f"dt=2026-01-{d}" for d in (28, 29, 30, 31)] + [f"dt={FIXTURE_DAY}"]
    assert _local_days(local, S.DATASET_ACTIONS) == [f"dt=2026-01-{d}" for d in (29, 30, 31)] + [f"dt={FIXTURE_DAY}"]
    copied = local / S.DATASET_ACTIONS / "dt=2026-01-30" / "part-0.parquet"
    assert copied.read_bytes() == (FIXTURES / S.DATASET_ACTIONS / "dt=2026-01-30" / "part-0.parquet").read_bytes()
    assert sum(d for _k, d, _kept in seen) == 9
    seen.clear()
    assert Path(copy_window(s3_root, RANGES, cache_dir=str(tmp_path / "cache"))) == local
    assert sum(d for _k, d, _kept in seen) == 0 and sum(k for _k, _d, k in seen) == 9


def test_a_changed_object_is_downloaded_again_and_a_removed_one_leaves_the_copy(s3_root, s3_server, tmp_path):
    from pathlib import Path

    bucket = s3_root.split("/")[2]
    client = boto3.client("s3", endpoint_url=s3_server)
    local = Path(copy_window(s3_root, RANGES, cache_dir=str(tmp_path / "cache")))
    key = f"events/{S.DATASET_ACTIONS}/dt=2026-01-30/part-0.parquet"
    client.put_object(Bucket=bucket, Key=key, Body=b"new bytes")  # another size and ETag
    client.put_object(Bucket=bucket, Key=f"events/{S.DATASET_ACTIONS}/dt=2026-01-30/part-1.parquet", Body=b"x")
    client.delete_object(Bucket=bucket, Key=f"events/{S.DATASET_ACTIONS}/dt=2026-01-31/part-0.parquet")
    copy_window(s3_root, RANGES, cache_dir=str(tmp_path / "cache"))
    assert (local / S.DATASET_ACTIONS / "dt=2026-01-30" / "part-0.parquet").read_bytes() == b"new bytes"
    assert (local / S.DATASET_ACTIONS / "dt=2026-01-30" / "part-1.parquet").read_bytes() == b"x"
    assert not (local / S.DATASET_ACTIONS / "dt=2026-01-31" / "part-0.parquet").exists()


def test_least_recently_used_days_beyond_the_bound_are_evicted(s3_root, tmp_path):
    from pathlib import Path

    cache = str(tmp_path / "cache")
    early = {S.DATASET_ALERTS: ("2026-01-10", "2026-01-12"), S.DATASET_ACTIONS: ("2026-01-10", "2026-01-12")}
    local = Path(copy_window(s3_root, early, cache_dir=cache, max_bytes=10**9))
    assert _local_days(local, S.DATASET_ACTIONS) == ["dt=2026-01-10", "dt=2026-01-11", "dt=2026-01-12"]
    copy_window(s3_root, RANGES, cache_dir=cache, max_bytes=1)  # the bound: only the current window stays
    assert _local_days(local, S.DATASET_ACTIONS) == [f"dt=2026-01-{d}" for d in (29, 30, 31)] + [f"dt={FIXTURE_DAY}"]
    index = json.loads((tmp_path / "cache" / "index.json").read_text())
    assert all("2026-01-1" not in folder for folder in index["days"])


def test_read_inputs_with_a_local_master_reads_the_copy(spark, s3_root, tmp_path):
    config = Config(
        input_root=s3_root,
        output_root=str(tmp_path / "out"),
        date=FIXTURE_DAY,
        history_days=3,
        input_cache_dir=str(tmp_path / "cache"),
    )
    alerts, actions, info = read_inputs(spark, config)
    local = Config(input_root=str(FIXTURES), output_root=str(tmp_path / "out"), date=FIXTURE_DAY, history_days=3)
    _a, _b, local_info = read_inputs(spark, local)
    assert info["input_root"] == s3_root and info["local_copy"].startswith(str(tmp_path / "cache"))
    for dataset in (S.DATASET_ALERTS, S.DATASET_ACTIONS):
        assert info[dataset]["rows"] == local_info[dataset]["rows"] > 0
        assert info[dataset]["partitions"] == local_info[dataset]["partitions"]
        assert info[dataset]["path"] == f"{s3_root}/{dataset}"
    assert actions.count() == info[S.DATASET_ACTIONS]["rows"] and alerts.count() == info[S.DATASET_ALERTS]["rows"]


def test_the_cli_runs_a_day_from_s3_input(spark, s3_root, tmp_path, capsys):
    out = tmp_path / "warehouse"
    code = cli.main(
        [
            "run",
            "--input",
            s3_root,
            "--output",
            str(out),
            "--date",
            FIXTURE_DAY,
            "--history-days",
            "3",
            "--ranker",
            "popularity",
            "--workers",
            "1",
            "--input-cache-dir",
            str(tmp_path / "cache"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    assert (out / S.RECOMMENDATIONS_DIR / f"dt={FIXTURE_DAY}" / S.SUCCESS_MARKER).exists()
    (report_file,) = (out / S.RUNS_DIR).glob("*.json")
    report = json.loads(report_file.read_text())
    assert report["inputs"]["input_root"] == s3_root and report["rows"][S.DATASET_ACTIONS]["reconciled"]


def test_a_missing_bucket_is_one_input_error(s3_server, tmp_path, capsys):
    code = cli.main(
        [
            "run",
            "--input",
            "s3://alertrec-no-such-bucket/events",
            "--output",
            str(tmp_path / "w"),
            "--date",
            FIXTURE_DAY,
            "--input-cache-dir",
            str(tmp_path / "cache"),
        ]
    )
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert (
        code == 3
        and last == "alertrec: error: cannot list the input s3://alertrec-no-such-bucket/events: bucket does not exist"
    )
    assert os.path.isdir(tmp_path / "w") is False or not (tmp_path / "w" / S.RECOMMENDATIONS_DIR).exists()
