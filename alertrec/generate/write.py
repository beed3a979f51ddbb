"""Writing a world's inputs as the contract lays them out: one Parquet file per dataset and ``dt``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from alertrec import schema
from alertrec.generate.spec import World

log = logging.getLogger(__name__)

PARQUET_COMPRESSION = "snappy"


def write_world(world: World, root: str | Path) -> None:
    """Write the world's inputs as the contract lays them out.

    Writes ``root/alerts/dt=YYYY-MM-DD/part-0.parquet`` and
    ``root/actions/dt=YYYY-MM-DD/part-0.parquet``, one file per ``dt``, with
    exactly ``schema.ALERTS_ARROW`` / ``schema.ACTIONS_ARROW`` (no pandas
    metadata; ``dt`` only in the folder name). Rows keep the frame's order, so
    the same world always gives byte-identical files. A partition that exists
    already is overwritten; other partitions under ``root`` are left alone.

    Parameters
    ----------
    world : World
        What to write (its ``alerts`` and ``actions``; the truth stays in memory).
    root : str or pathlib.Path
        Local folder; created if needed.
    """
    root = Path(root)
    _write_dataset(world.alerts, schema.ALERT_COLUMNS, schema.ALERTS_ARROW, root / schema.DATASET_ALERTS)
    _write_dataset(world.actions, schema.ACTION_COLUMNS, schema.ACTIONS_ARROW, root / schema.DATASET_ACTIONS)
    log.info("wrote %d alert rows and %d action rows under %s", len(world.alerts), len(world.actions), root)


def _write_dataset(frame: pd.DataFrame, columns: Sequence[str], arrow_schema: pa.Schema, folder: Path) -> None:
    for day, part in frame.groupby(schema.DT, sort=True):
        table = pa.Table.from_pandas(part[list(columns)], schema=arrow_schema, preserve_index=False)
        table = table.replace_schema_metadata(None)
        path = folder / f"{schema.DT}={day}" / "part-0.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path, compression=PARQUET_COMPRESSION)
