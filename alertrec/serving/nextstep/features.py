"""The next-step model: features of an investigation's prefix and the numpy scorer.

Contract terms (``docs/contract.md``, "Serving"): an investigation's events so far
become the *prefix*, the distinct items (dashboards, canonical queries) it used, in
order of first use. For every item not yet used the model computes the features of
:data:`FEATURES` from the account's history statistics (:class:`HistoryStats`, kept
in the serving folder as arrays) and scores them with a small MLP whose weights were
trained nightly (``alertrec.mxnet_ranker.train_next_step_scorer``) and exported to
numpy, so a server answers without mxnet.

History statistics (one account, computed from its sessions and normalized items)
------------------------------------------------------------------------------------
Per alert definition, over a local vocabulary (the items its sessions used plus the
items of its published list): the share of its sessions that used each item, the share
of its resolved sessions whose last item it was (the step that revealed the cause), its
mean position and log offset of first use, the first-order transition counts between
first uses (row 0 = from the ``alert_opened``), the skip-one transition counts, a
session x item incidence of its most recent sessions (for the session-kNN feature), and
its investigation patterns: the DTW clusters of the cluster stage (medoid sequences and
the share of each cluster's sessions that used each item). Account-wide: transition
counts and the co-occurrence ``P(c used | j used)`` as CSR arrays, and each item's share
of the account's sessions.

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

Nothing here imports mxnet, reads a clock, a path or the environment.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from alertrec import schema as S

log = logging.getLogger(__name__)

__all__ = [
    "FEATURES",
    "Catalog",
    "AlertStats",
    "HistoryStats",
    "Scorer",
    "history_stats",
    "session_sequences",
    "training_lists",
]

FEATURES: tuple[str, ...] = (
    "trans_alert", "trans_skip", "trans_account", "cooc_mean", "knn_alert", "knn_cause",
    "pattern_support", "pattern_cause", "pattern_ahead", "pattern_quality", "static_inv_rank",
    "list_rank_unused", "own_use", "last_share", "pos_gap", "offset_gap", "log_elapsed",
    "log_steps", "is_query", "account_pop", "in_alert_vocab", "last_known",
)
_F = {name: i for i, name in enumerate(FEATURES)}
MAX_CANDIDATES = 48
MAX_PREFIX_DTW = 12  # items of the prefix aligned to the medoids
MAX_MEDOID_DTW = 24
KNN_SESSIONS = 300
N_ACCOUNT_SUCCESSORS = 10
N_ACCOUNT_POPULAR = 10
_CLUSTER = "cluster"


# ---------------------------------------------------------------------------
# catalog: the account's items and their codes
# ---------------------------------------------------------------------------
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
    def from_json(cls, doc: dict[str, Any]) -> "Catalog":
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
    counts = counts.sort_values([S.ITEM_TYPE, S.ITEM_ID, "_n", S.ITEM_LABEL], ascending=[True, True, False, True],
                                kind="mergesort").drop_duplicates([S.ITEM_TYPE, S.ITEM_ID])
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


# ---------------------------------------------------------------------------
# sequences
# ---------------------------------------------------------------------------
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
    its = its.sort_values([S.SESSION_ID, S.SEQ], kind="mergesort").drop_duplicates([S.SESSION_ID, S.ITEM_TYPE, S.ITEM_ID])
    code = np.fromiter((catalog.code(t, i) for t, i in zip(its[S.ITEM_TYPE], its[S.ITEM_ID])), dtype=np.int64,
                       count=len(its))
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


# ---------------------------------------------------------------------------
# statistics
# ---------------------------------------------------------------------------
@dataclass
class AlertStats:
    """The history statistics of one alert definition (see the module docstring).

    Local index ``v`` of ``vocab`` (catalog codes); ``local`` maps a catalog code to
    ``v`` (-1 when the alert does not know it).
    """

    vocab: np.ndarray  # int64 [V]
    n_sessions: int
    n_resolved: int
    use: np.ndarray  # float [V]
    last: np.ndarray  # float [V]
    pos: np.ndarray  # float [V]
    log_offset: np.ndarray  # float [V]
    trans: np.ndarray  # float32 [V+1, V] counts (row 0: from the opening)
    skip: np.ndarray  # float32 [V, V] counts
    incidence: np.ndarray  # uint8 [sessions, V]
    cause: np.ndarray  # int [sessions]: local code of the root cause of each incidence row, -1 unresolved
    medoids: list[np.ndarray]  # local codes of each cluster's medoid
    support: np.ndarray  # float [k, V]
    cluster_cause: np.ndarray  # float [k, V]: share of the cluster's resolved sessions ending on the item
    cluster_size: np.ndarray  # int [k]
    list_codes: np.ndarray  # catalog codes of the published list, best first
    local: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]

    def index(self, n_items: int) -> None:
        """Build ``local`` for a catalog of ``n_items``."""
        self.local = np.full(n_items, -1, dtype=np.int64)
        self.local[self.vocab] = np.arange(len(self.vocab))

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """The arrays of the serving folder's ``stats.npz`` under ``prefix``."""
        lens = np.array([len(m) for m in self.medoids], dtype=np.int64)
        flat = np.concatenate(self.medoids) if self.medoids else np.zeros(0, np.int64)
        return {
            f"{prefix}vocab": self.vocab.astype(np.int32),
            f"{prefix}counts": np.array([self.n_sessions, self.n_resolved], dtype=np.int64),
            f"{prefix}use": self.use.astype(np.float32),
            f"{prefix}last": self.last.astype(np.float32),
            f"{prefix}pos": self.pos.astype(np.float32),
            f"{prefix}log_offset": self.log_offset.astype(np.float32),
            f"{prefix}trans": self.trans.astype(np.float32),
            f"{prefix}skip": self.skip.astype(np.float32),
            f"{prefix}incidence": np.packbits(self.incidence.astype(bool), axis=1),
            f"{prefix}incidence_shape": np.array(self.incidence.shape, dtype=np.int64),
            f"{prefix}cause": self.cause.astype(np.int32),
            f"{prefix}cluster_cause": self.cluster_cause.astype(np.float32),
            f"{prefix}medoid_items": flat.astype(np.int32),
            f"{prefix}medoid_lengths": lens,
            f"{prefix}support": self.support.astype(np.float32),
            f"{prefix}cluster_size": self.cluster_size.astype(np.int64),
            f"{prefix}list_codes": self.list_codes.astype(np.int32),
        }

    @classmethod
    def from_arrays(cls, arrays: Any, prefix: str) -> "AlertStats":
        """Inverse of :meth:`to_arrays`."""
        shape = tuple(int(v) for v in arrays[f"{prefix}incidence_shape"])
        packed = arrays[f"{prefix}incidence"]
        incidence = np.unpackbits(packed, axis=1, count=shape[1]).astype(np.float32) if shape[0] else np.zeros(shape, np.float32)
        flat = arrays[f"{prefix}medoid_items"].astype(np.int64)
        lens = arrays[f"{prefix}medoid_lengths"]
        bounds = np.concatenate([[0], np.cumsum(lens)])
        counts = arrays[f"{prefix}counts"]
        return cls(
            vocab=arrays[f"{prefix}vocab"].astype(np.int64),
            n_sessions=int(counts[0]),
            n_resolved=int(counts[1]),
            use=arrays[f"{prefix}use"].astype(np.float64),
            last=arrays[f"{prefix}last"].astype(np.float64),
            pos=arrays[f"{prefix}pos"].astype(np.float64),
            log_offset=arrays[f"{prefix}log_offset"].astype(np.float64),
            trans=arrays[f"{prefix}trans"],
            skip=arrays[f"{prefix}skip"],
            incidence=incidence,
            cause=arrays[f"{prefix}cause"].astype(np.int64),
            cluster_cause=arrays[f"{prefix}cluster_cause"].astype(np.float64),
            medoids=[flat[bounds[i]:bounds[i + 1]] for i in range(len(lens))],
            support=arrays[f"{prefix}support"].astype(np.float64),
            cluster_size=arrays[f"{prefix}cluster_size"].astype(np.int64),
            list_codes=arrays[f"{prefix}list_codes"].astype(np.int64),
        )


