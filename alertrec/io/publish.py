"""The publish protocol: a day of recommendations appears whole or not at all.

Contract (``shared/contract.md``, Output): a day is published when
``ROOT/recommendations/dt=D/_SUCCESS`` exists, written last.  Running the same
day again replaces that day whole; other days are never touched.  See
``docs/adr/0002-publish-protocol.md`` for why the steps are what they are.

:func:`publish_day` runs the same four steps for every :class:`Storage`
(local folder or S3), above the adapter:

1. delete ``dt=D/_SUCCESS`` (from here on the day is unpublished);
2. write the rows as Parquet to ``dt=D/part-<run_id>-NNNNN.parquet``
   (names unique per run, so runs never overwrite each other's files);
3. delete every other file under ``dt=D/`` (earlier or crashed runs);
4. write ``dt=D/_SUCCESS`` last: a JSON manifest naming the files and rows.

A crash anywhere leaves either the previous complete day (before step 1) or a
day without ``_SUCCESS``; the next run of the day heals it.  Readers check
``_SUCCESS`` and read exactly the files its manifest lists (:func:`read_day`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import PurePath
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from alertrec import schema
from alertrec.errors import OutputError, PublishError
from alertrec.io.storage import Storage

_logger = logging.getLogger(__name__)

#: version of the ``_SUCCESS`` manifest layout
MANIFEST_VERSION = 1
#: Parquet compression of the published files
COMPRESSION = "zstd"
#: rows per Parquet file; a larger day is split into part-<run_id>-00000, -00001, ...
MAX_ROWS_PER_FILE = 1_000_000

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_SUCCESS_PATH = re.compile(
    rf"^{re.escape(schema.RECOMMENDATIONS_DIR)}/{schema.DT}=(\d{{4}}-\d{{2}}-\d{{2}})/{re.escape(schema.SUCCESS_MARKER)}$"
)


def schema_fingerprint(arrow_schema: pa.Schema = schema.RECOMMENDATIONS_ARROW) -> str:
    """A short, stable id of a schema's column names, types and nullability."""
    text = ";".join(f"{f.name}:{f.type}:{'null' if f.nullable else 'required'}" for f in arrow_schema)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class PublishResult:
    """What :func:`publish_day` published.

    Attributes
    ----------
    day
        The partition day ``D``.
    url
        Location of the day's folder (``.../recommendations/dt=D``).
    files
        The data files written, relative to the output root, in order.
    rows
        Rows published.
    run_id
        The run that published them.
    """

    day: dt.date
    url: str
    files: tuple[str, ...]
    rows: int
    run_id: str


# --------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------
def day_dir(day: dt.date) -> str:
    """``recommendations/dt=D``, relative to the output root."""
    return f"{schema.RECOMMENDATIONS_DIR}/{schema.DT}={_day(day).isoformat()}"


def success_path(day: dt.date) -> str:
    """``recommendations/dt=D/_SUCCESS``, relative to the output root."""
    return f"{day_dir(day)}/{schema.SUCCESS_MARKER}"


def _day(day: dt.date) -> dt.date:
    if isinstance(day, dt.datetime) or not isinstance(day, dt.date):
        raise TypeError(f"day must be a datetime.date, not {type(day).__name__}")
    return day


# --------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------
def conform_recommendations(table: pa.Table) -> pa.Table:
    """The table with the contract's columns, in order, cast to their types.

    Raises PublishError naming the first problem: missing, extra or repeated
    columns, a column whose values cannot be cast safely, or nulls in a
    required column.
    """
    target = schema.RECOMMENDATIONS_ARROW
    names = table.column_names
    repeated = sorted({n for n in names if names.count(n) > 1})
    missing = [n for n in target.names if n not in names]
    extra = [n for n in names if n not in target.names]
    if repeated or missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected {', '.join(extra)}")
        if repeated:
            parts.append(f"repeated {', '.join(repeated)}")
        raise PublishError(f"recommendations do not match the contract's columns: {'; '.join(parts)}")
    arrays = []
    for field in target:
        column = table.column(field.name)
        if column.type != field.type:
            try:
                column = column.cast(field.type, safe=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise PublishError(
                    f"recommendations column {field.name} is {column.type}, "
                    f"which does not cast to {field.type}: {reason}"
                ) from exc
        if not field.nullable and column.null_count:
            raise PublishError(
                f"recommendations column {field.name} has {column.null_count} null value(s); "
                "the contract requires a value"
            )
        arrays.append(column)
    return pa.Table.from_arrays(arrays, schema=target)


def _parquet_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf, compression=COMPRESSION)
    return buf.getvalue()


