"""Where the query registry lives: versioned Parquet files under the output root.

The registry itself (rules, frame, validation, merge) is pure and lives in
:mod:`alertrec.stages.normalize.registry`; this module only reads and writes it, and takes
the validation and the merge as functions (the I/O layer does not import the stages).

Layout: ``ROOT/registry/queries/v-NNNNNNNN.parquet``. Each version is the whole
registry (columns ``account_id, canonical, item_id, first_seen``), a superset of
the one before; the newest version is the one with the highest number. A
version is written once, as one object (a local write is a rename, an S3 PUT is
atomic), and never rewritten, so a reader sees either the old or the new
registry, never a mix. Writers take ``ROOT/locks/query-registry.lock`` (the
day's lock does not serialize runs of different days), read the newest version
again under it, append their new forms and write the next version; the last
:data:`KEEP_VERSIONS` versions are kept.
"""

from __future__ import annotations

import io
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from alertrec import schema as S
from alertrec.errors import RegistryError
from alertrec.io.lock import LockHeldError, LockOwner, lock_at
from alertrec.io.lock.base import LOCKS_DIR
from alertrec.io.storage import Storage

log = logging.getLogger(__name__)

__all__ = ["KEEP_VERSIONS", "REGISTRY_DIR", "RegistryRead", "read_registry", "write_registry"]

REGISTRY_DIR = "registry/queries"
REGISTRY_LOCK = f"{LOCKS_DIR}/query-registry.lock"
KEEP_VERSIONS = 5
_VERSION = re.compile(r"v-(\d{8})\.parquet")
_ARROW = pa.schema(
    [
        pa.field(S.ACCOUNT_ID, pa.int64(), nullable=False),
        pa.field(S.CANONICAL, pa.string(), nullable=False),
        pa.field(S.ITEM_ID, pa.string(), nullable=False),
        pa.field(S.FIRST_SEEN, pa.string(), nullable=False),
    ]
)


@dataclass(frozen=True)
class RegistryRead:
    """The registry as a run read it.

    Attributes
    ----------
    frame : pandas.DataFrame or None
        The newest version; ``None`` when there is none (first run, or deleted): the run
        then rebuilds it from its own window, deterministically.
    version : int
        Its number (0 when there is none).
    url : str or None
        Where it was read from.
    """

    frame: pd.DataFrame | None
    version: int
    url: str | None

    def report(self) -> dict[str, object]:
        """What the run report says about the registry read."""
        if self.frame is None:
            return {"status": "rebuilt", "read_version": 0, "forms_read": 0}
        return {"status": "read", "read_version": self.version, "forms_read": int(len(self.frame)), "url": self.url}


def _versions(storage: Storage) -> list[tuple[int, str]]:
    out = []
    for rel in storage.list(REGISTRY_DIR + "/"):
        match = _VERSION.fullmatch(rel.rsplit("/", 1)[-1])
        if match:
            out.append((int(match.group(1)), rel))
    return sorted(out)


Validate = Callable[[pd.DataFrame], pd.DataFrame]
Combine = Callable[[pd.DataFrame | None], tuple[pd.DataFrame | None, dict]]


def read_registry(storage: Storage, validate: Validate) -> RegistryRead:
    """The newest registry version under the output root.

    Parameters
    ----------
    storage : Storage
        The output root.
    validate : callable
        Checks a frame read and returns it conformed; raises :class:`RegistryError`
        (:func:`alertrec.stages.normalize.registry.validate_registry`).

    Returns
    -------
    RegistryRead

    Raises
    ------
    RegistryError
        The newest version cannot be read or breaks the registry's rules (a corrupt
        registry is never silently replaced: the error names the file; restore it or
        delete the registry folder to rebuild it).
    """
    versions = _versions(storage)
    if not versions:
        log.info("no query registry under %s: it is rebuilt from this run's window", storage.url(REGISTRY_DIR))
        return RegistryRead(None, 0, None)
    number, rel = versions[-1]
    url = storage.url(rel)
    try:
        table = pq.read_table(pa.BufferReader(storage.read_bytes(rel)))
        frame = validate(table.to_pandas())
    except RegistryError as exc:
        raise RegistryError(
            f"the query registry {url} is corrupt: {exc}; restore it or delete "
            f"{storage.url(REGISTRY_DIR)} to rebuild it"
        ) from None
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise RegistryError(
            f"the query registry {url} cannot be read ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}); restore it or delete "
            f"{storage.url(REGISTRY_DIR)} to rebuild it"
        ) from None
    log.info("query registry %s: %d forms", url, len(frame))
    return RegistryRead(frame, number, url)


def write_registry(
    storage: Storage,
    combine: Combine,
    validate: Validate,
    owner: LockOwner,
    *,
    wait_s: float = 300.0,
) -> dict[str, object]:
    """Write the registry's next version under its lock: ``combine(newest) -> (frame, info)``.

    Parameters
    ----------
    storage : Storage
        The output root.
    combine : callable
        Given the newest registry read under the lock (None: none yet), the registry to
        write (None: nothing changes) and what to report
        (:func:`alertrec.stages.normalize.registry.append_entries` with the run's new forms).
    validate : callable
        As for :func:`read_registry`.
    owner : LockOwner
        Names this run in the lock.
    wait_s : float
        How long to wait for another run (another day) that holds the registry's lock.

    Returns
    -------
    dict
        ``combine``'s info plus ``written_version`` (the version written, or the newest one
        left as it was).

    Raises
    ------
    RegistryError, OutputError
        The registry cannot be read or written; the day is then not published.
    """
    lock = lock_at(storage, REGISTRY_LOCK, owner)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            lock.acquire()
            break
        except LockHeldError:
            if time.monotonic() > deadline:
                raise RegistryError(
                    f"the query registry's lock {storage.url(REGISTRY_LOCK)} was held for more "
                    f"than {wait_s:.0f} s by another run; rerun when it is done"
                ) from None
            time.sleep(1.0)
    try:
        current = read_registry(storage, validate)
        merged, info = combine(current.frame)
        info = dict(info)
        if merged is None:
            info["written_version"] = current.version
            return info
        number = current.version + 1
        rel = f"{REGISTRY_DIR}/v-{number:08d}.parquet"
        buf = io.BytesIO()
        pq.write_table(pa.Table.from_pandas(merged, schema=_ARROW, preserve_index=False), buf, compression="zstd")
        storage.write_bytes(rel, buf.getvalue())
        old = [r for _n, r in _versions(storage)[:-KEEP_VERSIONS]]
        if old:
            storage.delete(old)
        log.info("query registry %s: %d forms", storage.url(rel), len(merged))
        info["written_version"] = number
        return info
    finally:
        lock.release()