@dataclass
class CSR:
    """A compressed sparse row matrix as three arrays (no scipy on the serving path)."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray

    def row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Column indices and values of row ``i``."""
        a, b = self.indptr[i], self.indptr[i + 1]
        return self.indices[a:b], self.data[a:b]

    @classmethod
    def from_pairs(cls, rows: np.ndarray, cols: np.ndarray, values: np.ndarray, n: int) -> "CSR":
        """Sum duplicate (row, col) entries of an ``n x n`` matrix."""
        if len(rows) == 0:
            return cls(np.zeros(n + 1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32))
        key = rows.astype(np.int64) * n + cols.astype(np.int64)
        uniq, inv = np.unique(key, return_inverse=True)
        sums = np.bincount(inv, weights=values, minlength=len(uniq))
        r, c = uniq // n, uniq % n
        indptr = np.concatenate([[0], np.cumsum(np.bincount(r, minlength=n))]).astype(np.int64)
        return cls(indptr, c.astype(np.int32), sums.astype(np.float32))


@dataclass
class HistoryStats:
    """The history statistics of one account: per alert (:class:`AlertStats`) and account-wide."""

    n_items: int
    n_sessions: int
    alerts: dict[str, AlertStats]
    trans: CSR  # account transition counts
    cooc: CSR  # P(c used | j used)
    pop: np.ndarray  # float [n]: share of the account's sessions that used the item
    popular: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        for a in self.alerts.values():
            if a.local is None:
                a.index(self.n_items)
        order = np.lexsort((np.arange(self.n_items), -self.pop)) if self.n_items else np.zeros(0, np.int64)
        self.popular = order[:N_ACCOUNT_POPULAR]

    def to_arrays(self) -> tuple[dict[str, np.ndarray], list[str]]:
        """Arrays of ``stats.npz`` and the alert ids in their order (``a<i>/`` prefixes)."""
        arrays: dict[str, np.ndarray] = {
            "account/counts": np.array([self.n_items, self.n_sessions], dtype=np.int64),
            "account/trans_indptr": self.trans.indptr, "account/trans_indices": self.trans.indices,
            "account/trans_data": self.trans.data,
            "account/cooc_indptr": self.cooc.indptr, "account/cooc_indices": self.cooc.indices,
            "account/cooc_data": self.cooc.data, "account/pop": self.pop.astype(np.float32),
        }
        order = sorted(self.alerts)
        for i, alert_id in enumerate(order):
            arrays.update(self.alerts[alert_id].to_arrays(f"a{i}/"))
        return arrays, order

    @classmethod
    def from_arrays(cls, arrays: Any, alert_ids: list[str]) -> "HistoryStats":
        """Inverse of :meth:`to_arrays`."""
        counts = arrays["account/counts"]
        return cls(
            n_items=int(counts[0]),
            n_sessions=int(counts[1]),
            alerts={a: AlertStats.from_arrays(arrays, f"a{i}/") for i, a in enumerate(alert_ids)},
            trans=CSR(arrays["account/trans_indptr"], arrays["account/trans_indices"], arrays["account/trans_data"]),
            cooc=CSR(arrays["account/cooc_indptr"], arrays["account/cooc_indices"], arrays["account/cooc_data"]),
            pop=arrays["account/pop"].astype(np.float64),
        )

    def nbytes(self) -> int:
        """Bytes held by the arrays (the memory estimate of a loaded model)."""
        total = self.pop.nbytes + sum(a.nbytes for m in (self.trans, self.cooc) for a in (m.indptr, m.indices, m.data))
        for a in self.alerts.values():
            total += sum(x.nbytes for x in (a.vocab, a.use, a.last, a.pos, a.log_offset, a.trans, a.skip,
                                            a.incidence, a.cause, a.support, a.cluster_cause, a.local,
                                            a.list_codes))
            total += sum(m.nbytes for m in a.medoids)
        return int(total)


