"""PopularityRanker: the ranker contract, and scores, orders and reasons worked out by hand.

Weights (half-life 7 days, resolved weight 1 unless a test says otherwise):
a session started ``age`` days before the window end weighs ``0.5 ** (age / 7)``,
twice that when it was resolved. So age 0 -> 1, age 7 -> 0.5, age 14 -> 0.25.
"""

from __future__ import annotations

import pandas as pd
import pytest
from rapidfuzz import fuzz
from rapidfuzz.utils import default_process

from alertrec import schema as S
from alertrec.stages.normalize import normalize_items
from alertrec.stages.rank import PopularityRanker, Ranker, empty_recommendations
from tests.ranker_contract import RankerContract, Sess, build_frames, make_config


class TestPopularityContract(RankerContract):
    def make_ranker(self) -> Ranker:
        return PopularityRanker()


def run(sessions: list[Sess], fired: list[tuple[int, str, str]], **config) -> pd.DataFrame:
    s, items, f = build_frames(sessions, fired)
    return PopularityRanker().fit(s, normalize_items(items), f, make_config(**config)).recommend(f)


def rows(recs: pd.DataFrame, alert_id: str) -> list[tuple]:
    got = recs[recs[S.ALERT_ID] == alert_id].sort_values(S.RANK)
    return list(got[[S.RANK, S.ITEM_ID, S.SCORE]].itertuples(index=False, name=None))


D = "dashboard"


# --------------------------------------------------------------------------
# scores by hand
# --------------------------------------------------------------------------
def test_three_sessions_give_exact_scores_and_order():
    sessions = [
        Sess("A", 1, "x", "Alert", 0, True, ((D, "dx", "X"), (D, "dz", "Z"))),  # 1 * 2 = 2.0
        Sess("B", 1, "x", "Alert", 7, False, ((D, "dx", "X"), (D, "dy", "Y"), (D, "dy", "Y"))),  # 0.5
        Sess("C", 1, "x", "Alert", 14, True, ((D, "dx", "X"), (D, "dz", "Z"))),  # 0.25 * 2 = 0.5
    ]
    recs = run(sessions, [(1, "x", "Alert")], top_k=10)
    got = rows(recs, "x")
    assert [r[:2] for r in got] == [(1, "dx"), (2, "dz"), (3, "dy")]
    assert [r[2] for r in got] == pytest.approx([3.0, 2.5, 0.5], rel=1e-12)  # dy counted once in B


def test_resolved_weight_and_half_life_come_from_the_config():
    sessions = [
        Sess("A", 1, "x", "Alert", 0, True, ((D, "dx", "X"),)),  # 1.5
        Sess("B", 1, "x", "Alert", 7, False, ((D, "dx", "X"),)),  # 0.5
        Sess("C", 1, "x", "Alert", 14, True, ((D, "dx", "X"),)),  # 0.25 * 1.5 = 0.375
    ]
    recs = run(sessions, [(1, "x", "Alert")], resolved_weight=0.5)
    assert rows(recs, "x") == [(1, "dx", pytest.approx(2.375, rel=1e-12))]
    recs = run(sessions, [(1, "x", "Alert")], half_life_days=14.0, resolved_weight=0.0)
    assert rows(recs, "x") == [(1, "dx", pytest.approx(1 + 0.5**0.5 + 0.5, rel=1e-12))]


def test_equal_scores_order_by_item_type_then_item_id():
    sessions = [
        Sess("A", 1, "x", "Alert", 0, False, (("query", "level:warn", "lucene"), (D, "d9", "9"), (D, "d1", "1"))),
    ]
    recs = run(sessions, [(1, "x", "Alert")], top_k=10)
    got = recs.sort_values(S.RANK)
    assert got[S.ITEM_TYPE].tolist() == ["dashboard", "dashboard", "query"]
    assert got[S.ITEM_ID].tolist() == ["d1", "d9", "q_eb7c7d0358fe27e9"]
    assert got[S.SCORE].tolist() == [1.0, 1.0, 1.0]


def test_ties_at_the_top_k_cut_keep_dashboards_then_smaller_ids():
    sessions = [
        Sess("A", 1, "x", "Alert", 0, False, (("query", "level:warn", "lucene"), (D, "d9", "9"), (D, "d1", "1"))),
    ]
    recs = run(sessions, [(1, "x", "Alert"), (1, "new", "Unrelated")], top_k=2)
    assert [r[1] for r in rows(recs, "x")] == ["d1", "d9"]
    assert [r[1] for r in rows(recs, "new")] == ["d1", "d9"]  # the account-wide tier cuts the same way


