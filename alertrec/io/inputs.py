"""Read the contract's inputs, ``ROOT/alerts/`` and ``ROOT/actions/``, with Spark.

Both are Hive-partitioned Parquet (``dt=YYYY-MM-DD/``). Only the partitions a run needs are
read (docs/frames.md, "Reading"): actions ``dt`` in [window_start day, D] (events from before
``D`` can arrive late, up to ``D``), alerts ``dt`` in [alerts_from day, D]. The partition column
stays a string (``build_spark`` turns partition type inference off and ``basePath`` keeps it).
Narrower integer ids and timestamps without a time zone (read as UTC) are accepted and cast to
the contract's int64 / timestamp; any other type of a contract column is an InputError.
"""

from __future__ import annotations

import logging
import os
import re

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from alertrec import schema as s
from alertrec.config import Config
from alertrec.errors import InputError

log = logging.getLogger(__name__)

ALERTS_DIR = s.DATASET_ALERTS
ACTIONS_DIR = s.DATASET_ACTIONS

_INTEGER = (T.LongType, T.IntegerType, T.ShortType, T.ByteType)
_TIMESTAMP = (T.TimestampType, T.TimestampNTZType)
# column -> (accepted Spark types, the type it is cast to, how the contract names it)
_CONTRACT_TYPES = {
    s.ACCOUNT_ID: (_INTEGER, T.LongType(), "int64"),
    s.ALERT_EVENT_ID: ((T.StringType,), T.StringType(), "string"),
    s.ALERT_ID: ((T.StringType,), T.StringType(), "string"),
    s.ALERT_TITLE: ((T.StringType,), T.StringType(), "string"),
    s.SEVERITY: ((T.StringType,), T.StringType(), "string"),
    s.FIRED_AT: (_TIMESTAMP, T.TimestampType(), "timestamp"),
    s.EVENT_ID: ((T.StringType,), T.StringType(), "string"),
    s.USER_ID: ((T.StringType,), T.StringType(), "string"),
    s.TS: (_TIMESTAMP, T.TimestampType(), "timestamp"),
    s.ACTION: ((T.StringType,), T.StringType(), "string"),
    s.PAYLOAD: ((T.StringType,), T.StringType(), "string"),
}
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_PARTITION = re.compile(r"/" + re.escape(s.DT) + r"=(\d{4}-\d{2}-\d{2})/")  # other folders are not days


def read_inputs(spark: SparkSession, config: Config) -> tuple[DataFrame, DataFrame, dict]:
    """Read the alerts and actions partitions that the run for ``config.date`` needs.

    Parameters
    ----------
    spark : pyspark.sql.SparkSession
    config : Config
        ``input_root``, ``date``, ``window_start``, ``alerts_from``.

    Returns
    -------
    alerts : pyspark.sql.DataFrame
        ``schema.ALERT_COLUMNS`` with the contract's types, plus ``dt`` (string).
    actions : pyspark.sql.DataFrame
        ``schema.ACTION_COLUMNS`` with the contract's types, plus ``dt`` (string).
    read : dict
        What was read: ``{"input_root": ..., "alerts": {...}, "actions": {...}}``, each dataset
        with its ``path``, the ``dt_from`` / ``dt_to`` range and the ``partitions`` read.

    Raises
    ------
    InputError
        One line: the root or a dataset folder is missing, no partition lies in the range, or
        a column of the contract is missing or has an incompatible type.
    """
    root = config.input_root.rstrip("/") or config.input_root
    day = config.date.isoformat()
    local = _local_path(root)
    if local is not None and not os.path.isdir(local):
        raise InputError(
            f"input root {root} does not exist: --input must name the folder holding "
            f"{ALERTS_DIR}/ and {ACTIONS_DIR}/"
        )
    alerts, alerts_read = _read_dataset(
        spark, root, ALERTS_DIR, s.ALERT_COLUMNS, config.alerts_from.date().isoformat(), day
    )
    actions, actions_read = _read_dataset(
        spark, root, ACTIONS_DIR, s.ACTION_COLUMNS, config.window_start.date().isoformat(), day
    )
    return alerts, actions, {"input_root": root, ALERTS_DIR: alerts_read, ACTIONS_DIR: actions_read}


