"""Check a dataset's Parquet files before Spark reads them: one footer read per file, in parallel.

:func:`check_dataset` lists the partitions ``base/dt=D/`` of a local folder whose ``D`` lies in
the run's range and decides for every file under them:

- **skipped** (listed in the run report with the reason): hidden files (``_`` or ``.`` prefix,
  which Spark and Hive skip: ``_SUCCESS``, ``.crc`` checksums, ``_temporary/``), zero-byte files
  (Spark reads them as empty), and files that are plainly not data (``.txt``, ``.crc``, ``.json``,
  ``.csv``, ...; any other extension unless the file carries the Parquet magic);
- **data**: ``.parquet`` (``.parq``, ``.pq``) or no extension at all (as Hive writes ``000000_0``),
  or another name with the Parquet magic at both ends. Its footer must parse (else an input error:
  not Parquet, truncated, damaged footer), its row groups must add up to the footer's row count,
  and every contract column must be there with an accepted type (else one line naming the
  partition, the column, the type found and the type expected).

Accepted types are the lossless ones: any signed integer up to int64 and uint8/16/32 for
``account_id``; string (or large string, or dictionary-encoded string) for the text columns; a
timestamp of any unit, with or without a time zone (a naive timestamp is read as UTC) for
``ts`` / ``fired_at``. Each data file gets a *signature*: the Spark type each contract column is
read as (``TIMESTAMP(NANOS)`` is read as a long of nanoseconds, ``spark.sql.legacy.parquet.
nanosAsLong``), so that :mod:`alertrec.io.inputs` reads each group of files with one exact schema
and casts it to the contract's types; files of one dataset may then differ in accepted types.

Only pyarrow is used here (no Spark): a rejected input never starts the heavy work.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from alertrec import schema as s
from alertrec.errors import InputError

log = logging.getLogger(__name__)

__all__ = ["CheckedFile", "DatasetCheck", "check_dataset", "classify_name", "CONTRACT_KINDS"]

_MAGIC = b"PAR1"
#: extensions of files that are data (besides none at all)
DATA_EXTENSIONS = (".parquet", ".parq", ".pq")
#: extensions of files that are plainly not data: skipped without being opened
NON_DATA_EXTENSIONS = (
    ".txt",
    ".crc",
    ".json",
    ".md",
    ".csv",
    ".tsv",
    ".log",
    ".yaml",
    ".yml",
    ".xml",
    ".html",
    ".tmp",
    ".bak",
    ".swp",
    ".orc",
    ".avro",
    ".gz",
    ".zip",
    ".sh",
    ".py",
    ".ini",
    ".cfg",
    ".conf",
)
#: what each contract column must be: "int64", "string" or "timestamp"
CONTRACT_KINDS = {
    s.ACCOUNT_ID: "int64",
    s.ALERT_EVENT_ID: "string",
    s.ALERT_ID: "string",
    s.ALERT_TITLE: "string",
    s.SEVERITY: "string",
    s.FIRED_AT: "timestamp",
    s.EVENT_ID: "string",
    s.USER_ID: "string",
    s.TS: "timestamp",
    s.ACTION: "string",
    s.PAYLOAD: "string",
}
_EXPECTED = {"int64": "int64", "string": "string", "timestamp": "timestamp[us, tz=UTC]"}
# the Spark type each accepted Arrow integer type is read as
_SPARK_INT = {
    pa.int8(): "tinyint",
    pa.int16(): "smallint",
    pa.int32(): "int",
    pa.int64(): "bigint",
    pa.uint8(): "smallint",
    pa.uint16(): "int",
    pa.uint32(): "bigint",
}
DEFAULT_THREADS = 8


@dataclass(frozen=True)
class CheckedFile:
    """A data file that passed the check.

    Attributes
    ----------
    path : str
        Absolute local path.
    partition : str
        Its ``dt`` value (``YYYY-MM-DD``).
    rows : int
        Rows in the file, from its footer.
    signature : tuple of (str, str)
        ``(column, Spark type read)`` for every contract column, in contract order. The Spark
        types are ``bigint``/``int``/``smallint``/``tinyint``, ``string``, ``timestamp``
        (instant), ``timestamp_ntz`` (naive, read as UTC) and ``nanos`` (a long of nanoseconds).
    """

    path: str
    partition: str
    rows: int
    signature: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class DatasetCheck:
    """The outcome of :func:`check_dataset` for one dataset.

    Attributes
    ----------
    name, base : str
        Dataset name (``alerts``/``actions``) and its folder.
    partitions : list of str
        The ``dt`` values in range, sorted.
    files : list of CheckedFile
        The data files Spark is to read, sorted by path.
    skipped : list of dict
        ``{"file": path, "reason": text}`` of every file left out.
    """

    name: str
    base: str
    partitions: list[str]
    files: list[CheckedFile]
    skipped: list[dict[str, str]] = field(default_factory=list)

    @property
    def rows(self) -> int:
        """Rows of the files read (from the footers)."""
        return sum(f.rows for f in self.files)


def classify_name(name: str) -> str | None:
    """Why a file named ``name`` is skipped without opening it, or None when it may be data.

    Parameters
    ----------
    name : str
        The file's base name.

    Returns
    -------
    str or None
        ``"hidden file (...)"`` or ``"not a data file (...)"``; None for ``.parquet``, no
        extension or an unknown extension (decided by the Parquet magic).
    """
    if name.startswith(("_", ".")):
        return "hidden file (names starting with _ or . are not data, as for Spark and Hive)"
    lower = name.lower()
    if lower.endswith(NON_DATA_EXTENSIONS):
        return f"not a data file ({os.path.splitext(lower)[1]})"
    return None


def _has_data_name(name: str) -> bool:
    lower = name.lower()
    return lower.endswith(DATA_EXTENSIONS) or "." not in name


def _partitions(base: str, dt_from: str, dt_to: str) -> tuple[list[str], list[str]]:
    """(all dt values found, those in range) under ``base``; other folders are not days."""
    found = []
    prefix = f"{s.DT}="
    for entry in os.scandir(base):
        if entry.is_dir() and entry.name.startswith(prefix):
            day = entry.name[len(prefix) :]
            if len(day) == 10 and day[4] == "-" and day[7] == "-":
                found.append(day)
    found.sort()
    return found, [d for d in found if dt_from <= d <= dt_to]


def _list_files(folder: str) -> list[tuple[str, str | None]]:
    """Every file under ``folder`` as (path, skip reason or None); hidden folders are skipped whole."""
    out: list[tuple[str, str | None]] = []
    for dirpath, dirs, files in os.walk(folder):
        hidden = [d for d in dirs if d.startswith(("_", "."))]
        for d in hidden:
            for sub, _dirs, names in os.walk(os.path.join(dirpath, d)):
                out.extend((os.path.join(sub, n), "inside a hidden folder (_ or . prefix)") for n in names)
        dirs[:] = sorted(d for d in dirs if d not in hidden)
        for name in sorted(files):
            out.append((os.path.join(dirpath, name), classify_name(name)))
    return out


def _arrow_kind(typ: pa.DataType) -> pa.DataType:
    return typ.value_type if pa.types.is_dictionary(typ) else typ


def _spark_type(kind: str, arrow_type: pa.DataType, physical: str) -> str | None:
    """The Spark type a column of ``arrow_type`` is read as, or None when the contract refuses it."""
    typ = _arrow_kind(arrow_type)
    if kind == "int64":
        return _SPARK_INT.get(typ)
    if kind == "string":
        return "string" if (pa.types.is_string(typ) or pa.types.is_large_string(typ)) else None
    if pa.types.is_timestamp(typ):
        if physical == "INT96":
            return "timestamp"
        if typ.unit == "ns":
            return "nanos"
        return "timestamp" if typ.tz is not None else "timestamp_ntz"
    return None


def _describe(typ: pa.DataType) -> str:
    return str(typ)


def _check_file(path: str, partition: str, name: str, columns: tuple[str, ...]) -> tuple[str, object]:
    """Check one file: ``("data", CheckedFile)``, ``("skip", reason)`` or ``("error", line)``."""
    size = os.path.getsize(path)
    if size == 0:
        return "skip", "empty file (0 bytes; Spark reads it as no rows)"
    where = f"{name} partition {s.DT}={partition}"
    with open(path, "rb") as fh:
        head = fh.read(4)
        fh.seek(max(0, size - 4))
        tail = fh.read(4)
    named_data = _has_data_name(os.path.basename(path))
    if head != _MAGIC:
        if not named_data:
            return "skip", "not a data file (no Parquet magic)"
        return "error", (
            f"{path} ({where}) is not a Parquet file (it does not start with PAR1); "
            "replace it with the exported Parquet file or remove it, then rerun"
        )
    if tail != _MAGIC or size < 12:
        return "error", (
            f"{path} ({where}) is a truncated Parquet file ({size} bytes, no footer); "
            "re-export the partition or remove the file, then rerun"
        )
    try:
        meta = pq.read_metadata(path)
        arrow_schema = meta.schema.to_arrow_schema()
        grouped = sum(meta.row_group(i).num_rows for i in range(meta.num_row_groups))
    except Exception as exc:  # pyarrow raises OSError/ArrowInvalid with one line for a bad footer
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return "error", (
            f"{path} ({where}) is a damaged Parquet file: its footer cannot be read ({reason}); "
            "re-export the partition or remove the file, then rerun"
        )
    if grouped != meta.num_rows or meta.num_rows < 0:
        return "error", (
            f"{path} ({where}) is a damaged Parquet file: its row groups hold {grouped} rows but its "
            f"footer says {meta.num_rows}; re-export the partition or remove the file, then rerun"
        )
    physical = {}
    for i in range(meta.num_columns):
        column = meta.schema.column(i)
        if "." not in column.path:
            physical[column.path] = column.physical_type
    problems = []
    signature = []
    names = arrow_schema.names
    for column in columns:
        kind = CONTRACT_KINDS[column]
        if column not in names:
            problems.append(
                f"{where} lacks column {column} of the data contract (file {path}); "
                f"re-export the partition with the contract's columns"
            )
            continue
        found = arrow_schema.field(column).type
        spark_type = _spark_type(kind, found, physical.get(column, ""))
        if spark_type is None:
            problems.append(
                f"{where}: column {column} is {_describe(found)}, expected {_EXPECTED[kind]} "
                f"(file {path}); re-export the partition with the contract's types"
            )
            continue
        signature.append((column, spark_type))
    if problems:
        return "error", "; ".join(problems)
    return "data", CheckedFile(path=path, partition=partition, rows=int(meta.num_rows), signature=tuple(signature))


def check_dataset(
    base: str,
    name: str,
    columns: tuple[str, ...],
    dt_from: str,
    dt_to: str,
    *,
    threads: int = DEFAULT_THREADS,
) -> DatasetCheck:
    """List a dataset's partitions in ``[dt_from, dt_to]`` and check every file in them.

    Parameters
    ----------
    base : str
        Local folder of the dataset (``ROOT/alerts``), holding ``dt=YYYY-MM-DD/`` folders.
    name : str
        Dataset name for the messages.
    columns : tuple of str
        The contract's columns of the dataset (``schema.ALERT_COLUMNS`` / ``ACTION_COLUMNS``).
    dt_from, dt_to : str
        Inclusive range of partition days.
    threads : int
        Footers read at once.

    Returns
    -------
    DatasetCheck

    Raises
    ------
    InputError
        One line: no partition in range, no data file in them, or the first damaged file or
        schema problem (with the number of further problems).
    """
    root = os.path.dirname(base.rstrip("/")) or base
    found, chosen = _partitions(base, dt_from, dt_to)
    if not chosen:
        seen = f"found {len(found)} partition(s), {found[0]} to {found[-1]}" if found else "found none"
        raise InputError(
            f"no {name} partition with dt in [{dt_from}, {dt_to}] under {base} ({seen}); check --input and --date"
        )
    candidates: list[tuple[str, str]] = []
    skipped: list[dict[str, str]] = []
    for day in chosen:
        for path, reason in _list_files(os.path.join(base, f"{s.DT}={day}")):
            if reason is None:
                candidates.append((path, day))
            else:
                skipped.append({"file": path, "reason": reason})
    if candidates:
        with ThreadPoolExecutor(max_workers=max(1, min(threads, len(candidates))), thread_name_prefix="footer") as pool:
            outcomes = list(pool.map(lambda c: _check_file(c[0], c[1], name, columns), candidates))
    else:
        outcomes = []
    files: list[CheckedFile] = []
    errors: list[str] = []
    for (path, _day), (verdict, value) in zip(candidates, outcomes):
        if verdict == "data":
            files.append(value)  # type: ignore[arg-type]
        elif verdict == "skip":
            skipped.append({"file": path, "reason": str(value)})
        else:
            errors.append(str(value))
    for entry in skipped:
        log.info("skipping %s: %s", entry["file"], entry["reason"])
    if errors:
        for line in errors:
            log.error("input error: %s", line)
        more = f" (and {len(errors) - 1} more problem(s) in {root}; see the log)" if len(errors) > 1 else ""
        raise InputError(errors[0] + more)
    if not files:
        raise InputError(
            f"no {name} data in partitions dt in [{dt_from}, {dt_to}] under {base}: "
            f"{len(skipped)} file(s), none of them Parquet data; check the export"
        )
    files.sort(key=lambda f: f.path)
    skipped.sort(key=lambda e: e["file"])
    log.info(
        "checked %s: %d partition(s), %d data file(s), %d row(s), %d skipped",
        base,
        len(chosen),
        len(files),
        sum(f.rows for f in files),
        len(skipped),
    )
    return DatasetCheck(name=name, base=base, partitions=chosen, files=files, skipped=skipped)
