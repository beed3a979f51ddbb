"""Read the contract's inputs, ``ROOT/alerts/`` and ``ROOT/actions/``, with Spark.

Both are Hive-partitioned Parquet (``dt=YYYY-MM-DD/``). Only the partitions a run needs are
read (docs/frames.md, "Reading"): actions ``dt`` in [window_start day, D] (events from before
``D`` can arrive late, up to ``D``), alerts ``dt`` in [alerts_from day, D].

Before Spark does any heavy work, every file of those partitions is checked from its Parquet
footer (:mod:`alertrec.io.input_check`): damaged data files and schema problems are one-line
``InputError``\\ s, stray non-data files are skipped and listed, and the row count comes from the
footers. Spark then reads exactly the checked files (with ``basePath``, so ``dt`` still comes
from the path and stays a string), one read per group of files with the same column types, each
cast to the contract's types and unioned. ``s3://`` input with a local Spark master (which has no
S3 file system) is first copied into a bounded local cache (:mod:`alertrec.io.s3_input`); with a
cluster master Spark reads it itself, unchecked, as before.

Rows: the payload of a row whose bytes are not valid UTF-8 becomes NULL (so the row counts as
``malformed_payload``); every other text column is made valid UTF-8 (invalid bytes become U+FFFD),
so no single row's bytes can fail a later Arrow conversion.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections import defaultdict
from typing import Any
from urllib.parse import unquote, urlparse

from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from alertrec import schema as s
from alertrec.config import Config
from alertrec.errors import InputError
from alertrec.io.engine_errors import translated_engine_errors
from alertrec.io.input_check import CheckedFile, check_dataset

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
# the Spark type of each signature name of alertrec.io.input_check
_SIGNATURE_TYPES = {
    "tinyint": T.ByteType(),
    "smallint": T.ShortType(),
    "int": T.IntegerType(),
    "bigint": T.LongType(),
    "string": T.StringType(),
    "timestamp": T.TimestampType(),
    "timestamp_ntz": T.TimestampNTZType(),
    "nanos": T.LongType(),
}
#: the Spark SQL setting that lets Spark read Parquet TIMESTAMP(NANOS) (as a long of nanoseconds)
NANOS_AS_LONG = "spark.sql.legacy.parquet.nanosAsLong"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_PARTITION = re.compile(r"/" + re.escape(s.DT) + r"=(\d{4}-\d{2}-\d{2})/")  # other folders are not days


def read_inputs(spark: SparkSession, config: Config) -> tuple[DataFrame, DataFrame, dict]:
    """Read the alerts and actions partitions that the run for ``config.date`` needs.

    Parameters
    ----------
    spark : pyspark.sql.SparkSession
    config : Config
        ``input_root``, ``date``, ``window_start``, ``alerts_from``; ``input_cache_dir`` and
        ``input_cache_bytes`` for ``s3://`` input with a local master.

    Returns
    -------
    alerts : pyspark.sql.DataFrame
        ``schema.ALERT_COLUMNS`` with the contract's types, plus ``dt`` (string).
    actions : pyspark.sql.DataFrame
        ``schema.ACTION_COLUMNS`` with the contract's types, plus ``dt`` (string).
    read : dict
        What was read: ``{"input_root": ..., "alerts": {...}, "actions": {...}}`` (plus
        ``"local_copy"`` when S3 input was copied), each dataset with its ``path``, the
        ``dt_from`` / ``dt_to`` range, the ``partitions`` read, ``rows`` (rows of the files read,
        from their Parquet footers), ``files`` (number of data files read) and ``skipped``
        (``[{"file", "reason"}]`` of the files left out).

    Raises
    ------
    InputError
        One line: the root or a dataset folder is missing, no partition lies in the range, a
        data file is damaged, or a column of the contract is missing or has an incompatible type.
    """
    root = config.input_root.rstrip("/") or config.input_root
    day = config.date.isoformat()
    ranges = {
        ALERTS_DIR: (config.alerts_from.date().isoformat(), day),
        ACTIONS_DIR: (config.window_start.date().isoformat(), day),
    }
    info: dict[str, Any] = {"input_root": root}
    with translated_engine_errors("reading the input"):
        read_root = root
        local = _local_path(root)
        if local is None and root.startswith("s3://") and _is_local_master(spark, config):
            from alertrec.io.s3_input import copy_window

            local = copy_window(root, ranges, cache_dir=config.input_cache_dir, max_bytes=config.input_cache_bytes)
            info["local_copy"] = local
        if local is not None:
            if not os.path.isdir(local):
                raise InputError(
                    f"input root {root} does not exist: --input must name the folder holding "
                    f"{ALERTS_DIR}/ and {ACTIONS_DIR}/"
                )
            read_root = os.path.abspath(local)
        frames = {}
        for name, columns in ((ALERTS_DIR, s.ALERT_COLUMNS), (ACTIONS_DIR, s.ACTION_COLUMNS)):
            dt_from, dt_to = ranges[name]
            if local is not None:
                frame, dataset_read = _read_checked(spark, root, read_root, name, columns, dt_from, dt_to)
            else:
                frame, dataset_read = _read_unchecked(spark, root, name, columns, dt_from, dt_to)
            frames[name] = frame
            info[name] = dataset_read
    return frames[ALERTS_DIR], frames[ACTIONS_DIR], info


def _is_local_master(spark: SparkSession, config: Config) -> bool:
    """Whether Spark runs in local mode (the session's master, else the config's)."""
    try:
        master = spark.sparkContext.master
    except Exception:  # a remote (Connect) session has no SparkContext
        master = config.spark_master
    return str(master).startswith("local")


def _local_path(root: str) -> str | None:
    """The local folder of ``root`` (a plain path or a ``file://`` URL); None for other URLs."""
    if root.startswith("file:"):
        parsed = urlparse(root)
        if parsed.netloc in ("", "localhost"):
            return unquote(parsed.path)
        return None
    return None if _SCHEME.match(root) else root


def _read_checked(
    spark: SparkSession,
    root: str,
    local_root: str,
    name: str,
    columns: tuple[str, ...],
    dt_from: str,
    dt_to: str,
) -> tuple[DataFrame, dict]:
    """Check every file of the range (footers), then read exactly the data files."""
    base = os.path.join(local_root, name)
    shown = f"{root}/{name}"
    if not os.path.isdir(base):
        raise InputError(f"{root} has no {name}/ folder: expected Hive-partitioned Parquet at {shown}/dt=YYYY-MM-DD/")
    check = check_dataset(base, name, columns, dt_from, dt_to)
    groups: dict[tuple[tuple[str, str], ...], list[CheckedFile]] = defaultdict(list)
    for checked in check.files:
        groups[checked.signature].append(checked)
    if any(t == "nanos" for signature in groups for _c, t in signature):
        # Spark refuses TIMESTAMP(NANOS) unless read as a long; it is converted to microseconds below
        spark.conf.set(NANOS_AS_LONG, "true")
    parts = []
    for signature, files in sorted(groups.items()):
        schema = T.StructType(
            [T.StructField(c, _SIGNATURE_TYPES[t], True) for c, t in signature]
            + [T.StructField(s.DT, T.StringType(), True)]
        )
        frame = spark.read.schema(schema).option("basePath", base).parquet(*[f.path for f in files])
        parts.append(_conform(frame, name, shown, columns, dict(signature)))
    frame = functools.reduce(lambda a, b: a.unionByName(b), parts)
    if len(parts) > 1:
        log.info(
            "%s: %d groups of files with different accepted column types, each cast to the contract's",
            shown,
            len(parts),
        )
    log.info(
        "reading %s: %d partitions, dt %s..%s, %d files, %d rows",
        shown,
        len(check.partitions),
        check.partitions[0],
        check.partitions[-1],
        len(check.files),
        check.rows,
    )
    return frame, {
        "path": shown,
        "dt_from": dt_from,
        "dt_to": dt_to,
        "partitions": check.partitions,
        "rows": check.rows,
        "files": len(check.files),
        "skipped": check.skipped,
    }


def _read_unchecked(
    spark: SparkSession,
    root: str,
    name: str,
    columns: tuple[str, ...],
    dt_from: str,
    dt_to: str,
) -> tuple[DataFrame, dict]:
    """A URL Spark lists and reads itself (a cluster's ``s3://``, ``hdfs://``): no footer check.

    The row count then comes from a Spark ``count()`` (cheap on Parquet: no column is decoded).
    """
    base = f"{root}/{name}"
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
    inputs = listing.inputFiles()
    found = sorted({m.group(1) for f in inputs for m in [_PARTITION.search(f)] if m})
    chosen = [p for p in found if dt_from <= p <= dt_to]
    if not chosen:
        seen = f"found {len(found)} partition(s), {found[0]} to {found[-1]}" if found else "found none"
        raise InputError(f"{no_partition} ({seen}); check --input and --date")
    raw = spark.read.option("basePath", base).parquet(*[f"{base}/{s.DT}={p}" for p in chosen])
    frame = _conform(raw, name, base, columns)
    files = sum(1 for f in inputs for m in [_PARTITION.search(f)] if m and dt_from <= m.group(1) <= dt_to)
    rows = raw.count()
    log.info("reading %s: %d partitions, dt %s..%s (listed by Spark)", base, len(chosen), chosen[0], chosen[-1])
    return frame, {
        "path": base,
        "dt_from": dt_from,
        "dt_to": dt_to,
        "partitions": chosen,
        "rows": int(rows),
        "files": files,
        "skipped": [],
    }


def _text(column: str) -> Column:
    """A text column made valid UTF-8; the payload becomes NULL instead (malformed_payload)."""
    if column == s.PAYLOAD:
        return F.when(F.expr(f"is_valid_utf8(`{column}`)"), F.col(column))
    return F.expr(f"make_valid_utf8(`{column}`)")


def _cast(column: str, read_as: str | None) -> Column:
    """``column`` (read as the input_check signature type ``read_as``) in the contract's type."""
    target = _CONTRACT_TYPES[column][1]
    if isinstance(target, T.StringType):
        return _text(column).alias(column)
    if read_as == "nanos":  # a long of nanoseconds: exact floor division to microseconds
        return F.expr(f"timestamp_micros((`{column}` - pmod(`{column}`, 1000)) div 1000)").alias(column)
    return F.col(column).cast(target).alias(column)


def _conform(
    frame: DataFrame,
    name: str,
    base: str,
    columns: tuple[str, ...],
    signature: dict[str, str] | None = None,
) -> DataFrame:
    """Check the contract's columns and types; cast to the exact types; keep ``dt``."""
    types = {f.name: f.dataType for f in frame.schema.fields}
    missing = [c for c in columns if c not in types]
    if s.DT not in types:
        missing.append(s.DT)
    if missing:
        raise InputError(
            f"{name} at {base} lacks column(s) {', '.join(missing)} of the data contract (found: {', '.join(types)})"
        )
    signature = signature or {}
    wrong = [
        f"{c} is {types[c].simpleString()} (needs {_CONTRACT_TYPES[c][2]})"
        for c in columns
        if not isinstance(types[c], _CONTRACT_TYPES[c][0]) and signature.get(c) != "nanos"
    ]
    if not isinstance(types[s.DT], T.StringType):
        wrong.append(f"{s.DT} is {types[s.DT].simpleString()} (needs string)")
    if wrong:
        raise InputError(f"{name} at {base} has incompatible column type(s): {'; '.join(wrong)}")
    return frame.select(*[_cast(c, signature.get(c)) for c in columns], F.col(s.DT))


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
