"""The nightly job end to end on the bundled fixtures: twice locally, and (slow tier) twice on S3 (moto server)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from alertrec import schema as S
from alertrec.config import Config
from alertrec.io.storage import storage_for
from alertrec.pipeline import run_day
from tests.conftest import FIXTURE_DAY, FIXTURES
from tests.output_contract import (
    check_recommendations,
    definitions_with_history,
    read_published_day,
    without_run_stamp,
)

pytestmark = pytest.mark.spark

DAY = dt.date.fromisoformat(FIXTURE_DAY)


def _config(output: str, run: int) -> Config:
    return Config(
        input_root=str(FIXTURES),
        output_root=output,
        date=FIXTURE_DAY,
        top_k=5,
        generated_at=dt.datetime(2026, 2, 1, 3, run, tzinfo=dt.UTC),
    )


@pytest.fixture(scope="module")
def expected_definitions(spark) -> set[tuple[int, str]]:
    expected, n_fired = definitions_with_history(spark, _config("unused", 0))
    assert len(expected) >= 10 and len(expected) < n_fired  # the fixtures have both kinds
    return expected


def _run_twice_and_check(spark, output: str, expected: set[tuple[int, str]]) -> tuple[dict, dict]:
    storage = storage_for(output)
    first = run_day(_config(output, 0), spark=spark)
    rows1 = check_recommendations(
        read_published_day(storage, DAY), top_k=5, generated_at=_config(output, 0).generated_at, fired=expected
    )
    second = run_day(_config(output, 1), spark=spark)
    table2 = read_published_day(storage, DAY)
    rows2 = check_recommendations(table2, top_k=5, generated_at=_config(output, 1).generated_at, fired=expected)
    # a rerun replaces the day whole: same rows, no duplicates, only the second run's stamp
    assert without_run_stamp(rows1).equals(without_run_stamp(rows2))
    assert len(rows2) == second["output"]["rows"] == first["output"]["rows"]
    for report in (first, second):
        assert report["status"] == "published"
        for dataset in (S.DATASET_ALERTS, S.DATASET_ACTIONS):
            counts = report["rows"][dataset]
            assert counts["reconciled"], counts
            assert counts["read"] == counts["used"] + counts["quarantined"] + counts["ignored"]
    # the reports are written under runs/ and say the same
    saved = json.loads(storage.read_bytes(f"{S.RUNS_DIR}/{second['run_id']}.json"))
    assert saved["rows"] == second["rows"] and saved["status"] == "published"
    assert saved["peak_memory_bytes"] > 0 and set(saved["timings_s"]) >= {
        "read",
        "extract",
        "prepare",
        "finish",
        "publish",
    }
    return first, second


@pytest.fixture(scope="module")
def local_twice(spark, tmp_path_factory, expected_definitions):
    """The fixture day run twice into a local warehouse that holds another day: (first report, root)."""
    out = tmp_path_factory.mktemp("local") / "warehouse"
    # another day published earlier must stay untouched by runs of DAY
    other = storage_for(str(out))
    other.write_bytes(f"{S.RECOMMENDATIONS_DIR}/dt=2026-01-31/part-x.parquet", b"other day")
    other.write_bytes(f"{S.RECOMMENDATIONS_DIR}/dt=2026-01-31/_SUCCESS", b"{}")
    first, _ = _run_twice_and_check(spark, str(out), expected_definitions)
    return first, out


def test_fixture_run_twice_locally_gives_identical_rows(local_twice, expected_definitions):
    first, out = local_twice
    other = storage_for(str(out))
    assert other.read_bytes(f"{S.RECOMMENDATIONS_DIR}/dt=2026-01-31/part-x.parquet") == b"other day"
    rank = first["stages"]["rank"]
    assert rank["definitions_with_rows"] == len(expected_definitions)
    assert first["sessions"]["sessions"] > 0
    # the fixtures' dirt is quarantined and counted, not lost
    quarantined = first["rows"][S.DATASET_ACTIONS]["by_reason"][S.QUARANTINED]
    for reason in (S.R_NULL_USER, S.R_MALFORMED_PAYLOAD, S.R_MISSING_PAYLOAD_FIELD, S.R_ORPHAN_OPEN):
        assert quarantined.get(reason, 0) > 0, reason
    ignored = first["rows"][S.DATASET_ACTIONS]["by_reason"][S.IGNORED]
    for reason in (S.R_DUPLICATE, S.R_UNKNOWN_ACTION, S.R_AFTER_WINDOW):
        assert ignored.get(reason, 0) > 0, reason


# slow tier: in CI the EMR step test (test_engines) publishes to S3 and Glue and must equal the
# local day, test_ops_spark runs the fixtures to S3 through faults, and test_kill_publish reruns a
# day over a half-published one on S3; this one adds the fixture day run twice on S3
@pytest.mark.slow
@pytest.mark.s3
def test_fixture_run_twice_on_s3_gives_identical_rows(spark, s3_bucket, local_twice, expected_definitions):
    import os

    import boto3

    output = f"s3://{s3_bucket}/alertrec"
    _run_twice_and_check(spark, output, expected_definitions)
    # the objects really are on the moto server behind AWS_ENDPOINT_URL_S3
    client = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL_S3"])
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket, Prefix="alertrec/recommendations/")["Contents"]]
    assert f"alertrec/recommendations/dt={FIXTURE_DAY}/_SUCCESS" in keys
    # same rows as the local runs of the same day
    rows_s3 = read_published_day(storage_for(output), DAY).to_pandas()
    rows_local = read_published_day(storage_for(str(local_twice[1])), DAY).to_pandas()
    assert without_run_stamp(rows_s3).equals(without_run_stamp(rows_local))
