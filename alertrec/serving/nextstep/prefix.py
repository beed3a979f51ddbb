"""The features of an investigation's prefix: its candidates and :data:`FEATURES`.

:func:`prefix_features` takes the items used so far (the *prefix*, catalog codes in order
of first use) and the account's :class:`~alertrec.serving.nextstep.stats.HistoryStats`,
and returns the candidates (:class:`PrefixFeatures`) with their feature rows and prior;
:func:`_open_end_dtw` aligns the prefix to the medoid of an investigation pattern.

Features of a candidate ``c`` given the prefix (``last`` = the prefix's last item)
------------------------------------------------------------------------------------
==================  ===================================================================
trans_alert         P(next = c | last) among this alert's transitions (from the opening
                    when the prefix is empty)
trans_skip          P(c two steps after the second-to-last item), this alert
trans_account       P(next = c | last), account-wide
cooc_mean           mean over prefix items j of P(c used | j used), account-wide
knn_alert           session-kNN over the alert's recent sessions: Σ sim·[c used] / Σ sim,
                    sim = cosine of the item sets
knn_cause           the same neighbours: Σ sim·[c was the root cause] / Σ sim over the
                    resolved ones (the root cause: the last item before ``alert_resolved``)
pattern_support     share of the matched pattern's sessions that used c
pattern_cause       share of the matched pattern's resolved sessions whose root cause was c
pattern_ahead       1 / (1 + d) when c follows the aligned position of the matched pattern's
                    medoid at distance d, else 0
pattern_quality     1 - open-end DTW distance (0/1 item costs, per step) of the prefix to the
                    matched medoid's prefix
static_inv_rank     1 / rank of c in the day's published list of the alert, 0 when absent
list_rank_unused    1 / rank of c in that list once the used items are taken out
own_use             share of the alert's sessions that used c
last_share          share of the alert's resolved sessions whose last item was c
pos_gap             c's mean first-use position minus the number of items used (0 when unseen)
offset_gap          c's mean log1p first-use offset minus log1p(seconds since the opening)
log_elapsed         log1p(seconds since the opening)
log_steps           log1p(items used)
is_query            1 for a query
account_pop         share of the account's sessions that used c
in_alert_vocab      1 when the alert's own sessions or list know c
last_known          1 when the prefix's last item is in the catalog
==================  ===================================================================

The pattern matched is the cluster of the alert with the best ``mean support of the
prefix items - DTW distance``. The prior = ``trans_alert + 0.5 knn_alert + 0.5 knn_cause
+ 0.3 pattern_support * pattern_quality + 0.2 static_inv_rank + 0.1 own_use + 0.01
account_pop`` caps the candidates and is the fixed part of the score (``prior_scale * prior + MLP(x)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alertrec.serving.nextstep.stats import HistoryStats

__all__ = ["FEATURES", "MAX_CANDIDATES", "PrefixFeatures", "prefix_features"]

FEATURES: tuple[str, ...] = (
    "trans_alert",
    "trans_skip",
    "trans_account",
    "cooc_mean",
    "knn_alert",
    "knn_cause",
    "pattern_support",
    "pattern_cause",
    "pattern_ahead",
    "pattern_quality",
    "static_inv_rank",
    "list_rank_unused",
    "own_use",
    "last_share",
    "pos_gap",
    "offset_gap",
    "log_elapsed",
    "log_steps",
    "is_query",
    "account_pop",
    "in_alert_vocab",
    "last_known",
)
_F = {name: i for i, name in enumerate(FEATURES)}
MAX_CANDIDATES = 48
MAX_PREFIX_DTW = 12  # items of the prefix aligned to the medoids
MAX_MEDOID_DTW = 24
N_ACCOUNT_SUCCESSORS = 10


def _open_end_dtw(prefix: np.ndarray, medoid: np.ndarray) -> tuple[float, int]:
    """Open-end DTW of ``prefix`` against a prefix of ``medoid`` with 0/1 item costs.

    Returns the per-step distance (0..1) and the medoid position the prefix's end aligns to.
    """
    n, m = len(prefix), len(medoid)
    if n == 0 or m == 0:
        return 1.0, -1
    cost = (prefix[:, None] != medoid[None, :]).astype(np.float64)
    d = np.full((n, m), np.inf)
    d[0] = np.cumsum(cost[0])
    for i in range(1, n):
        prev = d[i - 1]
        best = np.minimum(prev, np.concatenate([[np.inf], prev[:-1]]))
        row = cost[i] + best
        # the horizontal moves (the same prefix item aligned to several medoid items), left to right
        for j in range(1, m):
            alt = row[j - 1] + cost[i, j]
            if alt < row[j]:
                row[j] = alt
        d[i] = row
    j = int(np.argmin(d[-1]))
    return float(d[-1, j] / n), j


@dataclass
class PrefixFeatures:
    """Candidates of one prefix and their features."""

    codes: np.ndarray  # catalog codes
    x: np.ndarray  # float [n, len(FEATURES)]
    prior: np.ndarray  # float [n]
    matched: int  # cluster matched (-1 none)


def prefix_features(
    stats: HistoryStats,
    alert_id: str,
    prefix: np.ndarray,
    elapsed_s: float,
    is_query: np.ndarray,
    max_candidates: int = MAX_CANDIDATES,
) -> PrefixFeatures:
    """Candidates (items not in ``prefix``) and the features of :data:`FEATURES`.

    Parameters
    ----------
    stats : HistoryStats
    alert_id : str
    prefix : numpy.ndarray
        Catalog codes of the items used so far, in order of first use (-1 = unknown item).
    elapsed_s : float
        Seconds from the opening to the last event so far.
    is_query : numpy.ndarray
        :attr:`Catalog.is_query`.
    max_candidates : int
        Candidates kept, by the prior.
    """
    n = stats.n_items
    a = stats.alerts.get(alert_id)
    known = prefix[prefix >= 0]
    last = int(prefix[-1]) if len(prefix) else -1
    cand = [np.arange(0)]
    if a is not None:
        cand.append(a.vocab)
    if last >= 0:
        cols, vals = stats.trans.row(last)
        cand.append(cols[np.argsort(-vals, kind="stable")[:N_ACCOUNT_SUCCESSORS]].astype(np.int64))
    cand.append(stats.popular)
    codes = np.unique(np.concatenate(cand).astype(np.int64))
    if len(known):
        codes = codes[~np.isin(codes, known)]
    x = np.zeros((len(codes), len(FEATURES)))
    if len(codes) == 0:
        return PrefixFeatures(codes, x, np.zeros(0), -1)
    steps = len(prefix)
    log_elapsed = np.log1p(max(float(elapsed_s), 0.0))
    x[:, _F["log_elapsed"]] = log_elapsed
    x[:, _F["log_steps"]] = np.log1p(steps)
    x[:, _F["is_query"]] = is_query[codes]
    x[:, _F["account_pop"]] = stats.pop[codes]
    x[:, _F["last_known"]] = 1.0 if last >= 0 else 0.0
    if last >= 0:
        cols, vals = stats.trans.row(last)
        total = float(vals.sum())
        if total > 0:
            dense = np.zeros(n)
            dense[cols] = vals / total
            x[:, _F["trans_account"]] = dense[codes]
    if len(known):
        dense = np.zeros(n)
        for j in known:
            cols, vals = stats.cooc.row(int(j))
            dense[cols] += vals
        x[:, _F["cooc_mean"]] = dense[codes] / len(known)
    matched = -1
    if a is not None:
        loc = a.local[codes]
        inv = loc >= 0
        li = loc[inv]
        x[inv, _F["in_alert_vocab"]] = 1.0
        x[inv, _F["own_use"]] = a.use[li]
        x[inv, _F["last_share"]] = a.last[li]
        seen = a.use[li] > 0
        pos_gap = np.where(seen, a.pos[li] - steps, 0.0)
        off_gap = np.where(seen, a.log_offset[li] - log_elapsed, 0.0)
        x[inv, _F["pos_gap"]] = pos_gap
        x[inv, _F["offset_gap"]] = off_gap
        pl = a.local[known] if len(known) else np.zeros(0, np.int64)
        row = 0 if steps == 0 else (int(a.local[last]) + 1 if last >= 0 and a.local[last] >= 0 else -1)
        if row >= 0:
            counts = a.trans[row]
            total = float(counts.sum())
            if total > 0:
                x[inv, _F["trans_alert"]] = counts[li] / total
        if steps >= 2 and prefix[-2] >= 0 and a.local[prefix[-2]] >= 0:
            counts = a.skip[int(a.local[prefix[-2]])]
            total = float(counts.sum())
            if total > 0:
                x[inv, _F["trans_skip"]] = counts[li] / total
        # session-kNN over the alert's recent sessions
        if len(a.incidence) and len(pl):
            pk = pl[pl >= 0]
            if len(pk):
                overlap = a.incidence[:, pk].sum(axis=1)
                size = a.incidence.sum(axis=1)
                sim = overlap / np.sqrt(np.maximum(size, 1) * len(pk))
                total = float(sim.sum())
                if total > 0:
                    x[inv, _F["knn_alert"]] = (sim @ a.incidence[:, li]) / total
                resolved = a.cause >= 0
                total_r = float(sim[resolved].sum())
                if total_r > 0:
                    by_cause = np.bincount(a.cause[resolved], weights=sim[resolved], minlength=len(a.vocab))
                    x[inv, _F["knn_cause"]] = by_cause[li] / total_r
        # the investigation pattern matched
        if len(a.medoids) and len(pl):
            pd_ = pl[:MAX_PREFIX_DTW]
            best: tuple[float, int, float, int] | None = None
            for k, med in enumerate(a.medoids):
                dist, j = _open_end_dtw(pd_, med[:MAX_MEDOID_DTW])
                sup = float(a.support[k, pl[pl >= 0]].mean()) if (pl >= 0).any() else 0.0
                score = sup - dist
                if best is None or score > best[0] + 1e-12:
                    best = (score, k, dist, j)
            assert best is not None  # a.medoids is not empty
            _, matched, dist, j = best
            x[inv, _F["pattern_support"]] = a.support[matched, li]
            x[inv, _F["pattern_cause"]] = a.cluster_cause[matched, li]
            x[:, _F["pattern_quality"]] = 1.0 - dist
            med = a.medoids[matched]
            if j >= 0:
                ahead = np.zeros(len(a.vocab))
                for d, c in enumerate(med[j + 1 :][::-1]):
                    ahead[c] = 1.0 / (1.0 + (len(med) - j - 2 - d))
                x[inv, _F["pattern_ahead"]] = ahead[li]
        if len(a.list_codes):
            rank = np.zeros(n)
            rank[a.list_codes] = 1.0 / np.arange(1, len(a.list_codes) + 1)
            x[:, _F["static_inv_rank"]] = rank[codes]
            rest = a.list_codes[~np.isin(a.list_codes, known)] if len(known) else a.list_codes
            rank = np.zeros(n)
            rank[rest] = 1.0 / np.arange(1, len(rest) + 1)
            x[:, _F["list_rank_unused"]] = rank[codes]
    prior = (
        x[:, _F["trans_alert"]]
        + 0.5 * x[:, _F["knn_alert"]]
        + 0.5 * x[:, _F["knn_cause"]]
        + 0.3 * x[:, _F["pattern_support"]] * x[:, _F["pattern_quality"]]
        + 0.2 * x[:, _F["static_inv_rank"]]
        + 0.1 * x[:, _F["own_use"]]
        + 0.01 * x[:, _F["account_pop"]]
    )
    if len(codes) > max_candidates:
        keep = np.sort(np.lexsort((codes, -prior))[:max_candidates])
        codes, x, prior = codes[keep], x[keep], prior[keep]
    return PrefixFeatures(codes, x, prior, matched)