def test_queries_differing_in_literals_and_order_are_one_item():
    sessions = [
        Sess("A", 1, "x", "Alert", 0, False, (("query", "service:api AND status:500", "lucene"),)),
        Sess("B", 1, "x", "Alert", 0, False, (("query", "status:503   service:api", "lucene"),)),
        Sess("C", 1, "x", "Alert", 0, False, (("query", "status:503 service:api", "lucene"),)),
        Sess("D", 1, "x", "Alert", 1, False, (("query", "status:404 service:api", "lucene"),) * 2),
    ]
    recs = run(sessions, [(1, "x", "Alert")])
    assert len(recs) == 1
    row = recs.iloc[0]
    assert row[S.SCORE] == pytest.approx(3.0 + 0.5 ** (1 / 7))
    assert row[S.ITEM_LABEL] == "status:404 service:api"  # the text used most often (twice)
    assert row[S.REASON_TEXT] == "run in 4 of 4 investigations of this alert in the last 28 days"


# --------------------------------------------------------------------------
# borrowing and the account-wide fallback
# --------------------------------------------------------------------------
TARGET = "Checkout latency high"
S1_TITLE = "Checkout latency high on eu"  # a superset of the target's words: similarity 100
S2_TITLE = "Checkout errors high"  # similar, less so
S3_TITLE = "Disk full"  # not similar

BORROW_WORLD = [
    Sess("t1", 1, "T", TARGET, 0, False, ((D, "d_own", "Own"),)),  # d_own 1.0
    Sess("a1", 1, "S1", S1_TITLE, 0, False, ((D, "dA", "A"), (D, "dB", "B"))),  # dA 2.0, dB 1.0
    Sess("a2", 1, "S1", S1_TITLE, 0, False, ((D, "dA", "A"),)),
    Sess("b1", 1, "S2", S2_TITLE, 0, False, ((D, "dC", "C"),)),  # dC 1.0
    Sess("c1", 1, "S3", S3_TITLE, 0, False, ((D, "dZ", "Z"),)),  # dZ 1.0
]


def _similarity(a: str, b: str) -> float:
    return fuzz.token_set_ratio(a, b, processor=default_process)


def test_similarity_of_the_borrow_world_titles():
    assert _similarity(TARGET, S1_TITLE) == 100
    assert 60 <= _similarity(TARGET, S2_TITLE) < 100
    assert _similarity(TARGET, S3_TITLE) < 60


def test_borrowing_is_similarity_weighted_and_scaled_under_the_own_items():
    recs = run(BORROW_WORLD, [(1, "T", TARGET)], top_k=5, borrow_sources=2)
    sim2 = _similarity(TARGET, S2_TITLE) / 100
    # own: d_own 1.0; borrowed raw: dA 2.0, dB 1.0, dC sim2 * 1.0, scaled by 1.0 / 2.0;
    # account-wide: dZ 1.0, scaled under the last borrowed score (sim2 / 2)
    assert rows(recs, "T") == [
        (1, "d_own", 1.0),
        (2, "dA", pytest.approx(1.0)),
        (3, "dB", pytest.approx(0.5)),
        (4, "dC", pytest.approx(sim2 / 2)),
        (5, "dZ", pytest.approx(sim2 / 2)),
    ]
    reasons = recs.sort_values(S.RANK)[S.REASON_TEXT].tolist()
    assert reasons == [
        "opened in 1 of 1 investigation of this alert in the last 28 days",
        "borrowed from similar alert 'Checkout latency high on eu' (opened in 2 of 2 investigations)",
        "borrowed from similar alert 'Checkout latency high on eu' (opened in 1 of 2 investigations)",
        "borrowed from similar alert 'Checkout errors high' (opened in 1 of 1 investigation)",
        "popular in this account: opened in 1 investigation in the last 28 days",
    ]


def test_borrow_sources_limits_the_sources_to_the_most_similar():
    recs = run(BORROW_WORLD, [(1, "T", TARGET)], top_k=5, borrow_sources=1)
    # only S1 lends; dC and dZ (raw 1.0 each, ties by item_id) come from the account, under dB's 0.5
    assert rows(recs, "T") == [
        (1, "d_own", 1.0),
        (2, "dA", pytest.approx(1.0)),
        (3, "dB", pytest.approx(0.5)),
        (4, "dC", pytest.approx(0.5)),
        (5, "dZ", pytest.approx(0.5)),
    ]
    assert recs.sort_values(S.RANK)[S.REASON_TEXT].iloc[3].startswith("popular in this account: ")


