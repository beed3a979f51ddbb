"""The catalog: one account's items and their codes.

:class:`Catalog` codes the items (dashboards, canonical queries) of an account
``0..n-1`` in (item_type, item_id) order and keeps their labels and the canonical
query forms; :func:`build_catalog` builds it from the normalized items and the
published lists. Saved as ``catalog.json`` of the serving folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from alertrec import schema as S

__all__ = ["Catalog", "build_catalog"]


@dataclass(frozen=True)
class Catalog:
    """The items of one account, coded ``0..n-1`` in (item_type, item_id) order.

    Attributes
    ----------
    item_type, item_id, item_label : numpy.ndarray
        Object arrays, one entry per code.
    canonical : dict
        Canonical query form -> item id (so that a raw query text of a request maps to
        the published id, near-duplicate links included).
    """

    item_type: np.ndarray
    item_id: np.ndarray
    item_label: np.ndarray
    canonical: dict[str, str]
    code_of: dict[tuple[str, str], int] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if not self.code_of:
            self.code_of.update({(t, i): c for c, (t, i) in enumerate(zip(self.item_type, self.item_id))})

    def __len__(self) -> int:
        return len(self.item_id)

    @property
    def is_query(self) -> np.ndarray:
        """Float array: 1.0 for queries."""
        return (self.item_type == S.ITEM_QUERY).astype(np.float64)

    def code(self, item_type: str, item_id: str) -> int:
        """The code of an item, -1 when the catalog does not know it."""
        return self.code_of.get((item_type, item_id), -1)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form (``catalog.json`` of the serving folder)."""
        return {
            "items": [
                {S.ITEM_TYPE: t, S.ITEM_ID: i, S.ITEM_LABEL: lab}
                for t, i, lab in zip(self.item_type, self.item_id, self.item_label)
            ],
            "canonical": dict(sorted(self.canonical.items())),
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Catalog:
        """Inverse of :meth:`to_json`."""
        items = doc["items"]
        return cls(
            item_type=np.array([r[S.ITEM_TYPE] for r in items], dtype=object),
            item_id=np.array([r[S.ITEM_ID] for r in items], dtype=object),
            item_label=np.array([r[S.ITEM_LABEL] for r in items], dtype=object),
            canonical=dict(doc.get("canonical", {})),
        )


def build_catalog(items: pd.DataFrame, recommendations: pd.DataFrame) -> Catalog:
    """The catalog of one account's normalized ``items`` and published ``recommendations``.

    Labels are the published ``item_label`` where an item is in a list (the answer must
    show the same labels as the lists), else the most frequent ``item_label`` of the items.
    """
    cols = [S.ITEM_TYPE, S.ITEM_ID, S.ITEM_LABEL]
    its = items.loc[items[S.ITEM_ID].notna(), cols]
    counts = its.groupby(cols, sort=True).size().rename("_n").reset_index()
    counts = counts.sort_values(
        [S.ITEM_TYPE, S.ITEM_ID, "_n", S.ITEM_LABEL], ascending=[True, True, False, True], kind="mergesort"
    ).drop_duplicates([S.ITEM_TYPE, S.ITEM_ID])
    recs = recommendations[cols].drop_duplicates([S.ITEM_TYPE, S.ITEM_ID]) if len(recommendations) else None
    frame = counts[cols]
    if recs is not None:
        frame = pd.concat([recs, frame], ignore_index=True).drop_duplicates([S.ITEM_TYPE, S.ITEM_ID], keep="first")
    frame = frame.sort_values([S.ITEM_TYPE, S.ITEM_ID], kind="mergesort")
    labels = frame[S.ITEM_LABEL].where(frame[S.ITEM_LABEL].notna(), frame[S.ITEM_ID])
    canonical: dict[str, str] = {}
    if S.CANONICAL in items.columns:
        q = items.loc[items[S.CANONICAL].notna() & items[S.ITEM_ID].notna(), [S.CANONICAL, S.ITEM_ID]]
        q = q.drop_duplicates().sort_values([S.CANONICAL, S.ITEM_ID], kind="mergesort")
        canonical = dict(zip(q[S.CANONICAL].astype(str), q[S.ITEM_ID].astype(str)))
    return Catalog(
        item_type=frame[S.ITEM_TYPE].to_numpy(dtype=object).astype(str).astype(object),
        item_id=frame[S.ITEM_ID].to_numpy(dtype=object).astype(str).astype(object),
        item_label=labels.to_numpy(dtype=object).astype(str).astype(object),
        canonical=canonical,
    )
