"""Graded labels of later sessions, and the labelled candidate lists the ranker trains on."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from alertrec import schema as S
from alertrec.stages.features.arrays import _non_blank_mask
from alertrec.stages.features.candidates import _empty_features, candidate_features
from alertrec.stages.features.columns import (
    _DAY_S,
    _ITEM,
    _KEY,
    COLD,
    COLD_NEW,
    COLD_NONE,
    COLD_TWIN,
    CUTOFF,
    GAIN,
    GRADE,
    GRADE_LAST,
    GRADE_RESOLVED,
    GRADE_USED,
    LIST_ID,
    LIST_WEIGHT,
    PRIOR,
)
from alertrec.stages.features.history import SessionItems, history_stats_at
from alertrec.stages.features.params import FeatureParams

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------
# labels and training lists
# ---------------------------------------------------------------------------
def graded_labels(hist: SessionItems, start_s: float, end_s: float) -> pd.DataFrame:
    """What the sessions that started in ``[start_s, end_s)`` did with each item.

    Parameters
    ----------
    hist : SessionItems
    start_s, end_s : float
        Epoch seconds.

    Returns
    -------
    pandas.DataFrame
        ``session_id, account_id, alert_id, item_type, item_id, grade``: 1 used,
        2 used in a resolved session, 3 the last item before the session's
        ``alert_resolved``. Sorted by (account_id, alert_id, session_id, item).
    """
    p = hist.pairs
    p = p[(p["_start_s"] >= start_s) & (p["_start_s"] < end_s)]
    grade = np.where(
        p[S.RESOLVED].to_numpy() & p["_is_last"].to_numpy(),
        GRADE_LAST,
        np.where(p[S.RESOLVED].to_numpy(), GRADE_RESOLVED, GRADE_USED),
    )
    out = p[[S.SESSION_ID, *_KEY, *_ITEM]].assign(**{GRADE: grade.astype("int64")})
    return out.sort_values([*_KEY, S.SESSION_ID, *_ITEM], kind="mergesort").reset_index(drop=True)


def training_lists(
    hist: SessionItems,
    window_start: pd.Timestamp,
    window_end: pd.Timestamp,
    params: FeatureParams,
    train_days: int = 7,
    cold_copies: bool = True,
    assignments: pd.DataFrame | None = None,
    gains: tuple[float, float, float] = (1.0, 3.0, 7.0),
    stack_rows: int = 200_000,
) -> pd.DataFrame:
    """Labelled candidate lists of the last ``train_days`` days of the window.

    For each cutoff ``c = window_end - j days`` (``j = 1..train_days``, not before
    ``window_start + 1 day``), features are computed as of ``c`` and labelled by
    the sessions that started in ``[c, c + 1 day)``: one list per (definition,
    cutoff) with such sessions. Each session's ``gains[grade - 1]`` (by default
    ``2 ** grade - 1``: 1, 3, 7) over the
    list's candidates are normalized to sum to 1, and the list's ``gain`` is
    their mean over its sessions (a softmax cross-entropy on it equals the sum of
    the per-session losses divided by the session count); ``list_weight`` is the
    number of sessions that used at least one candidate. With ``cold_copies``,
    every list is repeated with ``cold = True`` (the definition's own history
    ignored), so the model also learns to rank for never-investigated definitions.

    The cutoffs' histories are aggregated together (:func:`history_stats_at`), in
    groups of at most ``stack_rows`` stacked (session, item) rows (at least one cutoff
    per group): the grouping changes the memory and speed, never the result. (Measured on
    the 2.05M-row world, 2 workers: 1,000,000 gave a 4.2 GiB process-tree peak, 200,000
    3.5 GiB at the same prepare time, 27-29 s.)

    Returns
    -------
    pandas.DataFrame
        :func:`candidate_features` columns plus ``cutoff`` (epoch s), ``list_id``
        (int, 0.. in (cutoff, account_id, alert_id, cold) order), ``gain`` and
        ``list_weight``. Empty when no cutoff has labelled sessions.
    """
    start_s = pd.Timestamp(window_start).timestamp()
    end_s = pd.Timestamp(window_end).timestamp()
    days: list[tuple[float, pd.DataFrame, pd.DataFrame]] = []  # (cutoff, labels, targets)
    for j in range(int(train_days), 0, -1):
        c = end_s - j * _DAY_S
        if c < start_s + _DAY_S:
            continue
        labels = graded_labels(hist, c, c + _DAY_S)
        if labels.empty:
            continue
        sess = hist.sessions
        day_sess = sess[(sess["_start_s"] >= c) & (sess["_start_s"] < c + _DAY_S)]
        titles = day_sess[_non_blank_mask(day_sess[S.ALERT_TITLE])].drop_duplicates(_KEY, keep="last")
        targets = labels[_KEY].drop_duplicates().merge(titles[[*_KEY, S.ALERT_TITLE]], on=_KEY, how="left")
        targets[COLD] = COLD_NONE
        if cold_copies:
            targets = pd.concat(
                [targets, targets.assign(**{COLD: COLD_NEW}), targets.assign(**{COLD: COLD_TWIN})], ignore_index=True
            )
        days.append((c, labels, targets))
    gain_of = np.asarray((0.0, *gains), dtype=float)
    frames = [_labelled_lists(hist, chunk, params, assignments, gain_of) for chunk in _chunks(hist, days, stack_rows)]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return _empty_features().assign(
            **{
                CUTOFF: pd.Series([], dtype=float),
                LIST_ID: pd.Series([], dtype="int64"),
                GAIN: pd.Series([], dtype=float),
                LIST_WEIGHT: pd.Series([], dtype=float),
            }
        )
    out = pd.concat(frames, ignore_index=True)
    out[LIST_ID] = out.groupby([CUTOFF, *_KEY, COLD], sort=True).ngroup().astype("int64")
    out[LIST_WEIGHT] = out[LIST_WEIGHT].astype(float)
    return out.sort_values(
        [LIST_ID, PRIOR, S.ITEM_TYPE, S.ITEM_ID], ascending=[True, False, True, True], kind="mergesort"
    ).reset_index(drop=True)


def _chunks(
    hist: SessionItems, days: list[tuple[float, pd.DataFrame, pd.DataFrame]], stack_rows: int
) -> list[list[tuple[float, pd.DataFrame, pd.DataFrame]]]:
    """``days`` in consecutive groups of at most ``stack_rows`` stacked pair rows (one day at least)."""
    start = hist.pairs["_start_s"].to_numpy()
    first = hist.pairs["_first_ts_s"].to_numpy()
    out: list[list[tuple[float, pd.DataFrame, pd.DataFrame]]] = []
    rows = 0
    for day in days:
        c = day[0]
        n = int(((start < c) & (first < c)).sum())
        if out and rows + n <= stack_rows:
            out[-1].append(day)
            rows += n
        else:
            out.append([day])
            rows = n
    return out


def _labelled_lists(
    hist: SessionItems,
    days: list[tuple[float, pd.DataFrame, pd.DataFrame]],
    params: FeatureParams,
    assignments: pd.DataFrame | None,
    gain_of: np.ndarray,
) -> pd.DataFrame:
    """The labelled lists of ``days`` (cutoff, labels, targets), from one stacked aggregation."""
    stacked = history_stats_at(hist, [c for c, _, _ in days], params, assignments)
    targets = pd.concat([stacked.stack(t, c) for c, _, t in days], ignore_index=True)
    feats = candidate_features(stacked.stats, targets, params)
    if feats.empty:
        return feats
    labels = pd.concat([stacked.stack(lab, c) for c, lab, _ in days], ignore_index=True)
    graded = labels.assign(_g=gain_of[labels[GRADE].to_numpy(dtype=np.int64)])
    joined = feats[[*_KEY, COLD, *_ITEM]].reset_index().merge(graded, on=_KEY + _ITEM, how="inner")
    # normalize per (list, session) over the candidates the session used
    joined["_g"] = joined["_g"] / joined.groupby([*_KEY, COLD, S.SESSION_ID])["_g"].transform("sum")
    n_sess = joined.groupby([*_KEY, COLD])[S.SESSION_ID].nunique().rename(LIST_WEIGHT).reset_index()
    per_row = joined.groupby("index")["_g"].sum()
    feats = feats.assign(**{GAIN: 0.0})
    feats.loc[per_row.index, GAIN] = per_row.to_numpy()
    feats = feats.merge(n_sess, on=[*_KEY, COLD], how="inner")
    feats[GAIN] = feats[GAIN] / feats[LIST_WEIGHT]
    account, cutoff = stacked.unstack(feats)
    feats[S.ACCOUNT_ID] = account
    feats[CUTOFF] = cutoff
    return feats