def test_similarity_threshold_comes_from_the_config():
    recs = run(BORROW_WORLD, [(1, "T", TARGET)], top_k=5, similar_title_threshold=100.0)
    reasons = recs.sort_values(S.RANK)[S.REASON_TEXT].tolist()
    assert [r.split(" (")[0].split(":")[0] for r in reasons] == [
        "opened in 1 of 1 investigation of this alert in the last 28 days",
        "borrowed from similar alert 'Checkout latency high on eu'",
        "borrowed from similar alert 'Checkout latency high on eu'",
        "popular in this account",
        "popular in this account",
    ]


def test_no_borrowing_at_all_when_borrow_sources_is_zero():
    recs = run(BORROW_WORLD, [(1, "T", TARGET)], top_k=3, borrow_sources=0)
    # account-wide order: dA 2.0, then d_own / dB / dC / dZ at 1.0 (d_own is already there)
    assert [r[1] for r in rows(recs, "T")] == ["d_own", "dA", "dB"]
    assert rows(recs, "T")[1][2] == pytest.approx(1.0)  # 2.0 scaled under d_own's 1.0


def test_lenders_add_up_and_the_biggest_lender_names_the_reason():
    sessions = [*BORROW_WORLD, Sess("b2", 1, "S2", S2_TITLE, 0, False, ((D, "dB", "B"), (D, "dB", "B")))]
    # N has T's title: T and S1 are similar at 100, S2 at sim2
    sim2 = _similarity(TARGET, S2_TITLE) / 100
    recs = run(sessions, [(1, "N", TARGET)], top_k=2, borrow_sources=3)
    # no own tier, so no scaling: dA 2.0 (S1); dB 1.0 (S1) + sim2 * 1.0 (S2); d_own 1.0 (T) is third
    assert rows(recs, "N") == [(1, "dA", pytest.approx(2.0)), (2, "dB", pytest.approx(1.0 + sim2))]
    assert recs.sort_values(S.RANK)[S.REASON_TEXT].iloc[1] == (
        "borrowed from similar alert 'Checkout latency high on eu' (opened in 1 of 2 investigations)"
        " and 1 more similar alert"
    )
    # two sources: the two at 100 (S1, T), never S2
    recs = run(sessions, [(1, "N", TARGET)], top_k=3, borrow_sources=2)
    assert rows(recs, "N") == [
        (1, "dA", pytest.approx(2.0)),
        (2, "dB", pytest.approx(1.0)),
        (3, "d_own", pytest.approx(1.0)),
    ]


def test_never_investigated_and_unlike_anything_gets_the_account_wide_favourites():
    sessions = [
        Sess("A", 1, "x", "Alert one", 0, True, ((D, "d1", "One"), ("query", "level:error", "dql"))),
        Sess("B", 1, "x", "Alert one", 7, False, ((D, "d1", "One"),)),
        Sess("C", 1, "y", "Alert two", 0, False, ((D, "d2", "Two"),)),
        Sess("Z", 2, "z", "Zeta", 0, False, ((D, "d9", "Nine"),)),
    ]
    recs = run(sessions, [(1, "new", "Certificate expiry"), (3, "lonely", "x")], top_k=3)
    # d1: 2.0 + 0.5 in 2 sessions; the query: 2.0 in 1; d2: 1.0 in 1; account 2 never shows up
    assert rows(recs, "new") == [
        (1, "d1", pytest.approx(2.5)),
        (2, "q_279f63bdea61d6c9", pytest.approx(2.0)),  # level:error
        (3, "d2", pytest.approx(1.0)),
    ]
    assert recs.sort_values(S.RANK)[S.REASON_TEXT].tolist() == [
        "popular in this account: opened in 2 investigations in the last 28 days",
        "popular in this account: run in 1 investigation in the last 28 days",
        "popular in this account: opened in 1 investigation in the last 28 days",
    ]
    assert set(recs[S.ALERT_ID]) == {"new"}  # account 3 has no items at all


