"""Candidates, features and labels of the learned ranker, worked out by hand.

The world (``WINDOW_END`` = 2026-02-01 00:00 UTC, half-life 7 days, short half-life 2 days):

* account 1, ``a1`` "High 5xx rate on api":
  ``s1`` age 1 day, resolved, items d1, d2 (d2 is the last item before resolution);
  ``s2`` age 7, resolved, items d1, d3; ``s3`` age 14, unresolved, item d2.
* account 1, ``a2`` "High 5xx rate on api gateway": ``s4`` age 2, unresolved, item d4.
* account 1, ``a3`` "Disk full on db-primary": ``s5`` age 3, resolved, item d5.
* account 2, ``b1`` "High 5xx rate on api": ``s6`` age 1, resolved, item d1 (another account's d1).

Long weights ``0.5 ** (age / 7)``: s1 2**(-1/7), s2 0.5, s3 0.25, s4 2**(-2/7), s5 2**(-3/7).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from rapidfuzz import fuzz
from rapidfuzz.utils import default_process

from alertrec import schema as S
from alertrec.stages import features as F
from alertrec.stages.normalize import normalize_items
from tests.ranker_contract import WINDOW_END, Sess, build_frames

D = "dashboard"
API = "High 5xx rate on api"
SESSIONS = [
    Sess("s1", 1, "a1", API, 1, True, ((D, "d1", "API overview"), (D, "d2", "Upstreams"))),
    Sess("s2", 1, "a1", API, 7, True, ((D, "d1", "API overview"), (D, "d3", "Load balancer"))),
    Sess("s3", 1, "a1", API, 14, False, ((D, "d2", "Upstreams"),)),
    Sess("s4", 1, "a2", API + " gateway", 2, False, ((D, "d4", "Gateway"),)),
    Sess("s5", 1, "a3", "Disk full on db-primary", 3, True, ((D, "d5", "Disks"),)),
    Sess("s6", 2, "b1", API, 1, True, ((D, "d1", "Other account's d1"),)),
]
W1, W2, W3, W4, W5 = 2 ** (-1 / 7), 0.5, 0.25, 2 ** (-2 / 7), 2 ** (-3 / 7)
PARAMS = F.FeatureParams(
    half_life_days=7.0,
    short_half_life_days=2.0,
    history_days=28,
    n_popular=20,
    borrow_sources=3,
    similar_title_threshold=60.0,
    max_candidates=64,
)


@pytest.fixture()
def frames():
    sessions, items, _ = build_frames(SESSIONS, [])
    return sessions, normalize_items(items)


@pytest.fixture()
def stats(frames):
    return F.history_stats(F.session_items(*frames), WINDOW_END, PARAMS)


def own(stats, alert_id, item_id):
    row = stats.own[(stats.own[S.ALERT_ID] == alert_id) & (stats.own[S.ITEM_ID] == item_id)]
    assert len(row) == 1, (alert_id, item_id)
    return row.iloc[0]


def feats_of(frame, alert_id, item_id, cold=F.COLD_NONE):
    row = frame[(frame[S.ALERT_ID] == alert_id) & (frame[S.ITEM_ID] == item_id) & (frame[F.COLD] == cold)]
    assert len(row) == 1, (alert_id, item_id, cold)
    return row.iloc[0]


# --------------------------------------------------------------------------
# session items
# --------------------------------------------------------------------------
def test_a_session_counts_an_item_once_and_knows_its_last_item():
    sessions, items, _ = build_frames(
        [Sess("x", 1, "a", "T", 1, True, ((D, "d1", "A"), (D, "d2", "B"), (D, "d1", "A"), (D, "d3", "C")))], []
    )
    hist = F.session_items(sessions, normalize_items(items))
    pairs = hist.pairs.set_index(S.ITEM_ID)
    assert sorted(pairs.index) == ["d1", "d2", "d3"]
    assert pairs["_is_last"].to_dict() == {"d1": False, "d2": False, "d3": True}
    # first use: d1 first of 4 items, d2 second, d3 last
    assert pairs["_pos"].to_dict() == pytest.approx({"d1": 0.0, "d2": 1 / 3, "d3": 1.0})


# --------------------------------------------------------------------------
# features by hand
# --------------------------------------------------------------------------
def test_own_use_shares_by_recency(stats):
    assert own(stats, "a1", "d1")["own_use_long"] == pytest.approx((W1 + W2) / (W1 + W2 + W3))
    assert own(stats, "a1", "d2")["own_use_long"] == pytest.approx((W1 + W3) / (W1 + W2 + W3))
    s1, s2, s3 = 2 ** (-1 / 2), 2 ** (-7 / 2), 2 ** (-14 / 2)
    assert own(stats, "a1", "d3")["own_use_short"] == pytest.approx(s2 / (s1 + s2 + s3))
    assert own(stats, "a1", "d2")["n_used"] == 2


def test_resolved_and_last_before_resolution_shares(stats):
    assert own(stats, "a1", "d1")["own_resolved_share"] == pytest.approx(1.0)
    assert own(stats, "a1", "d2")["own_resolved_share"] == pytest.approx(W1 / (W1 + W2))
    assert own(stats, "a1", "d1")["own_last_share"] == 0.0
    assert own(stats, "a1", "d2")["own_last_share"] == pytest.approx(W1 / (W1 + W2))
    assert own(stats, "a1", "d3")["own_last_share"] == pytest.approx(W2 / (W1 + W2))
    assert own(stats, "a1", "d2")["n_last"] == 1


def test_position_time_users_and_drift(stats):
    d2 = own(stats, "a1", "d2")
    assert d2["own_position"] == pytest.approx((1.0 + 0.0) / 2)  # last in s1, only item of s3
    assert d2["own_log_offset"] == pytest.approx(np.log1p(120.0) / 2 + np.log1p(60.0) / 2)
    assert d2["own_days_since_last"] == pytest.approx(1 / 28)
    assert d2["own_days_since_first"] == pytest.approx(14 / 28)
    assert d2["own_users_share"] == pytest.approx(2 / 3)  # every session has its own user


def test_account_wide_use_never_mixes_accounts(stats):
    acc = stats.account.set_index([S.ACCOUNT_ID, S.ITEM_ID])
    total1 = W1 + W2 + W3 + W4 + W5
    assert acc.loc[(1, "d1"), "account_use_long"] == pytest.approx((W1 + W2) / total1)
    assert acc.loc[(2, "d1"), "account_use_long"] == pytest.approx(1.0)
    assert acc.loc[(1, "d1"), "def_spread"] == pytest.approx(1 / 3)


def test_as_of_leaves_out_later_sessions_and_cuts_open_ones(frames):
    hist = F.session_items(*frames)
    # 90 s after s1 started: s1 has used d1 only and is not resolved yet
    as_of = WINDOW_END - pd.Timedelta(days=1) + pd.Timedelta(seconds=90)
    stats = F.history_stats(hist, as_of, PARAMS)
    assert set(stats.own.loc[stats.own[S.ALERT_ID] == "a1", S.ITEM_ID]) == {"d1", "d2", "d3"}
    d2 = own(stats, "a1", "d2")
    assert d2["n_used"] == 1  # s3 only: s1 used d2 after as_of
    d1 = own(stats, "a1", "d1")
    assert d1["n_used"] == 2 and d1["n_resolved_used"] == 1  # s1 counts, unresolved
    age = lambda days: 0.5 ** ((days - 1 + 90 / 86400) / 7)  # noqa: E731
    assert d1["own_use_long"] == pytest.approx((age(1) + age(7)) / (age(1) + age(7) + age(14)))
    # two days earlier, s1 does not exist yet
    early = F.history_stats(hist, WINDOW_END - pd.Timedelta(days=2), PARAMS)
    assert own(early, "a1", "d1")["n_used"] == 1


def test_sar_similarity_by_hand(stats):
    targets = pd.DataFrame({S.ACCOUNT_ID: [1], S.ALERT_ID: ["a1"], S.ALERT_TITLE: [API]})
    feats = F.candidate_features(stats, targets, PARAMS)
    # account 1 co-occurrence: d1 {s1,s2}, d2 {s1,s3}, d3 {s2}: J(d1,d2)=1/3, J(d1,d3)=1/2, J(d2,d3)=0
    a = {i: own(stats, "a1", i)["own_use_long"] for i in ("d1", "d2", "d3")}
    total = sum(a.values())
    assert feats_of(feats, "a1", "d1")["sar_similarity"] == pytest.approx((a["d2"] / 3 + a["d3"] / 2) / total)
    assert feats_of(feats, "a1", "d3")["sar_similarity"] == pytest.approx((a["d1"] / 2) / total)
    assert feats_of(feats, "a1", "d4")["sar_similarity"] == 0.0


def test_title_similarity_uses_rapidfuzz_with_the_default_processor(stats):
    targets = pd.DataFrame({S.ACCOUNT_ID: [1], S.ALERT_ID: ["a1"], S.ALERT_TITLE: ["HIGH 5xx Rate on API!"]})
    feats = F.candidate_features(stats, targets, PARAMS)
    expected = fuzz.token_set_ratio("HIGH 5xx Rate on API!", "API overview", processor=default_process) / 100
    assert expected > fuzz.token_set_ratio("HIGH 5xx Rate on API!", "API overview") / 100  # case matters without it
    assert feats_of(feats, "a1", "d1")["title_similarity"] == pytest.approx(expected)


# --------------------------------------------------------------------------
# candidates
# --------------------------------------------------------------------------
def test_candidates_come_from_own_similar_and_popular_items_of_the_same_account(stats):
    targets = pd.DataFrame(
        {
            S.ACCOUNT_ID: [1, 1, 2],
            S.ALERT_ID: ["a2", "new", "b2"],
            S.ALERT_TITLE: [API + " gateway", API + " v2", "Disk full on db-primary"],
        }
    )
    feats = F.candidate_features(stats, targets, PARAMS)
    a2 = feats[feats[S.ALERT_ID] == "a2"].set_index(S.ITEM_ID)
    assert bool(a2.loc["d4", F.FROM_OWN]) and not bool(a2.loc["d1", F.FROM_OWN])
    assert bool(a2.loc["d1", F.FROM_SIMILAR])  # from a1 ("... api" is contained in "... api gateway")
    assert set(a2.index) == {"d1", "d2", "d3", "d4", "d5"}  # popular fills the rest
    new = feats[feats[S.ALERT_ID] == "new"].set_index(S.ITEM_ID)
    assert not new[F.FROM_OWN].any() and (new["has_own_history"] == 0).all()
    # borrowed from a1 and a2: their use shares weighted by title similarity
    sim1 = fuzz.token_set_ratio(API + " v2", API, processor=default_process)
    sim2 = fuzz.token_set_ratio(API + " v2", API + " gateway", processor=default_process)
    assert sim1 == 100 and 60 <= sim2 < 100
    a1_d1 = own(stats, "a1", "d1")["own_use_long"]
    assert new.loc["d1", "borrowed_use"] == pytest.approx(sim1 * a1_d1 / (sim1 + sim2))
    assert new.loc["d4", "borrowed_use"] == pytest.approx(sim2 * 1.0 / (sim1 + sim2))
    assert new.loc["d1", F.SOURCE_ALERT_ID] == "a1"
    # account 2 knows only its own d1
    assert set(feats.loc[feats[S.ACCOUNT_ID] == 2, S.ITEM_ID]) == {"d1"}


def test_cold_targets_ignore_their_own_history(stats):
    targets = pd.DataFrame(
        {S.ACCOUNT_ID: [1, 1], S.ALERT_ID: ["a1", "a1"], S.ALERT_TITLE: [API, API], F.COLD: [F.COLD_NONE, F.COLD_NEW]}
    )
    feats = F.candidate_features(stats, targets, PARAMS)
    warm, cold = feats_of(feats, "a1", "d3"), feats_of(feats, "a1", "d3", cold=F.COLD_NEW)
    assert warm["own_use_long"] > 0 and cold["own_use_long"] == 0 and cold["has_own_history"] == 0
    assert not feats.loc[feats[F.COLD] > 0, F.FROM_OWN].any()
    # d3 was used by a1 only: without a1's sessions the account never used it
    assert warm["account_use_long"] > 0 and cold["account_use_long"] == 0.0
    # d4 (a2's) keeps its account share, over the account's sessions without a1's
    assert feats_of(feats, "a1", "d4", cold=F.COLD_NEW)["account_use_long"] == pytest.approx(W4 / (W4 + W5))


def test_twin_targets_borrow_their_own_history_at_similarity_one(stats):
    targets = pd.DataFrame({S.ACCOUNT_ID: [1], S.ALERT_ID: ["a1"], S.ALERT_TITLE: [API], F.COLD: [F.COLD_TWIN]})
    feats = F.candidate_features(stats, targets, PARAMS).set_index(S.ITEM_ID)
    assert not feats[F.FROM_OWN].any() and (feats["own_use_long"] == 0).all()
    assert (feats["borrowed_max_similarity"] == 1.0).all()
    assert feats.loc["d1", F.SOURCE_ALERT_ID] == "a1"
    assert feats.loc["d1", "borrowed_best_use"] == pytest.approx(own(stats, "a1", "d1")["own_use_long"])
    assert feats.loc["d3", "borrowed_best_last_share"] == pytest.approx(W2 / (W1 + W2))
    # a2 ("... api gateway") lends too, less similar
    sim2 = fuzz.token_set_ratio(API, API + " gateway", processor=default_process) / 100
    assert feats.loc["d4", "borrowed_use"] == pytest.approx(sim2 / (1.0 + sim2))
    # the "parent" is in the account: account-wide shares keep its sessions
    total1 = W1 + W2 + W3 + W4 + W5
    assert feats.loc["d3", "account_use_long"] == pytest.approx(W2 / total1)


def test_cluster_support_and_medoids(frames):
    assignments = pd.DataFrame(
        {
            S.ACCOUNT_ID: [1, 1, 1],
            S.ALERT_ID: ["a1"] * 3,
            S.SESSION_ID: ["s1", "s2", "s3"],
            "cluster": [0, 0, 1],
            "is_medoid": [True, False, True],
        }
    )
    stats = F.history_stats(F.session_items(*frames), WINDOW_END, PARAMS, assignments)
    targets = pd.DataFrame({S.ACCOUNT_ID: [1], S.ALERT_ID: ["a1"], S.ALERT_TITLE: [API]})
    feats = F.candidate_features(stats, targets, PARAMS).set_index(S.ITEM_ID)
    # cluster 0 = {s1, s2}; cluster 1 (one session) gives no support
    assert feats.loc["d1", "cluster_support"] == pytest.approx(1.0)
    assert feats.loc["d2", "cluster_support"] == pytest.approx(0.5)
    assert feats.loc["d3", "cluster_support"] == pytest.approx(0.5)
    assert feats.loc["d1", "in_medoid"] == 1.0 and feats.loc["d3", "in_medoid"] == 0.0
    assert feats.loc["d2", "in_medoid"] == 1.0  # s1 and s3 are medoids


def test_at_most_max_candidates_by_prior(stats):
    targets = pd.DataFrame({S.ACCOUNT_ID: [1], S.ALERT_ID: ["a1"], S.ALERT_TITLE: [API]})
    feats = F.candidate_features(stats, targets, F.FeatureParams(max_candidates=2))
    assert list(feats[S.ITEM_ID]) == ["d1", "d2"]  # the two highest priors of a1
    assert list(feats[F.PRIOR]) == sorted(feats[F.PRIOR], reverse=True)


def test_feature_columns_are_finite_floats(stats):
    targets = stats.definitions[[S.ACCOUNT_ID, S.ALERT_ID, S.ALERT_TITLE]]
    feats = F.candidate_features(stats, targets, PARAMS)
    values = feats[list(F.FEATURE_COLUMNS)]
    assert (values.dtypes == "float64").all()
    assert np.isfinite(values.to_numpy()).all()


# --------------------------------------------------------------------------
# labels and training lists
# --------------------------------------------------------------------------
def test_graded_labels(frames):
    hist = F.session_items(*frames)
    start = (WINDOW_END - pd.Timedelta(days=14, hours=1)).timestamp()
    labels = F.graded_labels(hist, start, WINDOW_END.timestamp())
    got = {(r.session_id, r.item_id): r.grade for r in labels.itertuples()}
    assert got[("s1", "d1")] == F.GRADE_RESOLVED
    assert got[("s1", "d2")] == F.GRADE_LAST
    assert got[("s2", "d3")] == F.GRADE_LAST
    assert got[("s3", "d2")] == F.GRADE_USED
    assert got[("s4", "d4")] == F.GRADE_USED


def test_training_lists_label_a_day_with_features_from_before_it(frames):
    hist = F.session_items(*frames)
    lists = F.training_lists(
        hist,
        WINDOW_END - pd.Timedelta(days=28),
        WINDOW_END,
        PARAMS,
        train_days=1,
        cold_copies=False,
        gains=(1.0, 2.0, 12.0),
    )
    # the last day holds s1 (a1) and s6 (b1); account 2 has no history before it: no candidates
    heads = lists.drop_duplicates(F.LIST_ID)
    assert list(zip(heads[S.ACCOUNT_ID], heads[S.ALERT_ID])) == [(1, "a1")]
    a1 = lists[lists[S.ALERT_ID] == "a1"].set_index(S.ITEM_ID)
    assert a1[F.GAIN].sum() == pytest.approx(1.0)
    assert a1.loc["d2", F.GAIN] == pytest.approx(12 / 14) and a1.loc["d1", F.GAIN] == pytest.approx(2 / 14)
    assert (a1[F.LIST_WEIGHT] == 1).all()
    # features as of the cutoff: s1 (the label) is not in them
    assert a1.loc["d1", F.N_USED] == 1 and a1.loc["d2", F.N_USED] == 1
    cold = F.training_lists(hist, WINDOW_END - pd.Timedelta(days=28), WINDOW_END, PARAMS, train_days=1)
    assert sorted(cold.drop_duplicates(F.LIST_ID)[F.COLD]) == [F.COLD_NONE, F.COLD_NEW, F.COLD_TWIN]


def test_pure_and_order_independent(frames):
    sessions, items = frames
    before = (sessions.copy(deep=True), items.copy(deep=True))
    targets = pd.DataFrame(
        {S.ACCOUNT_ID: [1, 1, 2], S.ALERT_ID: ["a1", "new", "b1"], S.ALERT_TITLE: [API, API + " v2", API]}
    )
    first = F.make_features(sessions, items, targets, WINDOW_END, PARAMS)
    second = F.make_features(
        sessions.sample(frac=1.0, random_state=3),
        items.sample(frac=1.0, random_state=4),
        targets.iloc[::-1],
        WINDOW_END,
        PARAMS,
    )
    pd.testing.assert_frame_equal(first, second)
    pd.testing.assert_frame_equal(before[0], sessions)
    pd.testing.assert_frame_equal(before[1], items)


def test_no_history_gives_no_candidates():
    sessions, items, _ = build_frames([], [])
    targets = pd.DataFrame({S.ACCOUNT_ID: [1], S.ALERT_ID: ["a1"], S.ALERT_TITLE: [API]})
    feats = F.make_features(sessions, normalize_items(items), targets, WINDOW_END, PARAMS)
    assert feats.empty and list(feats.columns)[:3] == [S.ACCOUNT_ID, S.ALERT_ID, F.COLD]


def _assignments() -> pd.DataFrame:
    """Two clusters of a1 (s1+s2 with medoid s1, s3 alone) and noise for s4."""
    return pd.DataFrame(
        {"session_id": ["s1", "s2", "s3", "s4"], "cluster": [0, 0, 1, -1], "is_medoid": [True, False, True, False]}
    )


def test_stacked_cutoffs_give_the_numbers_of_one_call_per_cutoff(frames):
    """history_stats_at aggregates several cutoffs at once; for every cutoff, the candidates and
    features it gives are exactly those of history_stats at that cutoff alone."""
    hist = F.session_items(*frames)
    end = WINDOW_END.timestamp()
    cutoffs = [end - d * 86_400.0 for d in (8, 3, 2, 1, 0)]  # s2 and s4 land in between
    targets = pd.DataFrame(
        {S.ACCOUNT_ID: [1, 1, 1, 2], S.ALERT_ID: ["a1", "a2", "new", "b1"], S.ALERT_TITLE: [API, None, API, API]}
    )
    targets = pd.concat([targets.assign(cold=c) for c in (F.COLD_NONE, F.COLD_NEW, F.COLD_TWIN)], ignore_index=True)
    stacked = F.history_stats_at(hist, cutoffs, PARAMS, _assignments())
    feats = F.candidate_features(
        stacked.stats, pd.concat([stacked.stack(targets, c) for c in cutoffs], ignore_index=True), PARAMS
    )
    account, cutoff = stacked.unstack(feats)
    feats = feats.assign(**{S.ACCOUNT_ID: account})
    seen = 0
    for c in cutoffs:
        alone = F.candidate_features(F.history_stats(hist, c, PARAMS, _assignments()), targets, PARAMS)
        got = feats[cutoff == c].reset_index(drop=True)
        pd.testing.assert_frame_equal(got, alone, check_exact=True)
        seen += len(alone)
    assert seen == len(feats) and len(set(cutoff)) == 5
    # account 2's one session (s6, a day old) is history only at the last cutoff
    assert set(cutoff[account == 2]) == {end}


def test_training_lists_do_not_depend_on_how_cutoffs_are_grouped():
    more = [
        Sess("s7", 1, "a1", API, 4, True, ((D, "d1", "API overview"), (D, "d2", "Upstreams"))),
        Sess("s8", 1, "a1", API, 9, True, ((D, "d2", "Upstreams"), (D, "d1", "API overview"))),
    ]
    sessions, items, _ = build_frames(SESSIONS + more, [])
    hist = F.session_items(sessions, normalize_items(items))
    start = WINDOW_END - pd.Timedelta(days=28)
    together = F.training_lists(hist, start, WINDOW_END, PARAMS, train_days=14, assignments=_assignments())
    one_by_one = F.training_lists(
        hist, start, WINDOW_END, PARAMS, train_days=14, assignments=_assignments(), stack_rows=1
    )
    assert together[F.CUTOFF].nunique() >= 3
    pd.testing.assert_frame_equal(together, one_by_one, check_exact=True)
