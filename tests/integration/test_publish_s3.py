"""Storage and the publish protocol against S3 (moto's server on 127.0.0.1).

The same suites as the local tests (``StorageContract``, ``PublishContract``:
publish, rerun, other days untouched, crash injection at every step), plus
what is S3's own: the endpoint comes from ``AWS_ENDPOINT_URL_S3`` and the
objects are really there for any S3 client.
"""

from __future__ import annotations

import os

import boto3
import pytest

from alertrec.errors import OutputError
from alertrec.io.publish import day_dir, publish_day, read_day, success_path
from alertrec.io.storage import S3Storage, storage_for
from tests.unit.test_publish import D1, PublishContract, item_ids, recs
from tests.unit.test_storage_local import StorageContract

pytestmark = pytest.mark.s3


@pytest.fixture()
def s3_storage(s3_bucket) -> S3Storage:
    storage = storage_for(f"s3://{s3_bucket}/prefix")
    assert isinstance(storage, S3Storage)
    return storage


class TestS3Storage(StorageContract):
    @pytest.fixture()
    def storage(self, s3_storage) -> S3Storage:
        return s3_storage

    def test_check_writable_names_a_missing_bucket(self, s3_server):
        with pytest.raises(OutputError) as info:
            storage_for("s3://alertrec-no-such-bucket/prefix").check_writable()
        assert str(info.value) == "output s3://alertrec-no-such-bucket/prefix is not writable: bucket does not exist"

    def test_listing_a_missing_bucket_is_an_output_error(self, s3_server):
        with pytest.raises(OutputError, match="bucket does not exist"):
            storage_for("s3://alertrec-no-such-bucket/prefix").list("recommendations")

    def test_objects_outside_the_prefix_are_invisible_and_untouched(self, s3_bucket, s3_storage):
        client = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL_S3"])
        client.put_object(Bucket=s3_bucket, Key="prefix-sibling/recommendations/x", Body=b"1")
        client.put_object(Bucket=s3_bucket, Key="other/recommendations/x", Body=b"2")
        s3_storage.write_bytes("recommendations/x", b"3")
        assert s3_storage.list() == ["recommendations/x"]
        s3_storage.delete(["recommendations/x"])
        keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket)["Contents"])
        assert keys == ["other/recommendations/x", "prefix-sibling/recommendations/x"]

    def test_the_session_passed_in_is_the_one_used(self, s3_bucket):
        calls = []
        session = boto3.Session()
        real_client = session.client

        def spy_client(*args, **kwargs):
            calls.append(args[0] if args else kwargs.get("service_name"))
            return real_client(*args, **kwargs)

        session.client = spy_client
        storage = storage_for(f"s3://{s3_bucket}/prefix", boto3_session=session)
        storage.write_bytes("a", b"1")  # boto3 put_object
        assert calls == ["s3"]
        assert storage.read_bytes("a") == b"1"  # get, list and delete: the same client
        assert storage.list() == ["a"]
        storage.delete(["a"])
        assert calls == ["s3"]  # one client, made on that session, serves every call


class TestPublishS3(PublishContract):
    @pytest.fixture()
    def storage(self, s3_storage) -> S3Storage:
        return s3_storage


class TestEndpoint:
    def test_published_objects_are_visible_to_a_client_on_that_endpoint(self, s3_bucket, s3_storage):
        endpoint = os.environ["AWS_ENDPOINT_URL_S3"]
        assert s3_storage.endpoint_url == endpoint
        publish_day(s3_storage, recs("r1"), D1, "run-1")
        client = boto3.client("s3", endpoint_url=endpoint)
        keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket, Prefix="prefix/")["Contents"])
        assert keys == [
            "prefix/recommendations/dt=2026-02-01/_SUCCESS",
            "prefix/recommendations/dt=2026-02-01/part-run-1-00000.parquet",
        ]
        body = client.get_object(Bucket=s3_bucket, Key="prefix/" + success_path(D1))["Body"].read()
        assert body == s3_storage.read_bytes(success_path(D1))

    def test_no_process_wide_setting_is_changed(self, s3_storage, monkeypatch):
        import awswrangler as wr

        before = (wr.config.s3_endpoint_url, wr.config.botocore_config, dict(os.environ))
        publish_day(s3_storage, recs("r1"), D1, "run-1")
        assert s3_storage.exists(success_path(D1)) and s3_storage.list(day_dir(D1))
        assert item_ids(read_day(s3_storage, D1)) == ["r1-item-0", "r1-item-1", "r1-item-2"]
        s3_storage.delete([success_path(D1)])
        assert (wr.config.s3_endpoint_url, wr.config.botocore_config, dict(os.environ)) == before

    def test_a_published_day_reads_back_into_pandas_through_awswrangler(self, s3_storage):
        import json

        publish_day(s3_storage, recs("r1"), D1, "run-1")
        manifest = json.loads(s3_storage.read_bytes(success_path(D1)))
        frame = s3_storage.read_parquet_frame([f"{day_dir(D1)}/{name}" for name in manifest["files"]])
        assert frame["item_id"].tolist() == ["r1-item-0", "r1-item-1", "r1-item-2"]
        with pytest.raises(OutputError, match="cannot read 1 Parquet file"):
            s3_storage.read_parquet_frame([f"{day_dir(D1)}/no-such-file.parquet"])

    def test_endpoint_is_set_explicitly_not_left_to_boto3(self, s3_bucket, monkeypatch):
        # with this set, boto3 itself ignores AWS_ENDPOINT_URL*; only our explicit setting reaches moto
        monkeypatch.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
        storage = storage_for(f"s3://{s3_bucket}/prefix", boto3_session=boto3.Session())
        storage.check_writable()
        publish_day(storage, recs("r1"), D1, "run-1")
        assert item_ids(read_day(storage, D1)) == ["r1-item-0", "r1-item-1", "r1-item-2"]

    def test_s3_variable_wins_over_the_generic_one(self, s3_bucket, s3_server, monkeypatch):
        monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server)
        storage = storage_for(f"s3://{s3_bucket}/prefix")
        publish_day(storage, recs("r1"), D1, "run-1")
        assert storage.list(day_dir(D1)) == [f"{day_dir(D1)}/_SUCCESS", f"{day_dir(D1)}/part-run-1-00000.parquet"]

    def test_generic_variable_is_used_without_the_s3_one(self, s3_bucket, s3_server, monkeypatch):
        monkeypatch.delenv("AWS_ENDPOINT_URL_S3")
        monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server)
        storage = storage_for(f"s3://{s3_bucket}/prefix")
        assert storage.endpoint_url == s3_server
        storage.write_bytes("x", b"1")
        assert storage.read_bytes("x") == b"1"

    def test_a_wrong_endpoint_fails_in_one_line(self, s3_bucket, monkeypatch):
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
        storage = storage_for(f"s3://{s3_bucket}/prefix", boto3_session=boto3.Session())
        with pytest.raises(OutputError) as info:
            storage.check_writable()
        assert "\n" not in str(info.value)
        assert str(info.value).startswith(f"output s3://{s3_bucket}/prefix is not writable: ")