def history_stats(
    seqs: Sequences,
    n_items: int,
    lists: dict[str, np.ndarray],
    patterns: dict[str, tuple[list[np.ndarray], np.ndarray]] | None = None,
) -> HistoryStats:
    """The statistics of an account's history sequences (pure).

    Parameters
    ----------
    seqs : Sequences
        The history sessions (:func:`session_sequences`).
    n_items : int
        Size of the catalog.
    lists : dict
        alert_id -> catalog codes of its published list, best first.
    patterns : dict, optional
        alert_id -> (medoid code sequences, cluster label of each of ``seqs``' sessions
        of that alert, in their order; -1 = none). Support is computed from these
        sessions, so training and serving statistics follow one rule.

    Returns
    -------
    HistoryStats
    """
    patterns = patterns or {}
    alerts: dict[str, AlertStats] = {}
    alert_ids = sorted(set(seqs.alert_id.tolist()) | set(lists))
    by_alert: dict[str, list[int]] = {a: [] for a in alert_ids}
    for i, a in enumerate(seqs.alert_id):
        by_alert[a].append(i)
    for alert_id in alert_ids:
        rows = by_alert[alert_id]
        list_codes = np.asarray(lists.get(alert_id, np.zeros(0, np.int64)), dtype=np.int64)
        codes = [seqs.codes[i] for i in rows]
        used = np.concatenate(codes) if codes else np.zeros(0, np.int64)
        vocab = np.unique(np.concatenate([used, list_codes]).astype(np.int64))
        local = np.full(n_items, -1, dtype=np.int64)
        local[vocab] = np.arange(len(vocab))
        v = len(vocab)
        n_s = len(rows)
        use = np.zeros(v)
        last = np.zeros(v)
        pos_sum, off_sum = np.zeros(v), np.zeros(v)
        trans = np.zeros((v + 1, v), np.float32)
        skip = np.zeros((v, v), np.float32)
        n_res = 0
        for i in rows:
            c = local[seqs.codes[i]]
            if len(c) == 0:
                continue
            use[c] += 1
            pos_sum[c] += np.arange(len(c))
            off_sum[c] += np.log1p(np.clip(seqs.offsets[i], 0, None))
            trans[0, c[0]] += 1
            if len(c) > 1:
                np.add.at(trans, (c[:-1] + 1, c[1:]), 1)
            if len(c) > 2:
                np.add.at(skip, (c[:-2], c[2:]), 1)
            if seqs.resolved[i]:
                n_res += 1
                last[c[-1]] += 1
        seen = use > 0
        pos = np.where(seen, pos_sum / np.maximum(use, 1), 0.0)
        log_offset = np.where(seen, off_sum / np.maximum(use, 1), 0.0)
        recent = rows[-KNN_SESSIONS:]
        incidence = np.zeros((len(recent), v), np.float32)
        cause = np.full(len(recent), -1, dtype=np.int64)
        for r, i in enumerate(recent):
            incidence[r, local[seqs.codes[i]]] = 1.0
            if seqs.resolved[i] and len(seqs.codes[i]):
                cause[r] = local[seqs.codes[i][-1]]
        medoids, labels = patterns.get(alert_id, ([], np.zeros(0, np.int64)))
        k = len(medoids)
        support = np.zeros((k, v))
        cluster_cause = np.zeros((k, v))
        resolved_in = np.zeros(k)
        sizes = np.zeros(k, np.int64)
        labels = np.asarray(labels, dtype=np.int64)
        for i, lab in zip(rows, labels if len(labels) == len(rows) else np.full(len(rows), -1)):
            if 0 <= lab < k:
                sizes[lab] += 1
                support[lab, local[seqs.codes[i]]] += 1
                if seqs.resolved[i] and len(seqs.codes[i]):
                    resolved_in[lab] += 1
                    cluster_cause[lab, local[seqs.codes[i][-1]]] += 1
        support = support / np.maximum(sizes, 1)[:, None]
        cluster_cause = cluster_cause / np.maximum(resolved_in, 1)[:, None]
        alerts[alert_id] = AlertStats(
            vocab=vocab, n_sessions=n_s, n_resolved=n_res, use=use / max(n_s, 1), last=last / max(n_res, 1),
            pos=pos, log_offset=log_offset, trans=trans, skip=skip, incidence=incidence, cause=cause,
            cluster_cause=cluster_cause,
            medoids=[np.array([local[c] for c in m if 0 <= c < n_items and local[c] >= 0], np.int64) for m in medoids],
            support=support, cluster_size=sizes, list_codes=list_codes,
        )
    # account-wide
    rows_t, cols_t = [], []
    s_idx, s_codes = [], []
    for i, c in enumerate(seqs.codes):
        if len(c) > 1:
            rows_t.append(c[:-1])
            cols_t.append(c[1:])
        s_idx.append(np.full(len(c), i))
        s_codes.append(c)
    rt = np.concatenate(rows_t) if rows_t else np.zeros(0, np.int64)
    ct = np.concatenate(cols_t) if cols_t else np.zeros(0, np.int64)
    trans_acc = CSR.from_pairs(rt, ct, np.ones(len(rt)), n_items)
    si = np.concatenate(s_idx) if s_idx else np.zeros(0, np.int64)
    sc = np.concatenate(s_codes) if s_codes else np.zeros(0, np.int64)
    n_sessions = len(seqs.codes)
    per_item = np.bincount(sc, minlength=n_items).astype(np.float64)
    # co-occurrence pairs per session (sessions are short: the pairs are few)
    pr, pc = [], []
    for c in seqs.codes:
        if len(c) > 1:
            a, b = np.meshgrid(c, c, indexing="ij")
            off = a != b
            pr.append(a[off])
            pc.append(b[off])
    pr_ = np.concatenate(pr) if pr else np.zeros(0, np.int64)
    pc_ = np.concatenate(pc) if pc else np.zeros(0, np.int64)
    cooc = CSR.from_pairs(pr_, pc_, np.ones(len(pr_)), n_items)
    if len(cooc.data):
        row_of = np.repeat(np.arange(n_items), np.diff(cooc.indptr))
        cooc.data = (cooc.data / np.maximum(per_item[row_of], 1.0)).astype(np.float32)
    del si
    return HistoryStats(
        n_items=n_items, n_sessions=n_sessions, alerts=alerts, trans=trans_acc, cooc=cooc,
        pop=per_item / max(n_sessions, 1),
    )


