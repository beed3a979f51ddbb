"""Optional Glue Data Catalog registration of published days, so that Athena can query them.

A day is in the catalog exactly when it is published: :func:`register_partition`
runs after ``_SUCCESS`` is written, and :func:`unregister_partition` runs just
before a rerun deletes ``_SUCCESS`` (step 1 of the publish protocol, see
``alertrec.ops``), so an Athena query never sees a day that is being
rewritten.  Athena skips files whose names start with ``_`` or ``.``, so the
``_SUCCESS`` manifest in the partition's folder is not read as data.

The table is created on first use (an external Parquet table partitioned by
``dt`` string, located at ``s3://.../recommendations/``, columns from
``schema.RECOMMENDATIONS_ARROW``); the database must exist.  The Glue client
is made by :func:`alertrec.io.aws.client` on the output storage's boto3 session
(credentials, region), with the endpoint from ``AWS_ENDPOINT_URL_GLUE`` /
``AWS_ENDPOINT_URL`` set explicitly and the same retries and error phrases as
the S3 storage.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from alertrec import schema
from alertrec.errors import ConfigError, OutputError
from alertrec.io import aws
from alertrec.io.storage import S3Storage

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[a-z0-9_]{1,255}$")
SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
INPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"


@dataclass(frozen=True)
class GlueTarget:
    """The Glue database and table that receive the published days.

    Names are lowercase letters, digits and ``_`` (what Athena accepts).
    """

    database: str
    table: str

    def __post_init__(self) -> None:
        for flag, value in (("--glue-database", self.database), ("--glue-table", self.table)):
            if not isinstance(value, str) or not _NAME.match(value):
                raise ConfigError(f"{flag} must be lowercase letters, digits and '_' (Athena's rule), got {value!r}")

    def __str__(self) -> str:
        return f"{self.database}.{self.table}"


def athena_type(arrow_type: pa.DataType) -> str:
    """The Hive/Athena type of an Arrow type of the recommendations schema."""
    if pa.types.is_int64(arrow_type):
        return "bigint"
    if pa.types.is_int32(arrow_type):
        return "int"
    if pa.types.is_float64(arrow_type):
        return "double"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "string"
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    raise TypeError(f"no Athena type for {arrow_type}")


def table_columns() -> list[dict[str, str]]:
    """The Glue column list of the recommendations table (without the partition key)."""
    return [{"Name": f.name, "Type": athena_type(f.type)} for f in schema.RECOMMENDATIONS_ARROW]


def _client(storage: S3Storage) -> Any:
    """A Glue client on the output storage's session, with its retries (endpoint: ``AWS_ENDPOINT_URL_GLUE``)."""
    return aws.client("glue", storage.boto3_session, storage.retries)


def _location(storage: S3Storage) -> str:
    return storage.url(schema.RECOMMENDATIONS_DIR).rstrip("/") + "/"


def _storage_descriptor(location: str, with_columns: bool = True) -> dict[str, Any]:
    sd: dict[str, Any] = {
        "Location": location,
        "InputFormat": INPUT_FORMAT,
        "OutputFormat": OUTPUT_FORMAT,
        "SerdeInfo": {"SerializationLibrary": SERDE, "Parameters": {"serialization.format": "1"}},
        "Compressed": False,
    }
    if with_columns:
        sd["Columns"] = table_columns()
    return sd


def ensure_table(target: GlueTarget, storage: S3Storage, client: Any = None) -> bool:
    """Create the table if it does not exist; True when it was created.

    Raises
    ------
    OutputError
        The database does not exist, the table exists at another location,
        or Glue refuses (one line).
    """
    from alertrec.io.publish import schema_fingerprint

    client = client or _client(storage)
    location = _location(storage)
    try:
        client.get_database(Name=target.database)
    except Exception as exc:
        if aws.is_entity_not_found(exc):
            raise OutputError(
                f"Glue database {target.database} does not exist; create it first "
                f"(aws glue create-database --database-input Name={target.database})"
            ) from None
        raise OutputError(f"cannot read Glue database {target.database}: {aws.describe(exc)}") from exc
    try:
        table = client.get_table(DatabaseName=target.database, Name=target.table)["Table"]
    except Exception as exc:
        if not aws.is_entity_not_found(exc):
            raise OutputError(f"cannot read Glue table {target}: {aws.describe(exc)}") from exc
        table = None
    if table is not None:
        existing = table.get("StorageDescriptor", {}).get("Location", "").rstrip("/") + "/"
        if existing != location:
            raise OutputError(
                f"Glue table {target} points at {existing}, not at this run's {location}; "
                "use another --glue-table or fix the table"
            )
        return False
    try:
        client.create_table(
            DatabaseName=target.database,
            TableInput={
                "Name": target.table,
                "Description": "alertrec recommendations: one partition per published day (dt=YYYY-MM-DD)",
                "TableType": "EXTERNAL_TABLE",
                "Parameters": {
                    "classification": "parquet",
                    "EXTERNAL": "TRUE",
                    "alertrec_schema_fingerprint": schema_fingerprint(),
                },
                "PartitionKeys": [{"Name": schema.DT, "Type": "string"}],
                "StorageDescriptor": _storage_descriptor(location),
            },
        )
    except Exception as exc:
        if aws.is_already_exists(exc):  # a concurrent run of another day created it
            return False
        raise OutputError(f"cannot create Glue table {target}: {aws.describe(exc)}") from exc
    log.info("created Glue table %s at %s", target, location)
    return True


def register_partition(target: GlueTarget, storage: S3Storage, day: dt.date) -> dict[str, Any]:
    """Add (or repoint) partition ``dt=D`` of the table; run it after ``_SUCCESS`` is written.

    Returns
    -------
    dict
        ``{"table": "db.table", "partition": "dt=D", "location": ..., "table_created": bool}``.
    """
    client = _client(storage)
    created = ensure_table(target, storage, client)
    location = f"{_location(storage)}{schema.DT}={day.isoformat()}/"
    partition = {"Values": [day.isoformat()], "StorageDescriptor": _storage_descriptor(location)}
    try:
        client.create_partition(DatabaseName=target.database, TableName=target.table, PartitionInput=partition)
    except Exception as exc:
        if not aws.is_already_exists(exc):
            raise OutputError(f"cannot register {schema.DT}={day} in Glue table {target}: {aws.describe(exc)}") from exc
        try:
            client.update_partition(
                DatabaseName=target.database,
                TableName=target.table,
                PartitionValueList=[day.isoformat()],
                PartitionInput=partition,
            )
        except Exception as exc2:
            raise OutputError(f"cannot update {schema.DT}={day} in Glue table {target}: {aws.describe(exc2)}") from exc2
    log.info("registered %s=%s in Glue table %s (%s)", schema.DT, day, target, location)
    return {
        "table": str(target),
        "partition": f"{schema.DT}={day.isoformat()}",
        "location": location,
        "table_created": created,
    }


def unregister_partition(target: GlueTarget, storage: S3Storage, day: dt.date) -> bool:
    """Remove partition ``dt=D`` from the table if it is there; True when one was removed."""
    client = _client(storage)
    try:
        client.delete_partition(DatabaseName=target.database, TableName=target.table, PartitionValues=[day.isoformat()])
    except Exception as exc:
        if aws.is_entity_not_found(exc):  # no such partition, table or database
            return False
        raise OutputError(f"cannot remove {schema.DT}={day} from Glue table {target}: {aws.describe(exc)}") from exc
    log.info("removed %s=%s from Glue table %s while the day is rewritten", schema.DT, day, target)
    return True