def _manifest(day: dt.date, run_id: str, files: list[str], rows: int) -> dict[str, Any]:
    return {
        "manifest_version": MANIFEST_VERSION,
        "day": day.isoformat(),
        "run_id": run_id,
        "files": files,  # names inside dt=D/
        "rows": rows,
        "format": "parquet",
        "schema_fingerprint": schema_fingerprint(),
    }


def _json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False, default=_json_default) + "\n").encode("utf-8")


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):  # numpy arrays
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


# --------------------------------------------------------------------------
# Publish
# --------------------------------------------------------------------------
def _chunks(tables: Iterable[pa.Table]) -> Iterator[pa.Table]:
    """Conformed tables regrouped into files of at most ``MAX_ROWS_PER_FILE`` rows, in order."""
    pending: list[pa.Table] = []
    rows = 0
    for table in tables:
        table = conform_recommendations(table)
        start = 0
        while start < table.num_rows:
            take = min(MAX_ROWS_PER_FILE - rows, table.num_rows - start)
            pending.append(table.slice(start, take))
            rows += take
            start += take
            if rows == MAX_ROWS_PER_FILE:
                yield pa.concat_tables(pending).combine_chunks()
                pending, rows = [], 0
    if pending and rows:
        yield pa.concat_tables(pending).combine_chunks()