# ---------------------------------------------------------------------------
# features of one prefix
# ---------------------------------------------------------------------------
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


def prefix_features(stats: HistoryStats, alert_id: str, prefix: np.ndarray, elapsed_s: float,
                    is_query: np.ndarray, max_candidates: int = MAX_CANDIDATES) -> PrefixFeatures:
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
            best = None
            for k, med in enumerate(a.medoids):
                dist, j = _open_end_dtw(pd_, med[:MAX_MEDOID_DTW])
                sup = float(a.support[k, pl[pl >= 0]].mean()) if (pl >= 0).any() else 0.0
                score = sup - dist
                if best is None or score > best[0] + 1e-12:
                    best = (score, k, dist, j)
            _, matched, dist, j = best
            x[inv, _F["pattern_support"]] = a.support[matched, li]
            x[inv, _F["pattern_cause"]] = a.cluster_cause[matched, li]
            x[:, _F["pattern_quality"]] = 1.0 - dist
            med = a.medoids[matched]
            if j >= 0:
                ahead = np.zeros(len(a.vocab))
                for d, c in enumerate(med[j + 1:][::-1]):
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
    prior = (x[:, _F["trans_alert"]] + 0.5 * x[:, _F["knn_alert"]] + 0.5 * x[:, _F["knn_cause"]]
             + 0.3 * x[:, _F["pattern_support"]] * x[:, _F["pattern_quality"]]
             + 0.2 * x[:, _F["static_inv_rank"]] + 0.1 * x[:, _F["own_use"]] + 0.01 * x[:, _F["account_pop"]])
    if len(codes) > max_candidates:
        keep = np.sort(np.lexsort((codes, -prior))[:max_candidates])
        codes, x, prior = codes[keep], x[keep], prior[keep]
    return PrefixFeatures(codes, x, prior, matched)


