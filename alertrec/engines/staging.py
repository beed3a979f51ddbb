"""The run's staging area: the extraction's frames per account, and the workers' hand-offs.

Spark writes the ``sessions``, ``items`` and ``fired`` rows under the staging root as
``frames/account_id=A/frame=F/`` Parquet (:func:`alertrec.io.extract.stage_extraction`); a worker
reads one account's folders alone with pyarrow. The workers leave their prepared state
(``prepared/``) and their recommendations (``results/``) there for the next step. The root
is a local folder (local Spark master) or a URL the executors reach (``s3://``), read and
written through the storage adapters.
"""

from __future__ import annotations

import io
import logging
import os
import pickle
import re
import shutil
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from alertrec import schema as S
from alertrec.io.extract import (
    FIRED_DTYPES,
    FIRED_ORDER,
    ITEM_DTYPES,
    ITEM_ORDER,
    SESSION_DTYPES,
    SESSION_ORDER,
    STAGED_DIR,
    STAGED_FRAME,
    conform_frame,
)
from alertrec.io.storage import Storage, storage_for

log = logging.getLogger(__name__)

FRAMES = {
    "sessions": (SESSION_DTYPES, SESSION_ORDER),
    "items": (ITEM_DTYPES, ITEM_ORDER),
    "fired": (FIRED_DTYPES, FIRED_ORDER),
}
_ACCOUNT_DIR = re.compile(r"^" + re.escape(S.ACCOUNT_ID) + r"=(-?\d+)$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(frozen=True)
class StagingArea:
    """One run's staging root.

    Parameters
    ----------
    root : str
        A local folder or a storage URL (``s3://bucket/prefix``).
    """

    root: str

    @property
    def is_local(self) -> bool:
        """True for a plain folder (read with pyarrow directly)."""
        return not _SCHEME.match(self.root) or self.root.startswith("file://")

    @property
    def local_root(self) -> str:
        """The folder of a local root (``file://`` stripped)."""
        return self.root[len("file://") :] if self.root.startswith("file://") else self.root

    def _storage(self) -> Storage:
        return storage_for(self.root)

    def spark_path(self, name: str) -> str:
        """Where Spark writes frame ``name``."""
        return f"{self.root.rstrip('/')}/{name}"

    # ------------------------------------------------------------------
    def _files(self, rel: str) -> list[str]:
        """Data files (not hidden, not checksums) under ``rel``, relative to the root, sorted."""
        if self.is_local:
            base = os.path.join(self.local_root, rel)
            out = []
            for dirpath, dirnames, filenames in os.walk(base):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith(("_", ".")))
                for f in sorted(filenames):
                    if not f.startswith(("_", ".")) and f.endswith(".parquet"):
                        out.append(os.path.relpath(os.path.join(dirpath, f), self.local_root))
            return sorted(out)
        names = self._storage().list(rel)
        return sorted(
            n for n in names if n.endswith(".parquet") and not any(p.startswith(("_", ".")) for p in n.split("/")[-2:])
        )

    def _read_table(self, rel: str) -> pa.Table:
        if self.is_local:
            return pq.read_table(os.path.join(self.local_root, rel))
        return pq.read_table(io.BytesIO(self._storage().read_bytes(rel)))

    def _footer_rows(self, rel: str) -> int:
        if self.is_local:
            return pq.ParquetFile(os.path.join(self.local_root, rel)).metadata.num_rows
        return pq.ParquetFile(io.BytesIO(self._storage().read_bytes(rel))).metadata.num_rows

    def account_rows(self) -> dict[int, dict[str, int]]:
        """Rows per account and frame, from the Parquet footers (nothing else is read)."""
        out: dict[int, dict[str, int]] = {}
        for rel in self._files(STAGED_DIR):
            parts = rel.split("/")
            m = _ACCOUNT_DIR.match(parts[-3]) if len(parts) >= 3 else None
            name = parts[-2].split("=", 1)[1] if len(parts) >= 2 and "=" in parts[-2] else None
            if not m or name not in FRAMES:
                continue
            counts = out.setdefault(int(m.group(1)), {k: 0 for k in FRAMES})
            counts[name] += self._footer_rows(rel)
        return dict(sorted(out.items()))

    def read_account(self, account_id: int) -> dict[str, pd.DataFrame]:
        """The account's ``sessions``, ``items`` and ``fired`` with the extraction's dtypes."""
        frames = {}
        for name, (dtypes, order) in FRAMES.items():
            rels = self._files(f"{STAGED_DIR}/{S.ACCOUNT_ID}={int(account_id)}/{STAGED_FRAME}={name}")
            tables = [self._read_table(r) for r in rels]
            if tables:
                table = pa.concat_tables(tables, promote_options="default")
                frame = table.select([c for c in table.column_names if c in dtypes]).to_pandas()
            else:
                frame = pd.DataFrame({c: pd.Series([], dtype="object") for c in dtypes if c != S.ACCOUNT_ID})
            frame[S.ACCOUNT_ID] = int(account_id)
            for column in dtypes:
                if column not in frame.columns:
                    frame[column] = None
            frames[name] = conform_frame(frame, dtypes, order)
        return frames

    # ------------------------------------------------------------------
    def put(self, rel: str, data: bytes) -> None:
        """Write a hand-off file (``prepared/...``, ``results/...``)."""
        if self.is_local:
            path = os.path.join(self.local_root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as fh:
                fh.write(data)
        else:
            self._storage().write_bytes(rel, data)

    def get(self, rel: str) -> bytes:
        """Read a hand-off file."""
        if self.is_local:
            with open(os.path.join(self.local_root, rel), "rb") as fh:
                return fh.read()
        return self._storage().read_bytes(rel)

    def put_object(self, rel: str, obj: object) -> None:
        """Pickle ``obj`` to ``rel`` (a worker's state between the two halves)."""
        self.put(rel, pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))

    def get_object(self, rel: str) -> object:
        """Unpickle what :meth:`put_object` wrote (only this run's own files)."""
        return pickle.loads(self.get(rel))  # written by this run's workers: safe to unpickle

    def remove(self) -> None:
        """Delete the whole staging root (after the run, also after a failure)."""
        try:
            if self.is_local:
                shutil.rmtree(self.local_root, ignore_errors=True)
            else:
                storage = self._storage()
                storage.delete(storage.list(""))
        except Exception:  # the run's own outcome matters more than a leftover
            log.warning("could not remove the staging area %s", self.root, exc_info=True)


def prepared_path(account_id: int) -> str:
    """Hand-off of the first half of an account's work."""
    return f"prepared/{S.ACCOUNT_ID}={int(account_id)}.pkl"


def registry_path(account_id: int) -> str:
    """An account's rows of the query registry read at the start of the run (Parquet)."""
    return f"registry/{S.ACCOUNT_ID}={int(account_id)}.parquet"


def result_path(account_id: int) -> str:
    """An account's recommendations, Parquet with the contract's schema."""
    return f"results/{S.ACCOUNT_ID}={int(account_id)}.parquet"
