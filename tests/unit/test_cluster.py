"""The cluster stage on tiny hand-made groups whose clusters are obvious."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import squareform

from alertrec import schema as S
from alertrec.parallel import ProcessPoolMapper, WorkerError
from alertrec.stages import cluster as C

T0 = pd.Timestamp("2026-01-10", tz="UTC")


def _frames(groups: dict[tuple[int, str], list[list[str]]]):
    """Sessions and items from {(account, alert): [item sequence per session]}; items 'd*' are dashboards."""
    sess, rows = [], []
    n = 0
    for (account, alert), seqs in groups.items():
        for seq in seqs:
            sid = f"s{n:04d}"
            sess.append((sid, account, alert, T0 + pd.Timedelta(minutes=n)))
            for k, item in enumerate(seq):
                rows.append((sid, account, alert, k, S.ITEM_DASHBOARD if item[0] == "d" else S.ITEM_QUERY, item))
            n += 1
    sessions = pd.DataFrame(sess, columns=[S.SESSION_ID, S.ACCOUNT_ID, S.ALERT_ID, S.STARTED_AT])
    items = pd.DataFrame(rows, columns=[S.SESSION_ID, S.ACCOUNT_ID, S.ALERT_ID, S.SEQ, S.ITEM_TYPE, S.ITEM_ID])
    return sessions, items


TWO_PATTERNS = {
    (1, "cpu"): [
        ["d1", "d2", "q1"],
        ["d1", "d2", "q1", "d3"],
        ["d1", "q1", "d2"],
        ["d1", "d2", "q1"],
        ["d7", "q8", "q9"],
        ["d7", "q8", "q9", "d9"],
        ["d7", "q9", "q8"],
        ["d7", "q8"],
    ],
}


def test_a_lone_outlier_does_not_make_a_cluster():
    seqs = [["d1", "d2", "q1"]] * 6 + [["d9", "q9"]]
    sessions, items = _frames({(1, "a"): seqs})
    out = C.cluster_sessions(sessions, items, C.ClusterParams(min_cluster_size=2))
    assert set(out.assignments[C.CLUSTER]) == {0}


def test_two_obvious_patterns_give_two_clusters_with_their_medoids():
    sessions, items = _frames(TWO_PATTERNS)
    out = C.cluster_sessions(sessions, items, C.ClusterParams())
    labels = out.assignments.set_index(S.SESSION_ID)[C.CLUSTER]
    first = labels[[f"s{i:04d}" for i in range(4)]]
    second = labels[[f"s{i:04d}" for i in range(4, 8)]]
    assert first.nunique() == 1 and second.nunique() == 1 and first.iloc[0] != second.iloc[0]
    g = out.groups.iloc[0]
    assert (g[C.N_CLUSTERS], g[C.N_SESSIONS], g[C.N_CLUSTERED], bool(g[C.CAPPED])) == (2, 8, 8, False)
    assert g[C.SILHOUETTE] > 0.5
    # each medoid is a member of its cluster, and its items are the pattern's
    med = out.medoids.set_index(C.CLUSTER)
    for cl in (0, 1):
        assert labels[med.loc[cl, C.MEDOID_SESSION_ID]] == cl
    assert sorted(sorted(m) for m in med[C.MEDOID_ITEMS]) == [["d1", "d2", "q1"], ["d7", "q8", "q9"]]
    # support: d1 is used by all 4 sessions of its cluster, d3 by one
    sup = out.support.set_index([C.CLUSTER, S.ITEM_ID])
    cl_a = labels["s0000"]
    assert sup.loc[(cl_a, "d1"), C.SUPPORT] == 1.0
    assert sup.loc[(cl_a, "d3"), C.SUPPORT_SESSIONS] == 1 and sup.loc[(cl_a, "d3"), C.SUPPORT] == 0.25
    assert bool(sup.loc[(cl_a, "d1"), "in_medoid"]) and not bool(sup.loc[(cl_a, "d3"), "in_medoid"])


def test_one_pattern_stays_one_cluster_dtw_absorbs_repeats():
    # the same steps, some repeated (a reload, a query run twice): DTW warps them to distance 0
    seqs = [["d1", "d2", "q1"], ["d1", "d1", "d2", "q1"], ["d1", "d2", "d2", "q1"], ["d1", "d2", "q1", "q1"]] * 2
    sessions, items = _frames({(1, "a"): seqs})
    out = C.cluster_sessions(sessions, items, C.ClusterParams())
    assert set(out.assignments[C.CLUSTER]) == {0}
    assert out.groups.iloc[0][C.N_CLUSTERS] == 1


def test_sessions_without_items_and_beyond_the_cap_are_not_clustered():
    sessions, items = _frames({(1, "a"): [["d1"], ["d1"], ["d2"], ["d2"], ["d1"]]})
    empty = pd.DataFrame([("s9999", 1, "a", T0)], columns=sessions.columns)
    sessions = pd.concat([sessions, empty], ignore_index=True)
    out = C.cluster_sessions(sessions, items, C.ClusterParams(max_sessions=3))
    a = out.assignments.set_index(S.SESSION_ID)[C.CLUSTER]
    # the 3 most recent sessions with items are s0004, s0003, s0002
    assert (a[["s0000", "s0001", "s9999"]] == C.NO_CLUSTER).all()
    assert (a[["s0002", "s0003", "s0004"]] != C.NO_CLUSTER).all()
    g = out.groups.iloc[0]
    assert (g[C.N_SESSIONS], g[C.N_CLUSTERED], bool(g[C.CAPPED])) == (6, 3, True)


def test_embeddings_put_co_occurring_items_close():
    # items 0,1 always together; 2,3 always together
    codes = [np.array([0, 1]), np.array([1, 0]), np.array([2, 3]), np.array([3, 2, 3])] * 3
    vec = C.item_embeddings(codes, 4, 3)
    assert np.allclose(np.linalg.norm(vec, axis=1), 1.0)
    assert vec[0] @ vec[1] > 0.9 and vec[2] @ vec[3] > 0.9
    assert abs(vec[0] @ vec[2]) < 0.1


def test_dtw_condensed_matches_pairwise_distances():
    from dtaidistance import dtw_ndim

    rng = np.random.default_rng(3)
    seqs = [rng.normal(size=(n, 4)) for n in (3, 5, 2, 6)]
    got = squareform(C.dtw_condensed(seqs, window=8))
    for i in range(4):
        for j in range(4):
            if i != j:
                want = dtw_ndim.distance(seqs[i], seqs[j], window=8) / np.sqrt(max(len(seqs[i]), len(seqs[j])))
                assert got[i, j] == pytest.approx(want)


def _many_groups():
    groups = {}
    for g in range(6):
        base = [f"d{g}", f"q{g}", f"d{g + 10}"]
        other = [f"d{g + 20}", f"q{g + 20}"]
        groups[(1 + g % 2, f"alert-{g}")] = [base] * (3 + g) + [other] * (2 + g)
    return _frames(groups)


def test_one_and_two_workers_give_identical_output():
    sessions, items = _many_groups()
    serial = C.cluster_sessions(sessions, items, C.ClusterParams())
    pooled = C.cluster_sessions(
        sessions, items, C.ClusterParams(), mapper=ProcessPoolMapper(2, key=lambda t: f"{t.account_id}/{t.alert_id}")
    )
    for name in ("assignments", "medoids", "support", "groups"):
        pd.testing.assert_frame_equal(getattr(serial, name), getattr(pooled, name))


def _explode(task):
    if task.alert_id == "alert-3":
        raise ValueError("bad group")
    return C.cluster_group(task)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_crash_in_one_group_names_the_group(workers):
    sessions, items = _many_groups()
    tasks, _ = C.build_tasks(sessions, items, C.ClusterParams())
    mapper = ProcessPoolMapper(workers, key=lambda t: f"{t.account_id}/{t.alert_id}")
    with pytest.raises(WorkerError, match=r"2/alert-3.*ValueError: bad group"):
        mapper(_explode, tasks, [t.cost for t in tasks])


def _die(task):
    import os

    if task.alert_id == "alert-5":
        os._exit(9)  # a worker killed mid-task
    return C.cluster_group(task)


def test_a_failing_group_is_named_by_the_stage(monkeypatch):
    sessions, items = _many_groups()
    real = C.cluster_group

    def failing(task):
        if task.alert_id == "alert-3":
            raise ValueError("bad group")
        return real(task)

    monkeypatch.setattr(C, "cluster_group", failing)
    with pytest.raises(WorkerError, match=r"account 2 alert alert-3: ValueError: bad group"):
        C.cluster_sessions(
            sessions, items, C.ClusterParams(), mapper=ProcessPoolMapper(1, key=lambda t: str(t.account_id))
        )


def test_a_dead_worker_is_reported_not_hung():
    sessions, items = _many_groups()
    tasks, _ = C.build_tasks(sessions, items, C.ClusterParams())
    with pytest.raises(WorkerError, match="worker process died"):
        ProcessPoolMapper(2, key=lambda t: f"{t.account_id}/{t.alert_id}")(_die, tasks, [t.cost for t in tasks])


def test_silhouette_matches_scikit_learn():
    from sklearn.metrics import silhouette_score

    rng = np.random.default_rng(5)
    pts = rng.normal(size=(30, 3))
    square = squareform(np.sqrt(((pts[:, None, :] - pts[None, :, :]) ** 2).sum(-1)), checks=False)
    square = squareform(square)
    for labels in (rng.integers(0, 3, 30), np.r_[np.zeros(29, int), 1], np.r_[np.zeros(15, int), np.ones(15, int)]):
        assert C.silhouette(square, labels) == pytest.approx(silhouette_score(square, labels, metric="precomputed"))
