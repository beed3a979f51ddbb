"""Helpers of the operations tests: inputs with a day missing or empty, a Glue database."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pyarrow.parquet as pq

from alertrec import schema as S
from tests.conftest import FIXTURE_DAY, FIXTURES

DAY = dt.date.fromisoformat(FIXTURE_DAY)
INPUT_DAY = (DAY - dt.timedelta(days=1)).isoformat()  # the partition the run for DAY needs complete


def fixture_copy(root: Path, *, drop: tuple[str, str] | None = None, empty: tuple[str, str] | None = None) -> Path:
    """The bundled fixtures as symlinks under ``root``, with one (dataset, dt) partition dropped or emptied."""
    for dataset, arrow in ((S.DATASET_ALERTS, S.ALERTS_ARROW), (S.DATASET_ACTIONS, S.ACTIONS_ARROW)):
        (root / dataset).mkdir(parents=True)
        for part in sorted((FIXTURES / dataset).iterdir()):
            day = part.name.split("=", 1)[-1]
            if drop == (dataset, day):
                continue
            if empty == (dataset, day):
                (root / dataset / part.name).mkdir()
                pq.write_table(arrow.empty_table(), root / dataset / part.name / "part-0.parquet")
                continue
            os.symlink(part, root / dataset / part.name)
    return root


def glue_database(name: str) -> str:
    import boto3

    db = name.replace("-", "_")
    boto3.client("glue", endpoint_url=os.environ["AWS_ENDPOINT_URL"]).create_database(DatabaseInput={"Name": db})
    return db


def glue_partitions(database: str, table: str) -> dict[str, str]:
    """dt value -> location of every partition of the table."""
    import boto3

    client = boto3.client("glue", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    parts = client.get_partitions(DatabaseName=database, TableName=table)["Partitions"]
    return {p["Values"][0]: p["StorageDescriptor"]["Location"] for p in parts}