def _local_path(root: str) -> str | None:
    """``root`` when it is a plain local path; None for a URL (s3://, hdfs://, file://...),
    whose missing folders Spark reports (PATH_NOT_FOUND)."""
    return None if _SCHEME.match(root) else root


def _read_dataset(
    spark: SparkSession,
    root: str,
    name: str,
    columns: tuple[str, ...],
    dt_from: str,
    dt_to: str,
) -> tuple[DataFrame, dict]:
    base = f"{root}/{name}"
    local = _local_path(base)
    if local is not None and not os.path.isdir(local):
        raise InputError(
            f"{root} has no {name}/ folder: expected Hive-partitioned Parquet at {base}/dt=YYYY-MM-DD/"
        )
    no_partition = f"no {name} partition with dt in [{dt_from}, {dt_to}] under {base}"
    try:
        listing = spark.read.option("basePath", base).parquet(base)
    except AnalysisException as exc:
        condition = exc.getCondition() or ""
        if condition.startswith("PATH_NOT_FOUND"):
            raise InputError(
                f"{root} has no {name}/ folder (or it cannot be listed): expected "
                f"Hive-partitioned Parquet at {base}/dt=YYYY-MM-DD/"
            ) from None
        if condition.startswith("UNABLE_TO_INFER_SCHEMA"):
            raise InputError(f"{no_partition}: it holds no Parquet files") from None
        raise InputError(f"cannot read {base}: {_first_line(exc)}") from None
    found = sorted({m.group(1) for f in listing.inputFiles() for m in [_PARTITION.search(f)] if m})
    chosen = [p for p in found if dt_from <= p <= dt_to]
    if not chosen:
        seen = f"found {len(found)} partition(s), {found[0]} to {found[-1]}" if found else "found none"
        raise InputError(f"{no_partition} ({seen}); check --input and --date")
    try:
        frame = spark.read.option("basePath", base).parquet(
            *[f"{base}/{s.DT}={p}" for p in chosen]
        )
    except AnalysisException as exc:
        raise InputError(f"cannot read {base}: {_first_line(exc)}") from None
    frame = _conform(frame, name, base, columns)
    log.info("reading %s: %d partitions, dt %s..%s", base, len(chosen), chosen[0], chosen[-1])
    return frame, {"path": base, "dt_from": dt_from, "dt_to": dt_to, "partitions": chosen}


def _conform(frame: DataFrame, name: str, base: str, columns: tuple[str, ...]) -> DataFrame:
    """Check the contract's columns and types; cast to the exact types; keep ``dt``."""
    types = {f.name: f.dataType for f in frame.schema.fields}
    missing = [c for c in columns if c not in types]
    if s.DT not in types:
        missing.append(s.DT)
    if missing:
        raise InputError(
            f"{name} at {base} lacks column(s) {', '.join(missing)} of the data contract "
            f"(found: {', '.join(types)})"
        )
    wrong = [
        f"{c} is {types[c].simpleString()} (needs {_CONTRACT_TYPES[c][2]})"
        for c in columns
        if not isinstance(types[c], _CONTRACT_TYPES[c][0])
    ]
    if not isinstance(types[s.DT], T.StringType):
        wrong.append(f"{s.DT} is {types[s.DT].simpleString()} (needs string)")
    if wrong:
        raise InputError(f"{name} at {base} has incompatible column type(s): {'; '.join(wrong)}")
    return frame.select(
        *[F.col(c).cast(_CONTRACT_TYPES[c][1]).alias(c) for c in columns], F.col(s.DT)
    )


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