# ---------------------------------------------------------------------------
# the scorer (numpy forward of the exported MLP)
# ---------------------------------------------------------------------------
@dataclass
class Scorer:
    """``prior_scale * prior + MLP(standardized x)`` in numpy.

    ``layers``: ``[(W, b), ...]`` with ``W`` of shape ``(out, in)`` (Gluon's layout);
    ReLU between them, none after the last. No layers: the prior alone.
    """

    mean: np.ndarray
    std: np.ndarray
    layers: list[tuple[np.ndarray, np.ndarray]]
    prior_scale: float = 1.0

    def score(self, x: np.ndarray, prior: np.ndarray) -> np.ndarray:
        """Scores (float64) of the candidate rows ``x`` with their ``prior``."""
        if not self.layers:
            return prior.astype(np.float64)
        h = ((x - self.mean) / self.std).astype(np.float32)
        for i, (w, b) in enumerate(self.layers):
            h = h @ w.T + b
            if i < len(self.layers) - 1:
                np.maximum(h, 0.0, out=h)
        return h[:, 0].astype(np.float64) + self.prior_scale * prior

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The arrays of ``nextstep.npz``."""
        out = {"mean": self.mean.astype(np.float64), "std": self.std.astype(np.float64),
               "prior_scale": np.array([self.prior_scale]), "n_layers": np.array([len(self.layers)]),
               "features": np.array(FEATURES)}
        for i, (w, b) in enumerate(self.layers):
            out[f"w{i}"] = w.astype(np.float32)
            out[f"b{i}"] = b.astype(np.float32)
        return out

    @classmethod
    def from_arrays(cls, arrays: Any) -> "Scorer":
        """Inverse of :meth:`to_arrays`; checks the feature names."""
        names = tuple(str(v) for v in arrays["features"])
        if names != FEATURES:
            raise ValueError("the next-step model was trained on other features than this code computes")
        n = int(arrays["n_layers"][0])
        return cls(
            mean=arrays["mean"].astype(np.float32), std=arrays["std"].astype(np.float32),
            layers=[(arrays[f"w{i}"].astype(np.float32), arrays[f"b{i}"].astype(np.float32)) for i in range(n)],
            prior_scale=float(arrays["prior_scale"][0]),
        )


# ---------------------------------------------------------------------------
# training lists
# ---------------------------------------------------------------------------
@dataclass
class TrainingLists:
    """Padded training lists: ``x (lists, width, features)``, ``prior``, ``mask``, ``gain``."""

    x: np.ndarray
    prior: np.ndarray
    mask: np.ndarray
    gain: np.ndarray

    @property
    def n_lists(self) -> int:
        """Number of lists."""
        return len(self.x)


def training_lists(stats: HistoryStats, seqs: Sequences, is_query: np.ndarray, cause_gain: float = 1.0,
                   max_candidates: int = MAX_CANDIDATES) -> TrainingLists:
    """One list per (training session, step >= 1): the prefix's candidates and their gains.

    The next item used gets gain 1; in a resolved session the last item (the root cause)
    gets ``cause_gain`` more while it is not yet used. Lists without a gain in their
    candidates are dropped. Gains are normalized to sum 1 per list.
    """
    xs, priors, gains = [], [], []
    for i, codes in enumerate(seqs.codes):
        if len(codes) < 2:
            continue
        cause = int(codes[-1]) if seqs.resolved[i] else -1
        for t in range(1, len(codes)):
            f = prefix_features(stats, seqs.alert_id[i], codes[:t], float(seqs.offsets[i][t - 1]), is_query,
                                max_candidates)
            g = (f.codes == codes[t]).astype(np.float64)
            if cause >= 0:
                g = g + cause_gain * (f.codes == cause)
            if g.sum() <= 0:
                continue
            xs.append(f.x)
            priors.append(f.prior)
            gains.append(g / g.sum())
    n_feat = len(FEATURES)
    if not xs:
        z = np.zeros((0, max_candidates), np.float32)
        return TrainingLists(np.zeros((0, max_candidates, n_feat), np.float32), z, z, z)
    width = max(len(p) for p in priors)
    n_lists = len(xs)
    x = np.zeros((n_lists, width, n_feat), np.float32)
    prior = np.zeros((n_lists, width), np.float32)
    mask = np.zeros((n_lists, width), np.float32)
    gain = np.zeros((n_lists, width), np.float32)
    for r, (a, p, g) in enumerate(zip(xs, priors, gains)):
        x[r, : len(p)] = a
        prior[r, : len(p)] = p
        mask[r, : len(p)] = 1.0
        gain[r, : len(p)] = g
    return TrainingLists(x, prior, mask, gain)
