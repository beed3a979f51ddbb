"""Spark (Py4J, ``pyspark.errors``) and Arrow failures turned into the project's one-line errors.

- :func:`one_line` gives one line for any exception, for the CLI and the run report's
  ``error`` field: never a Java stack trace, never ``An error occurred while calling o177.count``.
- :func:`translated_engine_errors` is a context manager for the boundary where the engine reads
  the input: an engine failure *about the input* (a file not found, a corrupt or truncated
  Parquet file, a schema or type mismatch, text that is not UTF-8) becomes an
  :class:`~alertrec.errors.InputError` (exit 3) with one line naming the file when the engine's
  message names one. Any other exception (a real bug) passes through unchanged.

The engine's text is searched through the whole cause chain (Python ``__cause__``/``__context__``
and, while the JVM is up, the Java ``getCause()`` chain of a Py4J error).
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator

from alertrec.errors import AlertrecError, InputError

log = logging.getLogger(__name__)

__all__ = ["input_problem", "one_line", "translated_engine_errors"]

MAX_CHARS = 600
_CALLING = re.compile(r"^An error occurred while calling [\w.]+\.?\s*")
_FILE = re.compile(
    r"((?:file|s3a?|s3n|hdfs|gs|abfss?|wasbs?|dbfs)://?[^\s,;'\"\]\)]+|/[^\s,;:'\"\]\)]+\.(?:parquet|parq|pq))",
)
# (pattern in the engine's text, the problem as a user reads it); the first that matches wins
_INPUT_PROBLEMS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), problem)
    for pattern, problem in (
        (
            r"FileNotFoundException|FILE_NOT_EXIST|PATH_NOT_FOUND|No such file or directory|NoSuchKey",
            "it does not exist (it was removed or rewritten while the run read it)",
        ),
        (
            r"is not a Parquet file|expected magic number|Parquet magic bytes not found|CANNOT_READ_FILE_FOOTER"
            r"|Could not read footer|Parquet file size is|Could not open Parquet input source|minimum file footer",
            "it is not a Parquet file or is truncated",
        ),
        (
            r"SchemaColumnConvertNotSupported|PARQUET_COLUMN_DATA_TYPE_MISMATCH|PARQUET_TYPE_ILLEGAL"
            r"|PARQUET_CONVERSION_FAILURE|Parquet column cannot be converted|CANNOT_MERGE_SCHEMAS"
            r"|CANNOT_MERGE_INCOMPATIBLE_DATA_TYPE|Unable to create Parquet converter",
            "a column's type does not match the data contract or the other files",
        ),
        (
            r"ParquetDecodingException|Can not read value at|CorruptedData|corrupt|decompress|Snappy|ZSTD|"
            r"Unexpected end of stream|EOFException|BufferUnderflow|invalid (?:page|block|dictionary)|"
            r"Couldn't deserialize thrift|DataTruncated|Malformed|FAILED_READ_FILE|CANNOT_READ_FILE",
            "it is damaged (its data cannot be decoded)",
        ),
        (r"invalid utf-?8|Wrapping .* failed|UnicodeDecodeError", "it holds text that is not valid UTF-8"),
    )
)


def _java_messages(exc: BaseException) -> list[str]:
    """The Java cause chain of a Py4J error as strings, while the JVM is reachable."""
    throwable = getattr(exc, "java_exception", None)
    out: list[str] = []
    seen = 0
    while throwable is not None and seen < 20:
        try:
            out.append(str(throwable.toString()))
            throwable = throwable.getCause()
        except Exception:  # the JVM is gone, or not a Java object
            break
        seen += 1
    return out


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in out and len(out) < 20:
        out.append(current)
        current = current.__cause__ or current.__context__
    return out


def _engine_text(exc: BaseException) -> str:
    """Everything the engine said about ``exc``: messages of the Python and Java cause chains."""
    parts: list[str] = []
    for item in _chain(exc):
        parts.append(f"{type(item).__name__}: {_safe_str(item)}")
        parts.extend(_java_messages(item))
    return "\n".join(parts)


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return type(exc).__name__


def _first_meaningful_line(text: str) -> str:
    for line in text.strip().splitlines():
        line = _CALLING.sub("", line.strip())
        if line and not line.startswith(("at ", "JVM stacktrace", "Traceback", 'File "')):
            return line
    return ""


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 3] + "..."


def one_line(exc: BaseException) -> str:
    """One line that says what failed, for the CLI and the run report's ``error`` field.

    Parameters
    ----------
    exc : BaseException
        Any exception: an :class:`~alertrec.errors.AlertrecError` gives its own message; an
        engine error gives its class and the first meaningful line of its deepest cause (never
        a stack trace, never Py4J's ``An error occurred while calling ...``).

    Returns
    -------
    str
        No newline; an engine's line is cut at :data:`MAX_CHARS` characters.
    """
    if isinstance(exc, AlertrecError):  # already one line by design; only newlines are folded
        return " ".join(_safe_str(exc).split()) or type(exc).__name__
    name = type(exc).__name__
    line = _first_meaningful_line(_safe_str(exc))
    if not line or name == "Py4JJavaError":
        java = _java_messages(exc)
        if java:  # the root cause names the problem; the outer ones name the call
            line = _first_meaningful_line(java[-1]) or _first_meaningful_line(java[0])
    return _clip(f"{name}: {line}" if line else name)


def input_problem(exc: BaseException, what: str = "reading the input") -> InputError | None:
    """The :class:`InputError` for an engine failure about the input, or None for anything else.

    Parameters
    ----------
    exc : BaseException
        An exception from Spark (Py4J or ``pyspark.errors``), or pyarrow.
    what : str
        What was being done, for the message (``"reading the input"``).

    Returns
    -------
    InputError or None
    """
    if isinstance(exc, AlertrecError) or not isinstance(exc, Exception):
        return None
    module = type(exc).__module__ or ""
    if not module.startswith(("py4j", "pyspark", "pyarrow")):
        return None
    text = _engine_text(exc)
    for pattern, problem in _INPUT_PROBLEMS:
        if pattern.search(text):
            match = _FILE.search(text)
            cause = one_line(exc)
            if match:
                path = match.group(1).rstrip(".")
                return InputError(
                    _clip(
                        f"input file {path} cannot be read while {what}: {problem} ({cause}); "
                        "re-export or remove that file, then rerun"
                    )
                )
            return InputError(
                _clip(
                    f"the input cannot be read while {what}: {problem} ({cause}); "
                    "check the input files of the run's partitions (-v shows the engine's trace)"
                )
            )
    return None


@contextlib.contextmanager
def translated_engine_errors(what: str) -> Iterator[None]:
    """Turn engine failures about the input into one-line InputErrors inside the ``with`` block.

    Parameters
    ----------
    what : str
        What the block does, for the message (``"reading the input"``, ``"extracting sessions"``).

    Raises
    ------
    InputError
        For a Py4J/``pyspark.errors``/pyarrow exception about the input; the original is
        chained (``__cause__``) and logged at debug level with its trace. Anything else
        propagates unchanged.
    """
    try:
        yield
    except Exception as exc:
        translated = input_problem(exc, what)
        if translated is None:
            raise
        log.debug("engine failure while %s, reported as an input error", what, exc_info=True)
        raise translated from exc