def publish_day(storage: Storage, table: pa.Table | Iterable[pa.Table], day: dt.date, run_id: str) -> PublishResult:
    """Publish ``table`` as day ``day`` of ``ROOT/recommendations``, replacing that day whole.

    Parameters
    ----------
    storage
        The output root.
    table
        Rows with the columns of ``schema.RECOMMENDATIONS_ARROW`` (cast when
        compatible): one table, or an iterable of tables (e.g. one per account, read one
        at a time) that is streamed into the day's files without holding it all.
    day
        The partition ``dt=D``.
    run_id
        Names this run's files; letters, digits, ``.``, ``_``, ``-``.

    Returns
    -------
    PublishResult

    Raises
    ------
    PublishError
        The table does not fit the contract (nothing is touched), or the
        storage failed part-way (the day is left unpublished, or as it was
        when step 1 failed; running the day again heals it).
    """
    day = _day(day)
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
        raise PublishError(
            f"run id {run_id!r} cannot name files: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    folder = day_dir(day)
    marker = success_path(day)
    if isinstance(table, pa.Table):
        # everything that can fail without touching storage happens first
        chunks: Iterable[pa.Table] = list(_chunks([table])) or [conform_recommendations(table)]
    else:
        chunks = _chunks(table)
    names: list[str] = []
    total = 0

    step = "removing the old _SUCCESS (step 1 of 4)"
    try:
        storage.delete([marker])  # (1) the day is now unpublished
        step = "writing the data files (step 2 of 4)"
        for chunk in chunks:  # (2)
            name = f"part-{run_id}-{len(names):05d}.parquet"
            storage.write_bytes(f"{folder}/{name}", _parquet_bytes(chunk))
            names.append(name)
            total += chunk.num_rows
        if not names:  # an empty day still has one (empty) file with the contract's schema
            name = f"part-{run_id}-00000.parquet"
            storage.write_bytes(f"{folder}/{name}", _parquet_bytes(schema.RECOMMENDATIONS_ARROW.empty_table()))
            names.append(name)
        manifest = _json_bytes(_manifest(day, run_id, names, total))
        step = "deleting other files of the day (step 3 of 4)"
        keep = {f"{folder}/{name}" for name in names}
        stale = [p for p in storage.list(folder) if p not in keep]
        if stale:  # (3)
            _logger.info("deleting %d leftover file(s) of %s", len(stale), folder)
            storage.delete(stale)
        step = "writing _SUCCESS (step 4 of 4)"
        storage.write_bytes(marker, manifest)  # (4) published
    except PublishError:
        raise
    except OutputError as exc:
        state = (
            "the day may still hold the previous run" if step.endswith("(step 1 of 4)") else "the day is not published"
        )
        raise PublishError(
            f"publishing {storage.url(folder)} failed while {step}: {exc}; {state}; run the day again"
        ) from exc

    files = tuple(f"{folder}/{name}" for name in names)
    _logger.info("published %s: %d rows in %d file(s), run %s", storage.url(folder), total, len(files), run_id)
    return PublishResult(day=day, url=storage.url(folder), files=files, rows=total, run_id=run_id)


# --------------------------------------------------------------------------
# Read
# --------------------------------------------------------------------------
def read_manifest(storage: Storage, day: dt.date) -> dict[str, Any] | None:
    """The ``_SUCCESS`` manifest of ``day``, or None if the day is not published."""
    day = _day(day)
    marker = success_path(day)
    try:
        raw = storage.read_bytes(marker)
    except FileNotFoundError:
        return None
    try:
        manifest = json.loads(raw.decode("utf-8"))
        files = manifest["files"]
        rows = manifest["rows"]
    except (UnicodeDecodeError, ValueError, TypeError, KeyError) as exc:
        raise PublishError(
            f"{storage.url(marker)} is not an alertrec manifest ({type(exc).__name__}); run the day again"
        ) from exc
    if (
        not isinstance(files, list)
        or not all(isinstance(f, str) and f and "/" not in f for f in files)
        or not isinstance(rows, int)
        or manifest.get("day") != day.isoformat()
    ):
        raise PublishError(f"{storage.url(marker)} is not a valid manifest for {day}; run the day again")
    return manifest


def read_day(storage: Storage, day: dt.date) -> pa.Table | None:
    """The published rows of ``day`` (exactly the files its manifest lists), or None if not published."""
    manifest = read_manifest(storage, day)
    if manifest is None:
        return None
    folder = day_dir(day)
    tables = []
    for name in manifest["files"]:
        try:
            data = storage.read_bytes(f"{folder}/{name}")
        except FileNotFoundError as exc:
            raise PublishError(
                f"{storage.url(folder)} lists {name} in _SUCCESS but the file is gone "
                "(being republished right now?); read again, or run the day again"
            ) from exc
        tables.append(pq.read_table(io.BytesIO(data)))
    table = pa.concat_tables(tables) if tables else schema.RECOMMENDATIONS_ARROW.empty_table()
    if table.num_rows != manifest["rows"]:
        raise PublishError(
            f"{storage.url(folder)} holds {table.num_rows} rows but its _SUCCESS says {manifest['rows']}; "
            "run the day again"
        )
    return conform_recommendations(table)


def published_days(storage: Storage) -> list[dt.date]:
    """Every day with a ``_SUCCESS`` under ``ROOT/recommendations``, ascending."""
    days = []
    for path in storage.list(schema.RECOMMENDATIONS_DIR):
        match = _SUCCESS_PATH.match(path)
        if not match:
            continue
        try:
            days.append(dt.date.fromisoformat(match.group(1)))
        except ValueError:
            continue
    return sorted(days)


# --------------------------------------------------------------------------
# JSON files (run reports, model metadata)
# --------------------------------------------------------------------------
def write_json(storage: Storage, rel_path: str, obj: Any) -> str:
    """Write ``obj`` as indented JSON (sorted keys; dates as ISO text) whole; return its location."""
    try:
        data = _json_bytes(obj)
    except (TypeError, ValueError) as exc:
        raise OutputError(f"cannot write {storage.url(rel_path)} as JSON: {exc}") from exc
    storage.write_bytes(rel_path, data)
    return storage.url(rel_path)


def read_json(storage: Storage, rel_path: str) -> Any:
    """The JSON value stored at ``rel_path``; FileNotFoundError if there is none."""
    raw = storage.read_bytes(rel_path)
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise OutputError(f"{storage.url(rel_path)} is not valid JSON: {exc}") from exc
