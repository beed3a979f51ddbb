"""Glue Data Catalog registration of published days (alertrec/io/glue.py), against moto."""

from __future__ import annotations

import datetime as dt
import os

import boto3
import pytest

from alertrec import schema as S
from alertrec.errors import ConfigError, OutputError
from alertrec.io.glue import GlueTarget, register_partition, unregister_partition
from alertrec.io.storage import storage_for

pytestmark = pytest.mark.s3

D = dt.date(2026, 2, 1)


@pytest.fixture()
def glue(s3_server):
    return boto3.client("glue", endpoint_url=os.environ["AWS_ENDPOINT_URL"])


@pytest.fixture()
def target(glue, s3_bucket) -> GlueTarget:
    name = s3_bucket.replace("-", "_")
    glue.create_database(DatabaseInput={"Name": name})
    return GlueTarget(database=name, table="recommendations")


def test_first_registration_creates_the_table_and_the_partition(glue, target, s3_bucket):
    storage = storage_for(f"s3://{s3_bucket}/alertrec")
    out = register_partition(target, storage, D)
    assert out == {
        "table": f"{target.database}.recommendations",
        "partition": "dt=2026-02-01",
        "location": f"s3://{s3_bucket}/alertrec/recommendations/dt=2026-02-01/",
        "table_created": True,
    }
    table = glue.get_table(DatabaseName=target.database, Name=target.table)["Table"]
    sd = table["StorageDescriptor"]
    assert sd["Location"] == f"s3://{s3_bucket}/alertrec/recommendations/"
    assert [(c["Name"], c["Type"]) for c in sd["Columns"]] == [
        ("account_id", "bigint"),
        ("alert_id", "string"),
        ("rank", "int"),
        ("item_type", "string"),
        ("item_id", "string"),
        ("item_label", "string"),
        ("score", "double"),
        ("reason", "string"),
        ("model_version", "string"),
        ("generated_at", "timestamp"),
    ]
    assert [c["Name"] for c in sd["Columns"]] == list(S.RECOMMENDATION_COLUMNS)
    assert table["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    assert sd["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
    part = glue.get_partition(DatabaseName=target.database, TableName=target.table, PartitionValues=["2026-02-01"])
    assert part["Partition"]["StorageDescriptor"]["Location"] == out["location"]


def test_registering_again_and_another_day_keeps_one_table(glue, target, s3_bucket):
    storage = storage_for(f"s3://{s3_bucket}/alertrec")
    register_partition(target, storage, D)
    again = register_partition(target, storage, D)
    other = register_partition(target, storage, D + dt.timedelta(days=1))
    assert not again["table_created"] and not other["table_created"]
    parts = glue.get_partitions(DatabaseName=target.database, TableName=target.table)["Partitions"]
    assert sorted(p["Values"][0] for p in parts) == ["2026-02-01", "2026-02-02"]


def test_unregister_removes_only_that_day(glue, target, s3_bucket):
    storage = storage_for(f"s3://{s3_bucket}/alertrec")
    assert unregister_partition(target, storage, D) is False  # no table yet: nothing to do
    register_partition(target, storage, D)
    register_partition(target, storage, D + dt.timedelta(days=1))
    assert unregister_partition(target, storage, D) is True
    assert unregister_partition(target, storage, D) is False
    parts = glue.get_partitions(DatabaseName=target.database, TableName=target.table)["Partitions"]
    assert [p["Values"] for p in parts] == [["2026-02-02"]]


def test_a_missing_database_is_one_line_that_says_how_to_fix_it(s3_server, s3_bucket):
    with pytest.raises(OutputError) as info:
        register_partition(GlueTarget("no_such_db", "t"), storage_for(f"s3://{s3_bucket}/x"), D)
    assert str(info.value) == (
        "Glue database no_such_db does not exist; create it first "
        "(aws glue create-database --database-input Name=no_such_db)"
    )


def test_a_table_of_another_location_is_not_hijacked(target, s3_bucket):
    register_partition(target, storage_for(f"s3://{s3_bucket}/first"), D)
    with pytest.raises(OutputError, match=r"points at s3://.*/first/recommendations/, not at this run's"):
        register_partition(target, storage_for(f"s3://{s3_bucket}/second"), D)


@pytest.mark.parametrize("database, table", [("Alerts", "t"), ("db", "my-table"), ("", "t")])
def test_names_athena_cannot_use_are_config_errors(database, table):
    with pytest.raises(ConfigError):
        GlueTarget(database, table)
