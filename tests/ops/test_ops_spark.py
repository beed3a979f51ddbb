"""The real pipeline under run_day_guarded, in-process on the session's Spark.

On S3 through the faulty proxy (a share of the S3 requests fail) with the lock
and Glue; and the day's input check against an empty partition.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from alertrec.config import Config
from alertrec.errors import InputError
from alertrec.io.glue import GlueTarget
from alertrec.io.lock import lock_path
from alertrec.io.storage import storage_for
from alertrec.ops import run_day_guarded
from tests.conftest import FIXTURE_DAY, FIXTURES
from tests.ops.faults import FaultyProxy
from tests.ops.helpers import DAY, INPUT_DAY, fixture_copy, glue_database, glue_partitions
from tests.output_contract import check_recommendations, read_published_day

pytestmark = pytest.mark.spark

GENERATED = dt.datetime(2026, 2, 1, 3, 0, tzinfo=dt.UTC)


@pytest.mark.s3
def test_nightly_run_on_s3_with_faults_lock_and_glue(spark, s3_bucket, s3_server, monkeypatch):
    root = f"s3://{s3_bucket}/alertrec"
    target = GlueTarget(glue_database(s3_bucket), "recommendations")
    config = Config(input_root=str(FIXTURES), output_root=root, date=FIXTURE_DAY, top_k=5, generated_at=GENERATED)
    with FaultyProxy(s3_server, rate=0.25, seed=5) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.url)
        report = run_day_guarded(config, spark=spark, glue=target)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server)
    assert sum(proxy.injected.values()) >= 3, proxy.injected
    assert report["status"] == "published"
    storage = storage_for(root)  # straight to moto
    rows = check_recommendations(read_published_day(storage, DAY), top_k=5, generated_at=GENERATED)
    assert len(rows) == report["output"]["rows"]
    assert glue_partitions(target.database, target.table) == {FIXTURE_DAY: f"{root}/recommendations/dt={FIXTURE_DAY}/"}
    assert not storage.exists(lock_path(DAY))
    saved = json.loads(storage.read_bytes(f"runs/{config.run_id}.json"))
    assert saved["glue"]["table"] == str(target) and saved["lock"]["url"].endswith(lock_path(DAY))
    assert saved["input_check"]["day"] == INPUT_DAY and saved["input_check"]["actions"]["files"] >= 1


@pytest.mark.parametrize("dataset", ["actions", "alerts"])
def test_an_empty_partition_for_the_day_is_an_input_error(spark, tmp_path, dataset):
    root = fixture_copy(tmp_path / "in", empty=(dataset, INPUT_DAY))
    out = tmp_path / "warehouse"
    config = Config(input_root=str(root), output_root=str(out), date=FIXTURE_DAY)
    with pytest.raises(InputError) as info:
        run_day_guarded(config, spark=spark)
    assert str(info.value).startswith(
        f"the day's input is empty: {dataset} partition {root}/{dataset}/dt={INPUT_DAY} holds no rows; "
    )
    assert info.value.exit_code == 3
    assert not (out / "recommendations").exists()
