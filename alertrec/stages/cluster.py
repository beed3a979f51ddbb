"""Cluster the investigation sessions of each alert definition by their item sequences (DTW).

Contract terms: a *session* and the *items* it used are defined in
``shared/contract.md``; this stage groups the sessions of one
(account_id, alert_id) into investigation patterns.

Encoding (docs/adr/0004-dtw-item-embeddings.md): items are categorical, so a
sequence is encoded as a sequence of **item embeddings** learned from the
co-occurrence of items in the account's sessions (positive PMI, then the top
eigenvectors of the symmetric PPMI matrix, rows scaled to unit length). Two
dashboards that are opened in the same investigations get nearby vectors; raw
integer codes would make "dashboard 3 is close to dashboard 4" a meaningless
accident of numbering.

Distances: ``dtaidistance.dtw_ndim.distance_matrix_fast`` (C, no pruning, a
Sakoe-Chiba window, condensed output), divided by ``sqrt(max(len_a, len_b))``
so long and short investigations are comparable (a per-step RMS distance).
Clustering: scipy average linkage on the condensed matrix, the number of
clusters chosen by the silhouette (precomputed distances), one cluster when no
split reaches ``min_silhouette``.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import pandas as pd

from alertrec import schema as S

log = logging.getLogger(__name__)

CLUSTER = "cluster"
IS_MEDOID = "is_medoid"
MEDOID_SESSION_ID = "medoid_session_id"
MEDOID_ITEMS = "medoid_items"
CLUSTER_SIZE = "cluster_size"
SUPPORT = "support"
SUPPORT_SESSIONS = "support_sessions"
SILHOUETTE = "silhouette"
N_CLUSTERS = "n_clusters"
N_SESSIONS = "n_sessions"
N_CLUSTERED = "n_clustered"
CAPPED = "capped"
NO_CLUSTER = -1  # sessions without items, or beyond the per-group cap

# what a pool worker needs loaded to run cluster_group (preloaded by the forkserver)
WORKER_MODULES = (
    "alertrec.stages.cluster",
    "scipy.cluster.hierarchy",
    "scipy.spatial.distance",
    "dtaidistance.dtw_ndim",
)


@dataclass(frozen=True)
class ClusterParams:
    """Settings of the cluster stage (part of the run's config).

    Parameters
    ----------
    max_sessions : int
        Cluster at most the most recent N sessions of a group (memory and time bound).
    max_items : int
        Use at most the first N items of a session's sequence.
    embedding_dim : int
        Dimensions of the item embeddings.
    window : int
        Sakoe-Chiba window of the DTW (dtaidistance semantics).
    max_clusters : int
        Largest number of clusters tried.
    min_silhouette : float
        A split must reach this silhouette, else the group is one cluster.
    min_sessions : int
        Groups with fewer clustered sessions are one cluster.
    min_cluster_size : int
        A split whose smallest cluster is smaller is not considered (one-off
        sessions are noise, not a pattern).
    """

    max_sessions: int = 300
    max_items: int = 40
    embedding_dim: int = 16
    window: int = 8
    max_clusters: int = 6
    min_silhouette: float = 0.25
    min_sessions: int = 4
    min_cluster_size: int = 2


@dataclass(frozen=True)
class GroupTask:
    """The work of one (account_id, alert_id): its sessions' item codes, most recent first.

    ``codes[i]`` are the item codes of session ``session_ids[i]`` in order; the
    worker turns them into sequences of vectors with ``embeddings`` (the
    account's item embeddings, shared by the account's groups).
    """

    account_id: int
    alert_id: str
    session_ids: tuple[str, ...]
    codes: tuple[np.ndarray, ...]
    embeddings: np.ndarray
    params: ClusterParams

    @property
    def sequences(self) -> list[np.ndarray]:
        """Each session as a ``(length, embedding_dim)`` float64 array."""
        return [np.ascontiguousarray(self.embeddings[c]) for c in self.codes]

    @property
    def cost(self) -> float:
        """Estimated work: sessions² × mean length² (the DTW matrix dominates)."""
        n = len(self.codes)
        if n < 2:
            return 1.0
        mean_len = float(np.mean([len(c) for c in self.codes]))
        return n * n * mean_len * mean_len


@dataclass(frozen=True)
class GroupResult:
    """Cluster labels (0..k-1, largest first) and medoids of one group."""

    account_id: int
    alert_id: str
    session_ids: tuple[str, ...]
    labels: np.ndarray
    medoids: tuple[int, ...]  # index into session_ids of each cluster's medoid
    silhouette: float
    dtw_s: float
    cluster_s: float


@dataclass(frozen=True)
class Clusters:
    """Output of :func:`cluster_sessions`.

    Attributes
    ----------
    assignments : pandas.DataFrame
        One row per session of the input: account_id, alert_id, session_id,
        cluster (-1 when not clustered), is_medoid.
    medoids : pandas.DataFrame
        One row per cluster: account_id, alert_id, cluster, cluster_size,
        medoid_session_id, medoid_items (the medoid's item ids in order, as a list).
    support : pandas.DataFrame
        One row per (account_id, alert_id, cluster, item_type, item_id):
        support_sessions (sessions of the cluster that used the item),
        cluster_size, support (their share), in_medoid (bool).
    groups : pandas.DataFrame
        One row per group: account_id, alert_id, n_sessions, n_clustered,
        capped (bool), n_clusters, silhouette.
    timings : dict
        Seconds spent encoding, in DTW and in clustering (summed over groups).
    """

    assignments: pd.DataFrame
    medoids: pd.DataFrame
    support: pd.DataFrame
    groups: pd.DataFrame
    timings: dict[str, float] = field(default_factory=dict)


# ---------------------------------------------------------------------------
# encoding
# ---------------------------------------------------------------------------
def item_embeddings(session_codes: Sequence[np.ndarray], n_items: int, dim: int) -> np.ndarray:
    """Embed the items of one account from their co-occurrence in sessions (see :func:`embed_cooccurrence`)."""
    rows = (
        np.concatenate([np.full(len(c), i) for i, c in enumerate(session_codes)]) if session_codes else np.zeros(0, int)
    )
    cols = np.concatenate(list(session_codes)) if session_codes else np.zeros(0, int)
    return embed_cooccurrence(rows, cols, len(session_codes), n_items, dim)


def embed_cooccurrence(
    session_idx: np.ndarray, codes: np.ndarray, n_sessions: int, n_items: int, dim: int
) -> np.ndarray:
    """Embed the items of one account from their co-occurrence in sessions.

    Parameters
    ----------
    session_idx, codes : numpy.ndarray
        One entry per item use: the session's index (0..n_sessions-1) and the
        item's code (0..n_items-1).
    n_sessions, n_items : int
        Sessions and item vocabulary of the account.
    dim : int
        Embedding dimensions.

    Returns
    -------
    numpy.ndarray
        ``(n_items, dim)`` float64, each row of unit length. Deterministic:
        eigenvectors have their sign fixed (largest component positive).
    """
    from scipy.sparse import csr_matrix

    incidence = csr_matrix((np.ones(len(codes)), (session_idx, codes)), shape=(max(n_sessions, 1), n_items))
    incidence.data[:] = 1.0  # duplicates were summed: a session counts an item once
    counts = (incidence.T @ incidence).toarray()
    total = counts.sum()
    if total == 0:
        return np.eye(n_items, dim)
    row = counts.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log(counts * total / (row @ row.T))
    ppmi = np.where(np.isfinite(pmi) & (pmi > 0), pmi, 0.0)
    # every item is most similar to itself
    np.fill_diagonal(ppmi, np.maximum(np.diag(ppmi), ppmi.max(axis=1) if n_items else 0.0))
    values, vectors = np.linalg.eigh(ppmi)
    order = np.argsort(-values, kind="stable")[:dim]
    values, vectors = values[order], vectors[:, order]
    vectors = vectors * np.sqrt(np.clip(values, 0.0, None))
    signs = np.sign(vectors[np.argmax(np.abs(vectors), axis=0), np.arange(vectors.shape[1])])
    vectors = vectors * np.where(signs == 0, 1.0, signs)
    if vectors.shape[1] < dim:
        vectors = np.hstack([vectors, np.zeros((n_items, dim - vectors.shape[1]))])
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    isolated = norms[:, 0] < 1e-12
    vectors = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 1e-12)
    if isolated.any():  # an item that co-occurs with nothing: a direction of its own
        vectors[isolated] = np.eye(n_items, dim)[isolated]
    return vectors


def build_tasks(
    sessions: pd.DataFrame, items: pd.DataFrame, params: ClusterParams
) -> tuple[list[GroupTask], pd.DataFrame]:
    """Encode every group's sessions as item codes, with the account's item embeddings.

    Parameters
    ----------
    sessions : pandas.DataFrame
        ``session_id, account_id, alert_id, started_at`` (the extract stage's sessions).
    items : pandas.DataFrame
        ``session_id, account_id, seq, item_type, item_id`` (normalized items).
    params : ClusterParams

    Returns
    -------
    tasks : list of GroupTask
        One per (account_id, alert_id) with at least one session that used an
        item, sorted by key; at most ``max_sessions`` most recent sessions each.
    groups : pandas.DataFrame
        ``account_id, alert_id, n_sessions, n_clustered, capped`` per group.
    """
    its = items.loc[items[S.ITEM_ID].notna(), [S.SESSION_ID, S.ACCOUNT_ID, S.SEQ, S.ITEM_TYPE, S.ITEM_ID]]
    its = its.sort_values([S.ACCOUNT_ID, S.SESSION_ID, S.SEQ], kind="mergesort")
    key = (its[S.ITEM_TYPE] + ":" + its[S.ITEM_ID]).to_numpy(dtype=object)
    acc = its[S.ACCOUNT_ID].to_numpy()
    sid = its[S.SESSION_ID].to_numpy(dtype=object)
    # contiguous runs of one session (sorted), their position within the session
    new_session = np.ones(len(sid), dtype=bool)
    new_session[1:] = sid[1:] != sid[:-1]
    starts = np.flatnonzero(new_session)
    pos = np.arange(len(sid)) - np.repeat(starts, np.diff(np.append(starts, len(sid))))
    keep = pos < params.max_items
    sess = sessions[[S.SESSION_ID, S.ACCOUNT_ID, S.ALERT_ID, S.STARTED_AT]]
    sess = sess[sess[S.SESSION_ID].isin(pd.unique(sid))]
    sess = sess.sort_values(
        [S.ACCOUNT_ID, S.ALERT_ID, S.STARTED_AT, S.SESSION_ID], ascending=[True, True, False, True], kind="mergesort"
    )
    sess_by_account = dict(tuple(sess.groupby(S.ACCOUNT_ID, sort=False)))
    tasks: list[GroupTask] = []
    acc_bounds = np.flatnonzero(np.r_[True, acc[1:] != acc[:-1], True])
    for a0, a1 in itertools.pairwise(acc_bounds):
        account_id = int(acc[a0])
        sl = slice(a0, a1)
        k_keep = keep[sl]
        codes_all, _vocab = pd.factorize(key[sl], sort=True)
        s_starts = np.flatnonzero(new_session[sl])
        s_index = np.cumsum(new_session[sl]) - 1
        embeddings = embed_cooccurrence(s_index, codes_all, len(s_starts), len(_vocab), params.embedding_dim)
        # the kept codes of each session, as views into one array
        codes_kept = codes_all[k_keep].astype(np.int32)
        idx_kept = s_index[k_keep]
        bounds = np.flatnonzero(np.r_[True, idx_kept[1:] != idx_kept[:-1], True])
        sids = sid[sl][s_starts]
        seq_of = {sids[idx_kept[b0]]: codes_kept[b0:b1] for b0, b1 in itertools.pairwise(bounds)}
        acc_sess = sess_by_account.get(account_id, sess.iloc[:0])
        for alert_id, group in acc_sess.groupby(S.ALERT_ID, sort=True):
            ids = tuple(group[S.SESSION_ID].iloc[: params.max_sessions])
            tasks.append(GroupTask(account_id, str(alert_id), ids, tuple(seq_of[i] for i in ids), embeddings, params))
    return tasks, group_stats(sessions, items, params)


# ---------------------------------------------------------------------------
# the per-group work (runs inside the per-account work, alertrec.account)
# ---------------------------------------------------------------------------
def dtw_condensed(sequences: Sequence[np.ndarray], window: int) -> np.ndarray:
    """Length-normalised DTW distances of all pairs, condensed (scipy order).

    Uses dtaidistance's C implementation single-threaded (the caller owns the
    parallelism) and without pruning (pruning returned inf for some pairs).
    """
    from dtaidistance import dtw_ndim

    n = len(sequences)
    if n < 2:
        return np.zeros(0)
    raw = np.asarray(
        dtw_ndim.distance_matrix_fast(list(sequences), window=window, compact=True, parallel=False),
        dtype=np.float64,
    )
    lengths = np.array([len(s) for s in sequences], dtype=np.float64)
    i, j = np.triu_indices(n, k=1)
    return raw / np.sqrt(np.maximum(lengths[i], lengths[j]))


def silhouette(square: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette of a clustering on a precomputed distance matrix.

    The definition of :func:`sklearn.metrics.silhouette_score` with
    ``metric="precomputed"`` (a member of a singleton cluster scores 0),
    vectorised with one matrix product: it runs once per candidate k of
    every group, so it must be cheap.
    """
    codes, labels = np.unique(labels, return_inverse=True)
    k = len(codes)
    onehot = np.zeros((len(labels), k))
    onehot[np.arange(len(labels)), labels] = 1.0
    sizes = onehot.sum(axis=0)
    sums = square @ onehot  # distance of each point to each cluster, summed
    own = sums[np.arange(len(labels)), labels]
    own_size = sizes[labels]
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(own_size > 1, own / (own_size - 1), 0.0)
        mean_other = sums / sizes
    mean_other[np.arange(len(labels)), labels] = np.inf
    b = mean_other.min(axis=1)
    denom = np.maximum(a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        sil = np.where((own_size > 1) & (denom > 0), (b - a) / denom, 0.0)
    return float(sil.mean())


def cluster_group(task: GroupTask) -> GroupResult:
    """Cluster one group's sessions: DTW matrix, average linkage, k by silhouette, medoids.

    Deterministic: the same task gives the same labels, wherever it runs.
    """
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    p = task.params
    n = len(task.codes)
    t0 = time.perf_counter()
    condensed = dtw_condensed(task.sequences, p.window)
    t1 = time.perf_counter()
    labels = np.zeros(n, dtype=np.int64)
    best_sil = 0.0
    if n >= max(p.min_sessions, 3) and condensed.max(initial=0.0) > 0:
        square = squareform(condensed)
        tree = linkage(condensed, method="average")
        for k in range(2, min(p.max_clusters, n - 1) + 1):
            cand = fcluster(tree, k, criterion="maxclust") - 1
            sizes = np.bincount(cand)
            if len(np.unique(cand)) < 2 or sizes[sizes > 0].min() < p.min_cluster_size:
                continue
            sil = silhouette(square, cand)
            if sil > best_sil + 1e-12:
                best_sil, labels = sil, cand
        if best_sil < p.min_silhouette:
            labels, best_sil = np.zeros(n, dtype=np.int64), 0.0
    square = squareform(condensed) if n >= 2 else np.zeros((n, n))
    labels, medoids = _relabel(labels, square, task.session_ids)
    t2 = time.perf_counter()
    return GroupResult(task.account_id, task.alert_id, task.session_ids, labels, medoids, best_sil, t1 - t0, t2 - t1)


def _relabel(labels: np.ndarray, square: np.ndarray, ids: Sequence[str]) -> tuple[np.ndarray, tuple[int, ...]]:
    """Number clusters by size (largest first, then medoid id) and find each medoid."""
    found = []
    for lab in np.unique(labels):
        members = np.flatnonzero(labels == lab)
        within = square[np.ix_(members, members)].sum(axis=1)
        # ties: the smallest session id
        best = min(members[within == within.min()], key=lambda m: ids[m])
        found.append((-len(members), ids[best], lab, best))
    found.sort()
    mapping = {lab: new for new, (_, _, lab, _) in enumerate(found)}
    return np.array([mapping[x] for x in labels], dtype=np.int64), tuple(best for *_, best in found)


# ---------------------------------------------------------------------------
# the stage
# ---------------------------------------------------------------------------
# mapper(cluster_account, tasks, costs) -> results in task order (one task per account)
Mapper = Callable[
    [Callable[["AccountTask"], "AccountResult"], Sequence["AccountTask"], Sequence[float]], list["AccountResult"]
]
_T = TypeVar("_T")
_R = TypeVar("_R")


def serial_map(func: Callable[[_T], _R], tasks: Sequence[_T], costs: Sequence[float]) -> list[_R]:
    """Run the tasks one after another in this process (the default mapper)."""
    return [func(t) for t in tasks]


@dataclass(frozen=True)
class AccountTask:
    """The work of one account: all its groups, from its own sessions and items.

    A pool task is an account, not a single alert: the account's item
    embeddings, the encoding, the DTW of every group and the assembly of its
    frames all run in the worker, so the parent only splits and concatenates.
    """

    account_id: int
    sessions: pd.DataFrame
    items: pd.DataFrame
    params: ClusterParams
    cost: float


@dataclass(frozen=True)
class AccountResult:
    """The frames of one account (see :class:`Clusters`) and the worker's timings."""

    clusters: Clusters
    encode_s: float
    dtw_s: float
    linkage_s: float


def account_tasks(sessions: pd.DataFrame, items: pd.DataFrame, params: ClusterParams) -> list[AccountTask]:
    """Split the stage's input by account, each with its estimated cost (sum over its groups).

    A group's cost is ``n² × mean length²`` with ``n`` its clustered sessions
    (capped) and lengths capped at ``max_items``; accounts without any item
    still get a task (their groups are reported, none clustered).
    """
    sess = sessions[[S.SESSION_ID, S.ACCOUNT_ID, S.ALERT_ID, S.STARTED_AT]]
    its = items.loc[items[S.ITEM_ID].notna(), [S.SESSION_ID, S.ACCOUNT_ID, S.SEQ, S.ITEM_TYPE, S.ITEM_ID]]
    lengths = its.groupby(S.SESSION_ID, sort=False).size().clip(upper=params.max_items).rename("_len")
    per_session = sess.join(lengths, on=S.SESSION_ID, how="inner")
    per_group = per_session.groupby([S.ACCOUNT_ID, S.ALERT_ID], sort=False)["_len"].agg(["size", "mean"])
    n = per_group["size"].clip(upper=params.max_sessions).astype(float)
    group_cost = np.where(n >= 2, n * n * per_group["mean"] ** 2, 1.0)
    account_cost = pd.Series(group_cost, index=per_group.index).groupby(level=0).sum()
    items_by_account = dict(tuple(its.groupby(S.ACCOUNT_ID, sort=False)))
    tasks = []
    for account_id, acc_sess in sess.groupby(S.ACCOUNT_ID, sort=True):
        acc_items = items_by_account.get(account_id, its.iloc[:0])
        tasks.append(
            AccountTask(int(account_id), acc_sess, acc_items, params, float(account_cost.get(account_id, 1.0)))
        )
    return tasks


def cluster_account(task: AccountTask) -> AccountResult:
    """Cluster every group of one account (runs in a pool worker).

    A failure in one group is re-raised naming the (account, alert).
    """
    t0 = time.perf_counter()
    tasks, groups = build_tasks(task.sessions, task.items, task.params)
    t1 = time.perf_counter()
    results = []
    for gt in tasks:
        try:
            results.append(cluster_group(gt))
        except Exception as exc:
            raise RuntimeError(
                f"group account {gt.account_id} alert {gt.alert_id}: {type(exc).__name__}: {exc}"
            ) from exc
    out = assemble(task.sessions, task.items, results, groups)
    return AccountResult(out, t1 - t0, sum(r.dtw_s for r in results), sum(r.cluster_s for r in results))


def cluster_sessions(
    sessions: pd.DataFrame,
    items: pd.DataFrame,
    params: ClusterParams,
    mapper: Mapper = serial_map,
) -> Clusters:
    """Cluster the sessions of every (account_id, alert_id) by their item sequences.

    Parameters
    ----------
    sessions : pandas.DataFrame
        The extract stage's sessions (``session_id, account_id, alert_id, started_at``).
    items : pandas.DataFrame
        Normalized items (``session_id, account_id, alert_id, seq, item_type, item_id``).
    params : ClusterParams
    mapper : callable
        ``mapper(cluster_account, tasks, costs) -> results`` in task order; the
        pipeline passes the process pool of :mod:`alertrec.parallel`. One task
        per account, biggest first.

    Returns
    -------
    Clusters
        The same whatever the mapper and its number of workers.
    """
    t0 = time.perf_counter()
    tasks = account_tasks(sessions, items, params)
    t1 = time.perf_counter()
    results = mapper(cluster_account, tasks, [t.cost for t in tasks])
    t2 = time.perf_counter()
    frames = {}
    for name in ("assignments", "medoids", "support", "groups"):
        parts = [getattr(r.clusters, name) for r in results]
        frames[name] = pd.concat(parts, ignore_index=True) if parts else getattr(_empty(sessions, items, params), name)
    t3 = time.perf_counter()
    timings = {
        "split_s": round(t1 - t0, 4),
        "pool_wall_s": round(t2 - t1, 4),
        "encode_s": round(sum(r.encode_s for r in results), 4),
        "dtw_s": round(sum(r.dtw_s for r in results), 4),
        "linkage_s": round(sum(r.linkage_s for r in results), 4),
        "concat_s": round(t3 - t2, 4),
    }
    return Clusters(frames["assignments"], frames["medoids"], frames["support"], frames["groups"], timings)


def _empty(sessions: pd.DataFrame, items: pd.DataFrame, params: ClusterParams) -> Clusters:
    return assemble(sessions.iloc[:0], items.iloc[:0], [], group_stats(sessions.iloc[:0], items.iloc[:0], params))


def assemble(
    sessions: pd.DataFrame, items: pd.DataFrame, results: Sequence[GroupResult], groups: pd.DataFrame
) -> Clusters:
    """Turn per-group results into the stage's frames (see :class:`Clusters`)."""
    rows = []
    medoid_rows = []
    for r in sorted(results, key=lambda r: (r.account_id, r.alert_id)):
        medoid_set = set(r.medoids)
        for idx, sid in enumerate(r.session_ids):
            rows.append((r.account_id, r.alert_id, sid, int(r.labels[idx]), idx in medoid_set))
        for cl, m in enumerate(r.medoids):
            medoid_rows.append((r.account_id, r.alert_id, cl, int((r.labels == cl).sum()), r.session_ids[m]))
    assigned = pd.DataFrame(rows, columns=[S.ACCOUNT_ID, S.ALERT_ID, S.SESSION_ID, CLUSTER, IS_MEDOID])
    base = sessions[[S.ACCOUNT_ID, S.ALERT_ID, S.SESSION_ID]]
    assignments = base.merge(assigned, on=[S.ACCOUNT_ID, S.ALERT_ID, S.SESSION_ID], how="left")
    assignments[CLUSTER] = assignments[CLUSTER].fillna(NO_CLUSTER).astype("int64")
    assignments[IS_MEDOID] = assignments[IS_MEDOID].eq(True)
    assignments = assignments.sort_values([S.ACCOUNT_ID, S.ALERT_ID, S.SESSION_ID]).reset_index(drop=True)

    medoids = pd.DataFrame(medoid_rows, columns=[S.ACCOUNT_ID, S.ALERT_ID, CLUSTER, CLUSTER_SIZE, MEDOID_SESSION_ID])
    med_items = items[items[S.SESSION_ID].isin(medoids[MEDOID_SESSION_ID]) & items[S.ITEM_ID].notna()]
    seq_items = med_items.sort_values([S.SESSION_ID, S.SEQ]).groupby(S.SESSION_ID, sort=False)[S.ITEM_ID].agg(list)
    medoids[MEDOID_ITEMS] = medoids[MEDOID_SESSION_ID].map(seq_items)

    used = items.loc[items[S.ITEM_ID].notna(), [S.SESSION_ID, S.ITEM_TYPE, S.ITEM_ID]].drop_duplicates()
    clustered = assignments[assignments[CLUSTER] != NO_CLUSTER]
    joined = clustered.merge(used, on=S.SESSION_ID)
    support = (
        joined.groupby([S.ACCOUNT_ID, S.ALERT_ID, CLUSTER, S.ITEM_TYPE, S.ITEM_ID], sort=True)
        .size()
        .rename(SUPPORT_SESSIONS)
        .reset_index()
        .merge(medoids[[S.ACCOUNT_ID, S.ALERT_ID, CLUSTER, CLUSTER_SIZE]], on=[S.ACCOUNT_ID, S.ALERT_ID, CLUSTER])
    )
    support[SUPPORT] = support[SUPPORT_SESSIONS] / support[CLUSTER_SIZE]
    medoid_items = medoids.merge(
        assignments[assignments[IS_MEDOID]][[S.ACCOUNT_ID, S.ALERT_ID, CLUSTER, S.SESSION_ID]],
        on=[S.ACCOUNT_ID, S.ALERT_ID, CLUSTER],
    ).merge(used, on=S.SESSION_ID)[[S.ACCOUNT_ID, S.ALERT_ID, CLUSTER, S.ITEM_TYPE, S.ITEM_ID]]
    support = support.merge(
        medoid_items.assign(in_medoid=True), how="left", on=[S.ACCOUNT_ID, S.ALERT_ID, CLUSTER, S.ITEM_TYPE, S.ITEM_ID]
    )
    support["in_medoid"] = support["in_medoid"].eq(True)

    stats = pd.DataFrame(
        [(r.account_id, r.alert_id, len(r.medoids), round(r.silhouette, 6)) for r in results],
        columns=[S.ACCOUNT_ID, S.ALERT_ID, N_CLUSTERS, SILHOUETTE],
    )
    groups = groups.merge(stats, on=[S.ACCOUNT_ID, S.ALERT_ID], how="left")
    groups[N_CLUSTERS] = groups[N_CLUSTERS].fillna(0).astype("int64")
    return Clusters(assignments, medoids, support, groups)


def group_stats(sessions: pd.DataFrame, items: pd.DataFrame, params: ClusterParams) -> pd.DataFrame:
    """Sessions, clustered sessions and the cap flag per group, without encoding anything."""
    with_items = sessions[S.SESSION_ID].isin(items.loc[items[S.ITEM_ID].notna(), S.SESSION_ID])
    g = sessions.assign(_with=with_items).groupby([S.ACCOUNT_ID, S.ALERT_ID], sort=True)["_with"].agg(["size", "sum"])
    out = g.reset_index().rename(columns={"size": N_SESSIONS})
    out[N_CLUSTERED] = out["sum"].clip(upper=params.max_sessions).astype("int64")
    out[CAPPED] = out["sum"] > params.max_sessions
    return out[[S.ACCOUNT_ID, S.ALERT_ID, N_SESSIONS, N_CLUSTERED, CAPPED]]
