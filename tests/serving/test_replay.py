"""The replay's metrics on answers computed by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd

from alertrec import schema as S
from alertrec.serving.model import Bundle
from alertrec.serving.replay import SessionKNN, replay_account, summarize
from tests.serving.conftest import ACCOUNT, DEPLOY_ID, account_frames


def test_session_knn_ranks_by_neighbour_similarity():
    knn = SessionKNN(k=10, other_alert_weight=0.5).fit(
        [np.array([0, 1]), np.array([0, 2]), np.array([0, 2, 3]), np.array([4])], np.array(["a", "a", "a", "b"]), 5
    )
    assert list(knn.rank("a", np.array([0]), fallback=np.array([4]), top_k=3)) == [2, 1, 3]
    # an empty prefix, or no neighbour at all: the fallback list without what was used
    assert list(knn.rank("a", np.array([], dtype=np.int64), fallback=np.array([4, 1]), top_k=3)) == [4, 1]
    assert list(knn.rank("a", np.array([-1]), fallback=np.array([4, 1]), top_k=3)) == [4, 1]


def test_replay_of_one_bad_deploy_investigation(serving_files):
    bundle = Bundle.from_files(serving_files)
    hist_s, hist_i = account_frames()
    start = pd.Timestamp("2026-02-01T09:00:00Z")
    test_s = pd.DataFrame(
        [{S.SESSION_ID: "t1", S.ACCOUNT_ID: ACCOUNT, S.ALERT_ID: "a1", S.STARTED_AT: start, S.RESOLVED: True}]
    )
    test_i = pd.DataFrame(
        [
            {S.SESSION_ID: "t1", S.SEQ: k, S.OFFSET_S: 60.0 * (k + 1), S.ITEM_TYPE: t, S.ITEM_ID: i}
            for k, (t, i) in enumerate(
                [("dashboard", "dash-overview"), ("dashboard", "dash-deploys"), ("query", DEPLOY_ID)]
            )
        ]
    )
    replay = replay_account(bundle, hist_s, hist_i, test_s, test_i)
    metrics = summarize([replay])
    # the list: overview, the deploy query (the root cause, rank 2), pg, deploys, pool query
    static = metrics["static"]
    assert static["next_item_hit_rate_at_5"] == 1.0 and static["steps"] == 3
    assert static["root_cause_in_top5_after_0"] == 1.0
    # the opening shows the root cause at rank 2: 0 + 2 x 60 + 30 = 150 s, under the real 180 s;
    # a later refresh cannot beat it (60 s + 90 s at best), whatever the ranker
    for name in ("static", "static_unused", "dynamic", "session_knn"):
        assert metrics[name]["dynamic_mttr_s"] == 150.0
        assert metrics[name]["real_time_to_cause_s"] == 180.0
    assert metrics["dynamic"]["sessions_list_not_rank1"] == 1
    # after the deploys dashboard the next-step model names the deploy query first
    steps = replay.steps[replay.steps["ranker"] == "dynamic"]
    assert list(steps["cause_hit"]) == [1.0, 1.0, 1.0]
