"""Where the query registry lives: versioned Parquet files under the output root.

The registry itself (rules, frame, merge) is pure and lives in
:mod:`alertrec.stages.normalize.registry`; this module only reads and writes it.

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
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from alertrec import schema as S
from alertrec.errors import RegistryError
from alertrec.io.lock import LockHeldError, LockOwner, lock_at
from alertrec.io.lock.base import LOCKS_DIR
from alertrec.io.storage import Storage
from alertrec.stages.normalize.registry import FIRST_SEEN, empty_registry, merge_registry, validate_registry

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
        pa.field(FIRST_SEEN, pa.string(), nullable=False),
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


def read_registry(storage: Storage) -> RegistryRead:
    """The newest registry version under the output root.

    Parameters
    ----------
    storage : Storage
        The output root.

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
        frame = validate_registry(table.to_pandas())
    except RegistryError as exc:
        raise RegistryError(f"the query registry {url} is corrupt: {exc}; restore it or delete "
                            f"{storage.url(REGISTRY_DIR)} to rebuild it") from None
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise RegistryError(f"the query registry {url} cannot be read ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0] if str(exc) else ''}); restore it or delete "
                            f"{storage.url(REGISTRY_DIR)} to rebuild it") from None
    log.info("query registry %s: %d forms", url, len(frame))
    return RegistryRead(frame, number, url)


def write_registry(
    storage: Storage,
    new_entries: pd.DataFrame,
    owner: LockOwner,
    *,
    wait_s: float = 300.0,
) -> dict[str, object]:
    """Append a run's new forms to the registry: the next version, under the registry's lock.

    Parameters
    ----------
    storage : Storage
        The output root.
    new_entries : pandas.DataFrame
        ``account_id, canonical, item_id, first_seen`` of the forms the run registered
        (:func:`~alertrec.stages.normalize.registry.new_registry_entries`).
    owner : LockOwner
        Names this run in the lock.
    wait_s : float
        How long to wait for another run (another day) that holds the registry's lock.

    Returns
    -------
    dict
        ``written_version`` (or the version left as it was), ``forms_added``,
        ``forms_total`` and ``taken_by_another_run`` (new forms another run registered
        first, meanwhile, with another id: the registered id stands).

    Raises
    ------
    RegistryError, OutputError
        The registry cannot be read or written; the day is then not published.
    """
    new = validate_registry(new_entries) if len(new_entries) else empty_registry()
    lock = lock_at(storage, REGISTRY_LOCK, owner)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            lock.acquire()
            break
        except LockHeldError:
            if time.monotonic() > deadline:
                raise RegistryError(f"the query registry's lock {storage.url(REGISTRY_LOCK)} was held for more "
                                    f"than {wait_s:.0f} s by another run; rerun when it is done") from None
            time.sleep(1.0)
    try:
        current = read_registry(storage)
        base = current.frame if current.frame is not None else empty_registry()
        if len(base) and len(new):
            both = new.merge(base, on=[S.ACCOUNT_ID, S.CANONICAL], how="left", suffixes=("", "_registered"),
                             indicator=True)
            taken = int(((both["_merge"] == "both") & (both[S.ITEM_ID] != both[S.ITEM_ID + "_registered"])).sum())
            new = new[(both["_merge"] == "left_only").to_numpy()]
        else:
            taken = 0
        info: dict[str, object] = {"forms_added": int(len(new)), "taken_by_another_run": taken}
        if not len(new) and current.frame is not None:
            info.update(written_version=current.version, forms_total=int(len(base)))
            return info
        merged = merge_registry(base, new)
        number = current.version + 1
        rel = f"{REGISTRY_DIR}/v-{number:08d}.parquet"
        buf = io.BytesIO()
        pq.write_table(pa.Table.from_pandas(merged, schema=_ARROW, preserve_index=False), buf, compression="zstd")
        storage.write_bytes(rel, buf.getvalue())
        old = [r for _n, r in _versions(storage)[:-KEEP_VERSIONS]]
        if old:
            storage.delete(old)
        log.info("query registry %s: %d forms (+%d)", storage.url(rel), len(merged), len(new))
        info.update(written_version=number, forms_total=int(len(merged)))
        return info
    finally:
        lock.release()
