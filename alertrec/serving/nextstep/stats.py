"""History statistics of one account, computed from its sessions and normalized items.

:class:`AlertStats` (per alert definition), :class:`CSR` (sparse rows without scipy)
and :class:`HistoryStats` (the account: its alerts and account-wide arrays), saved as
``stats.npz`` of the serving folder; :func:`history_stats` computes them from the
:class:`~alertrec.serving.nextstep.sequences.Sequences` of the history.

What they hold
--------------
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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from alertrec.serving.nextstep.sequences import Sequences

__all__ = ["CSR", "AlertStats", "HistoryStats", "history_stats"]

KNN_SESSIONS = 300
N_ACCOUNT_POPULAR = 10


@dataclass
class AlertStats:
    """The history statistics of one alert definition (see the module docstring).

    Local index ``v`` of ``vocab`` (catalog codes); ``local`` maps a catalog code to
    ``v`` (-1 when the alert does not know it). ``local`` is not a constructor argument:
    :meth:`index` sets it (:class:`HistoryStats` calls it for its catalog).
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
    local: np.ndarray = field(init=False, repr=False)

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
    def from_arrays(cls, arrays: Any, prefix: str) -> AlertStats:
        """Inverse of :meth:`to_arrays`."""
        shape = tuple(int(v) for v in arrays[f"{prefix}incidence_shape"])
        packed = arrays[f"{prefix}incidence"]
        incidence = (
            np.unpackbits(packed, axis=1, count=shape[1]).astype(np.float32)
            if shape[0]
            else np.zeros(shape, np.float32)
        )
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
            medoids=[flat[bounds[i] : bounds[i + 1]] for i in range(len(lens))],
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
    def from_pairs(cls, rows: np.ndarray, cols: np.ndarray, values: np.ndarray, n: int) -> CSR:
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
    popular: np.ndarray = field(init=False)  # set from pop: the account's most used items

    def __post_init__(self) -> None:
        for a in self.alerts.values():
            if not hasattr(a, "local"):
                a.index(self.n_items)
        order = np.lexsort((np.arange(self.n_items), -self.pop)) if self.n_items else np.zeros(0, np.int64)
        self.popular = order[:N_ACCOUNT_POPULAR]

    def to_arrays(self) -> tuple[dict[str, np.ndarray], list[str]]:
        """Arrays of ``stats.npz`` and the alert ids in their order (``a<i>/`` prefixes)."""
        arrays: dict[str, np.ndarray] = {
            "account/counts": np.array([self.n_items, self.n_sessions], dtype=np.int64),
            "account/trans_indptr": self.trans.indptr,
            "account/trans_indices": self.trans.indices,
            "account/trans_data": self.trans.data,
            "account/cooc_indptr": self.cooc.indptr,
            "account/cooc_indices": self.cooc.indices,
            "account/cooc_data": self.cooc.data,
            "account/pop": self.pop.astype(np.float32),
        }
        order = sorted(self.alerts)
        for i, alert_id in enumerate(order):
            arrays.update(self.alerts[alert_id].to_arrays(f"a{i}/"))
        return arrays, order

    @classmethod
    def from_arrays(cls, arrays: Any, alert_ids: list[str]) -> HistoryStats:
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
            total += sum(
                x.nbytes
                for x in (
                    a.vocab,
                    a.use,
                    a.last,
                    a.pos,
                    a.log_offset,
                    a.trans,
                    a.skip,
                    a.incidence,
                    a.cause,
                    a.support,
                    a.cluster_cause,
                    a.local,
                    a.list_codes,
                )
            )
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
            vocab=vocab,
            n_sessions=n_s,
            n_resolved=n_res,
            use=use / max(n_s, 1),
            last=last / max(n_res, 1),
            pos=pos,
            log_offset=log_offset,
            trans=trans,
            skip=skip,
            incidence=incidence,
            cause=cause,
            cluster_cause=cluster_cause,
            medoids=[np.array([local[c] for c in m if 0 <= c < n_items and local[c] >= 0], np.int64) for m in medoids],
            support=support,
            cluster_size=sizes,
            list_codes=list_codes,
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
        n_items=n_items,
        n_sessions=n_sessions,
        alerts=alerts,
        trans=trans_acc,
        cooc=cooc,
        pop=per_item / max(n_sessions, 1),
    )