def test_a_blank_fired_title_falls_back_to_the_learned_title_then_to_the_account():
    sessions = [
        Sess("A", 1, "x", "Checkout latency high", 0, False, ((D, "d1", "One"),)),
        Sess("B", 1, "y", "Checkout latency high on eu", 0, False, ((D, "d2", "Two"), (D, "d2b", "Two b"))),
        Sess("C", 1, "z", "Something else entirely", 0, False, ((D, "d3", "Three"), (D, "d3", "Three"))),
    ]
    s, items, f = build_frames(sessions, [(1, "x", ""), (1, "w", None)])
    recs = PopularityRanker().fit(s, normalize_items(items), f, make_config(top_k=2)).recommend(f)
    # x: its own d1, then borrowed from y through its learned title
    assert (
        recs[recs[S.ALERT_ID] == "x"][S.REASON_TEXT]
        .iloc[1]
        .startswith("borrowed from similar alert 'Checkout latency high on eu'")
    )
    # w: no title at all, so no borrowing: account-wide d1, d2 ... (all 1.0, by item_id)
    assert [r[1] for r in rows(recs, "w")] == ["d1", "d2"]


# --------------------------------------------------------------------------
# reasons
# --------------------------------------------------------------------------
def test_own_reasons_count_investigations_and_resolutions_with_the_history_window():
    sessions = [
        Sess("A", 1, "x", "Alert", 0, True, ((D, "d1", "One"), ("query", "level:error", "dql"))),
        Sess("B", 1, "x", "Alert", 1, True, ((D, "d1", "One"),)),
        Sess("C", 1, "x", "Alert", 2, False, ((D, "d1", "One"),)),
    ]
    recs = run(sessions, [(1, "x", "Alert")], history_days=14)
    assert recs.sort_values(S.RANK)[S.REASON_TEXT].tolist() == [
        "opened in 3 of 3 investigations of this alert in the last 14 days, 2 of them resolved",
        "run in 1 of 3 investigations of this alert in the last 14 days, 1 of them resolved",
    ]


def test_labels_are_the_latest_dashboard_title_and_the_most_used_query_text():
    sessions = [
        Sess("A", 1, "x", "Alert", 3, False, ((D, "d1", "Old title"), ("query", "status:500 level:error", "lucene"))),
        Sess("B", 1, "x", "Alert", 1, False, ((D, "d1", "New title"), ("query", "level:error status:404", "lucene"))),
        Sess("C", 1, "x", "Alert", 2, False, ((D, "d1", None), ("query", "status:500 level:error", "lucene"))),
    ]
    recs = run(sessions, [(1, "x", "Alert")])
    labels = dict(zip(recs[S.ITEM_TYPE], recs[S.ITEM_LABEL]))
    assert labels == {"dashboard": "New title", "query": "status:500 level:error"}


# --------------------------------------------------------------------------
# edges
# --------------------------------------------------------------------------
def test_top_k_one_still_gives_every_fired_definition_a_row():
    recs = run(BORROW_WORLD, [(1, "T", TARGET), (1, "S1", S1_TITLE), (1, "new", "Anything")], top_k=1)
    assert sorted(recs[S.ALERT_ID]) == ["S1", "T", "new"]
    assert (recs[S.RANK] == 1).all()


def test_items_of_unknown_sessions_and_without_id_are_ignored():
    s, items, f = build_frames(
        [
            Sess("A", 1, "x", "Alert", 0, False, ((D, "d1", "One"),)),
            Sess("B", 1, "x", "Alert", 0, False, ((D, "d2", "Two"),)),
        ],
        [(1, "x", "Alert")],
    )
    items = normalize_items(items)
    items.loc[items[S.SESSION_ID] == "B", S.ITEM_ID] = None
    extra = items.iloc[[0]].assign(**{S.SESSION_ID: "ghost", S.ITEM_ID: "d_ghost"})
    items = pd.concat([items, extra], ignore_index=True)
    recs = PopularityRanker().fit(s, items, f, make_config()).recommend(f)
    assert recs[S.ITEM_ID].tolist() == ["d1"]


def test_raw_items_are_refused_with_a_clear_message():
    s, items, f = build_frames([Sess("A", 1, "x", "Alert", 0, False, ((D, "d1", "One"),))], [(1, "x", "Alert")])
    with pytest.raises(ValueError, match="normalize_items"):
        PopularityRanker().fit(s, items, f, make_config())


def test_nothing_fired_gives_an_empty_frame():
    s, items, f = build_frames([Sess("A", 1, "x", "Alert", 0, False, ((D, "d1", "One"),))], [])
    recs = PopularityRanker().fit(s, normalize_items(items), f, make_config()).recommend(f)
    assert recs.empty
    pd.testing.assert_frame_equal(recs, empty_recommendations())


def test_constructor_stores_nothing_learned():
    ranker = PopularityRanker()
    assert not [name for name in vars(ranker) if name.endswith("_")]
    assert ranker.model_version == "popularity-v1"
