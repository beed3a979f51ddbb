"""The sessions' distinct items in order of first use, as catalog codes.

:class:`Sequences` holds one row per session (alert, resolved flag, start, and the
codes and offsets of its first uses); :func:`session_sequences` builds it from the
sessions and normalized items with a :class:`~alertrec.serving.nextstep.catalog.Catalog`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from alertrec import schema as S
from alertrec.serving.nextstep.catalog import Catalog

__all__ = ["Sequences", "session_sequences"]


@dataclass(frozen=True)
class Sequences:
    """One row per session: its alert, resolved flag, start, and first uses in order.

    ``codes[i]`` / ``offsets[i]``: catalog codes and offsets (s) of the distinct items of
    session ``session_id[i]`` in order of first use.
    """

    session_id: np.ndarray
    alert_id: np.ndarray
    resolved: np.ndarray
    started_s: np.ndarray
    codes: list[np.ndarray]
    offsets: list[np.ndarray]


def session_sequences(sessions: pd.DataFrame, items: pd.DataFrame, catalog: Catalog) -> Sequences:
    """The sessions' distinct items in order of first use, as catalog codes.

    Parameters
    ----------
    sessions : pandas.DataFrame
        ``session_id, alert_id, started_at, resolved``.
    items : pandas.DataFrame
        Normalized items: ``session_id, seq, offset_s, item_type, item_id``; rows without
        an ``item_id`` or unknown to the catalog are dropped.
    catalog : Catalog

    Returns
    -------
    Sequences
        Sorted by (started_at, session_id).
    """
    sess = sessions[[S.SESSION_ID, S.ALERT_ID, S.STARTED_AT, S.RESOLVED]].drop_duplicates(S.SESSION_ID)
    sess = sess.sort_values([S.STARTED_AT, S.SESSION_ID], kind="mergesort")
    its = items.loc[items[S.ITEM_ID].notna(), [S.SESSION_ID, S.SEQ, S.OFFSET_S, S.ITEM_TYPE, S.ITEM_ID]]
    its = its.sort_values([S.SESSION_ID, S.SEQ], kind="mergesort").drop_duplicates(
        [S.SESSION_ID, S.ITEM_TYPE, S.ITEM_ID]
    )
    code = np.fromiter(
        (catalog.code(t, i) for t, i in zip(its[S.ITEM_TYPE], its[S.ITEM_ID])), dtype=np.int64, count=len(its)
    )
    its = its.assign(_code=code)
    its = its[its["_code"] >= 0]
    by_session = {
        sid: (g["_code"].to_numpy(dtype=np.int64), g[S.OFFSET_S].to_numpy(dtype=np.float64))
        for sid, g in its.groupby(S.SESSION_ID, sort=False)
    }
    empty = (np.zeros(0, np.int64), np.zeros(0, np.float64))
    sids = sess[S.SESSION_ID].to_numpy(dtype=object)
    pairs = [by_session.get(s, empty) for s in sids]
    started = pd.to_datetime(sess[S.STARTED_AT], utc=True).astype("int64").to_numpy() / 1e9
    return Sequences(
        session_id=sids,
        alert_id=sess[S.ALERT_ID].astype(str).to_numpy(dtype=object),
        resolved=sess[S.RESOLVED].fillna(False).astype(bool).to_numpy(),
        started_s=started.astype(np.float64),
        codes=[p[0] for p in pairs],
        offsets=[p[1] for p in pairs],
    )
