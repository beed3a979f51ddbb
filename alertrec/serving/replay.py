"""Replay held-out investigations step by step: the next-step model vs the static list vs session-kNN.

For every held-out session of an account (sessions that started on the held-out day,
which the serving folder has not seen), the rankers are asked after the ``alert_opened``
and after every new item, as the UI would refresh:

* ``dynamic`` -- :meth:`alertrec.serving.model.Bundle.rank_codes` (the HTTP answer);
* ``static`` -- the day's published list of the alert as it is shown today: the same
  list at every refresh;
* ``static_unused`` -- the same list without the items already used (a stronger yardstick:
  an item the engineer used leaves the list and the ones below it move up);
* ``session_knn`` -- V-SKNN-style session-kNN over the account's history sessions: the
  ``k`` most similar (cosine of item sets; sessions of the same alert weigh 1, others
  ``other_alert_weight``), candidates scored by the summed similarity of the neighbours
  that used them; the static list when the prefix is empty or has no neighbour.

Metrics (:func:`summarize`), per ranker
---------------------------------------
* ``next_item_hit_rate_at_5``: share of steps (prefix of ``t`` items, ``t`` = 0..n-1) whose
  next item is in the top 5;
* ``root_cause_in_top5_after_{0,1,2}``: resolved sessions whose root cause (the last item
  before ``alert_resolved``: the step that revealed the cause) is in the top 5 after ``t``
  items, among those that had not used it within their first ``t`` items;
* ``dynamic_mttr_s``: the engineer may follow the top 5 of any refresh: simulated time to
  the root cause = min over refreshes ``j`` that show it at rank ``r`` of
  ``time_j + r * 60 s + 30 s``, capped at the real time (the offset of the root cause's
  first use); the mean over resolved sessions, next to the real mean; and the same over
  the sessions whose root cause the published list does not put first
  (``..._list_not_rank1``: the less common failure modes, where a refresh can help).

Pure: frames and a bundle in, frames and plain values out.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alertrec import schema as S
from alertrec.serving.model import Bundle

log = logging.getLogger(__name__)

__all__ = ["SessionKNN", "replay_account", "replay_day", "summarize", "RANKERS"]

RANKERS = ("dynamic", "static", "static_unused", "session_knn")
TOP = 5
SECONDS_PER_RANK = 60.0
SECONDS_TO_OPEN = 30.0


class SessionKNN:
    """Session-kNN over an account's history sessions (catalog codes).

    Parameters
    ----------
    k : int
        Neighbours kept.
    other_alert_weight : float
        Weight of a neighbour of another alert definition (same alert: 1).
    """

    def __init__(self, k: int = 100, other_alert_weight: float = 0.3) -> None:
        self.k = k
        self.other_alert_weight = other_alert_weight

    def fit(self, codes: list[np.ndarray], alert_ids: np.ndarray, n_items: int) -> SessionKNN:
        """Learn the session x item incidence of the history."""
        self.n_items_ = n_items
        self.incidence_ = np.zeros((len(codes), n_items), np.float32)
        for r, c in enumerate(codes):
            self.incidence_[r, c[c >= 0]] = 1.0
        self.size_ = self.incidence_.sum(axis=1)
        self.alert_ids_ = np.asarray(alert_ids, dtype=object)
        return self

    def rank(self, alert_id: str, prefix: np.ndarray, fallback: np.ndarray, top_k: int) -> np.ndarray:
        """Codes of the top ``top_k`` items not in ``prefix``."""
        known = np.unique(prefix[prefix >= 0])
        used = set(prefix.tolist())
        if len(known) == 0 or len(self.size_) == 0:
            return np.array([c for c in fallback if c not in used][:top_k], dtype=np.int64)
        overlap = self.incidence_[:, known].sum(axis=1)
        sim = overlap / np.sqrt(np.maximum(self.size_, 1.0) * len(known))
        sim = sim * np.where(self.alert_ids_ == alert_id, 1.0, self.other_alert_weight)
        top = np.argsort(-sim, kind="stable")[: self.k]
        top = top[sim[top] > 0]
        if len(top) == 0:
            return np.array([c for c in fallback if c not in used][:top_k], dtype=np.int64)
        scores = sim[top] @ self.incidence_[top]
        scores[known] = -np.inf
        scores[[c for c in prefix if c >= 0]] = -np.inf
        order = np.lexsort((np.arange(self.n_items_), -scores))
        order = order[np.isfinite(scores[order]) & (scores[order] > 0)]
        out = [int(c) for c in order[:top_k]]
        for c in fallback:  # fill from the list when the neighbours know fewer items
            if len(out) >= top_k:
                break
            if c not in used and c not in out:
                out.append(int(c))
        return np.array(out[:top_k], dtype=np.int64)


@dataclass(frozen=True)
class Replay:
    """Per-step and per-session records of :func:`replay_account`.

    ``steps``: ranker, session_id, alert_id, step, next_hit (bool), cause_hit (float: NaN
    when the root cause does not count at that step). ``sessions``: ranker, session_id,
    real_s, simulated_s, list_rank (the root cause's rank in the published top 5, 0 when
    absent) of the resolved sessions with a known root cause.
    """

    steps: pd.DataFrame
    sessions: pd.DataFrame


def _test_sequences(bundle: Bundle, sessions: pd.DataFrame, items: pd.DataFrame) -> list[dict[str, Any]]:
    its = items.loc[items[S.ITEM_ID].notna()].sort_values([S.SESSION_ID, S.SEQ], kind="mergesort")
    its = its.drop_duplicates([S.SESSION_ID, S.ITEM_TYPE, S.ITEM_ID])
    by_session = {sid: g for sid, g in its.groupby(S.SESSION_ID, sort=False)}
    out = []
    for r in sessions.sort_values([S.STARTED_AT, S.SESSION_ID], kind="mergesort").itertuples(index=False):
        g = by_session.get(r.session_id)
        if g is None or len(g) == 0:
            continue
        codes = np.array([bundle.catalog.code(t, i) for t, i in zip(g[S.ITEM_TYPE], g[S.ITEM_ID])], dtype=np.int64)
        out.append(
            {
                "session_id": r.session_id,
                "alert_id": str(r.alert_id),
                "resolved": bool(r.resolved),
                "codes": codes,
                "offsets": g[S.OFFSET_S].to_numpy(dtype=float),
            }
        )
    return out


def replay_account(
    bundle: Bundle,
    history_sessions: pd.DataFrame,
    history_items: pd.DataFrame,
    test_sessions: pd.DataFrame,
    test_items: pd.DataFrame,
    knn: SessionKNN | None = None,
) -> Replay:
    """Replay one account's held-out sessions against its serving folder.

    Parameters
    ----------
    bundle : Bundle
        The account's serving folder of the held-out day.
    history_sessions, history_items : pandas.DataFrame
        The window the bundle was built from (the session-kNN's neighbours).
    test_sessions, test_items : pandas.DataFrame
        Held-out sessions of the account and their normalized items.
    knn : SessionKNN, optional
        The baseline's settings (default ``SessionKNN()``).

    Returns
    -------
    Replay
    """
    from alertrec.serving.nextstep.sequences import session_sequences

    hist = session_sequences(history_sessions, history_items, bundle.catalog)
    knn = (knn or SessionKNN()).fit(hist.codes, hist.alert_id, len(bundle.catalog))
    steps, sess_rows = [], []
    for s in _test_sequences(bundle, test_sessions, test_items):
        codes, offsets, alert_id = s["codes"], s["offsets"], s["alert_id"]
        a = bundle.stats.alerts.get(alert_id)
        listed = a.list_codes if a is not None else np.zeros(0, np.int64)
        cause = int(codes[-1]) if s["resolved"] and codes[-1] >= 0 else -1
        cause_at = len(codes) - 1
        best = {name: np.inf for name in RANKERS}
        for t in range(len(codes)):
            prefix = codes[:t]
            elapsed = float(offsets[t - 1]) if t else 0.0
            tops = {
                "dynamic": bundle.rank_codes(alert_id, prefix, elapsed, TOP),
                "static": np.asarray(listed[:TOP], dtype=np.int64),
                "static_unused": np.array([c for c in listed if c not in set(prefix.tolist())][:TOP], dtype=np.int64),
                "session_knn": knn.rank(alert_id, prefix, listed, TOP),
            }
            for name, top in tops.items():
                hit_next = bool(codes[t] >= 0 and codes[t] in top)
                cause_hit = np.nan
                if cause >= 0 and t <= cause_at:
                    cause_hit = float(cause in top)
                    if cause in top:
                        r = int(np.flatnonzero(top == cause)[0]) + 1
                        best[name] = min(best[name], elapsed + r * SECONDS_PER_RANK + SECONDS_TO_OPEN)
                steps.append((name, s["session_id"], alert_id, t, hit_next, cause_hit))
        if cause >= 0:
            real = float(offsets[cause_at])
            hits = np.flatnonzero(np.asarray(listed[:TOP]) == cause)
            list_rank = int(hits[0]) + 1 if len(hits) else 0
            for name in RANKERS:
                sess_rows.append((name, s["session_id"], real, min(best[name], real), list_rank))
    return Replay(
        steps=pd.DataFrame(steps, columns=["ranker", S.SESSION_ID, S.ALERT_ID, "step", "next_hit", "cause_hit"]),
        sessions=pd.DataFrame(sess_rows, columns=["ranker", S.SESSION_ID, "real_s", "simulated_s", "list_rank"]),
    )


def replay_day(
    bundles: Mapping[int, Bundle],
    history_sessions: pd.DataFrame,
    history_items: pd.DataFrame,
    test_sessions: pd.DataFrame,
    test_items: pd.DataFrame,
) -> list[Replay]:
    """:func:`replay_account` for every account of one held-out day (what ``alertrec evaluate``
    calls per day; :func:`summarize` the result of several days).

    Parameters
    ----------
    bundles : mapping
        account_id -> the account's :class:`Bundle` of the day (``Bundle.from_files`` of
        :func:`~alertrec.serving.bundle.build_serving_files`, or :func:`load_bundle`).
    history_sessions, history_items, test_sessions, test_items : pandas.DataFrame
        All accounts' frames of the window and of the held-out day; split by ``account_id``
        here.

    Returns
    -------
    list of Replay
        One per account with held-out sessions, in account order.
    """
    out = []
    hist_acc = history_sessions[S.ACCOUNT_ID].astype("int64").to_numpy()
    test_acc = test_sessions[S.ACCOUNT_ID].astype("int64").to_numpy()
    for account in sorted(int(a) for a in bundles):
        ts = test_sessions[test_acc == account]
        if ts.empty:
            continue
        hs = history_sessions[hist_acc == account]
        out.append(
            replay_account(
                bundles[account],
                hs,
                history_items[history_items[S.SESSION_ID].isin(hs[S.SESSION_ID])],
                ts,
                test_items[test_items[S.SESSION_ID].isin(ts[S.SESSION_ID])],
            )
        )
    return out


def summarize(replays: list[Replay]) -> dict[str, dict[str, float]]:
    """The metrics of the module docstring per ranker, over several accounts and days."""
    steps = (
        pd.concat([r.steps for r in replays], ignore_index=True)
        if replays
        else pd.DataFrame(columns=["ranker", "step", "next_hit", "cause_hit"])
    )
    sess = (
        pd.concat([r.sessions for r in replays], ignore_index=True)
        if replays
        else pd.DataFrame(columns=["ranker", "real_s", "simulated_s"])
    )
    out: dict[str, dict[str, float]] = {}
    for name in RANKERS:
        st = steps[steps["ranker"] == name]
        se = sess[sess["ranker"] == name]
        row: dict[str, float] = {
            "steps": int(len(st)),
            "next_item_hit_rate_at_5": float(st["next_hit"].mean()) if len(st) else float("nan"),
        }
        for t in (0, 1, 2):
            c = st.loc[st["step"] == t, "cause_hit"].dropna()
            row[f"root_cause_in_top5_after_{t}"] = float(c.mean()) if len(c) else float("nan")
        row["resolved_sessions"] = int(len(se))
        row["dynamic_mttr_s"] = float(se["simulated_s"].mean()) if len(se) else float("nan")
        row["real_time_to_cause_s"] = float(se["real_s"].mean()) if len(se) else float("nan")
        miss = se[se["list_rank"] != 1]
        row["sessions_list_not_rank1"] = int(len(miss))
        row["dynamic_mttr_s_list_not_rank1"] = float(miss["simulated_s"].mean()) if len(miss) else float("nan")
        row["real_time_to_cause_s_list_not_rank1"] = float(miss["real_s"].mean()) if len(miss) else float("nan")
        out[name] = row
    return out
