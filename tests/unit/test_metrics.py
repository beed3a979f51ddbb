"""The evaluation's metric functions: by hand, and NDCG against scikit-learn's ndcg_score."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import ndcg_score

from alertrec import schema as S
from alertrec.evaluate import (
    QUERY,
    catalog_coverage,
    hit_rate_at_k,
    mrr,
    mttr_estimate,
    ndcg_at_k,
    relevant_ranks,
)

D = "dashboard"


def ranking(rows: dict[str, list[str]]) -> pd.DataFrame:
    """``{query: [item ids best first]}`` -> query_id, item_type, item_id, rank."""
    out = [(q, D, item, r + 1) for q, items in rows.items() for r, item in enumerate(items)]
    return pd.DataFrame(out, columns=[QUERY, S.ITEM_TYPE, S.ITEM_ID, S.RANK])


def relevant(rows: dict[str, list[str]]) -> pd.DataFrame:
    out = [(q, D, item) for q, items in rows.items() for item in items]
    return pd.DataFrame(out, columns=[QUERY, S.ITEM_TYPE, S.ITEM_ID])


# q1: the relevant b at rank 2; q2: x is not ranked; q3: a (rank 1) and c (rank 3) are relevant
RANKED = ranking({"q1": ["a", "b", "c"], "q2": ["a", "b", "c"], "q3": ["a", "b", "c"]})
RELEVANT = relevant({"q1": ["b"], "q2": ["x"], "q3": ["c", "a"]})


def test_hit_rates_by_hand():
    assert hit_rate_at_k(RANKED, RELEVANT, 1) == pytest.approx(1 / 3)  # q3
    assert hit_rate_at_k(RANKED, RELEVANT, 2) == pytest.approx(2 / 3)  # q1, q3
    assert hit_rate_at_k(RANKED, RELEVANT, 5) == pytest.approx(2 / 3)


def test_mrr_by_hand():
    assert mrr(RANKED, RELEVANT) == pytest.approx((1 / 2 + 0 + 1) / 3)


def test_ndcg_by_hand():
    q1 = (1 / math.log2(3)) / 1.0
    q3 = (1 / math.log2(2) + 1 / math.log2(4)) / (1 / math.log2(2) + 1 / math.log2(3))
    assert ndcg_at_k(RANKED, RELEVANT, 10) == pytest.approx((q1 + 0.0 + q3) / 3)
    # at k = 2 the c of q3 (rank 3) no longer counts; the ideal still has two relevant items
    q3_at2 = 1.0 / (1 + 1 / math.log2(3))
    assert ndcg_at_k(RANKED, RELEVANT, 2) == pytest.approx((q1 + 0.0 + q3_at2) / 3)


def test_relevant_ranks_keep_unranked_items_as_nan():
    ranks = relevant_ranks(RANKED, RELEVANT).set_index([QUERY, S.ITEM_ID])[S.RANK]
    assert ranks[("q1", "b")] == 2.0 and ranks[("q3", "c")] == 3.0 and np.isnan(ranks[("q2", "x")])


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("k", [1, 3, 10])
def test_ndcg_agrees_with_scikit_learn(seed, k):
    rng = np.random.default_rng(seed)
    n_queries, n_items = 25, 12
    y_true = (rng.random((n_queries, n_items)) < 0.25).astype(float)
    y_true[y_true.sum(axis=1) == 0, rng.integers(n_items)] = 1.0  # every query has a relevant item
    y_score = np.vstack([rng.permutation(n_items) for _ in range(n_queries)]).astype(float)  # no ties
    ranked_rows, relevant_rows = [], []
    for q in range(n_queries):
        order = np.argsort(-y_score[q])
        ranked_rows += [(f"q{q}", D, f"i{i}", r + 1) for r, i in enumerate(order)]
        relevant_rows += [(f"q{q}", D, f"i{i}") for i in np.flatnonzero(y_true[q])]
    ranked = pd.DataFrame(ranked_rows, columns=[QUERY, S.ITEM_TYPE, S.ITEM_ID, S.RANK])
    rel = pd.DataFrame(relevant_rows, columns=[QUERY, S.ITEM_TYPE, S.ITEM_ID])
    assert ndcg_at_k(ranked, rel, k) == pytest.approx(ndcg_score(y_true, y_score, k=k), rel=1e-12)


def test_catalog_coverage_by_hand():
    catalog = pd.DataFrame({S.ACCOUNT_ID: [1, 1, 1, 2], S.ITEM_TYPE: [D] * 4, S.ITEM_ID: ["a", "b", "c", "a"]})
    recs = pd.DataFrame(
        {S.ACCOUNT_ID: [1, 1, 2, 2], S.ITEM_TYPE: [D] * 4, S.ITEM_ID: ["a", "b", "z", "a"], S.RANK: [1, 11, 1, 2]}
    )
    # shown in a top 10: (1, a), (2, a); (1, b) only at rank 11; (2, z) is not in the catalog
    assert catalog_coverage(recs, catalog, k=10) == pytest.approx(2 / 4)


def test_mttr_estimate_by_hand():
    cause = pd.DataFrame({S.RANK: [1.0, 3.0, np.nan], "observed_s": [100.0, 50.0, 200.0]})
    got = mttr_estimate(cause, top_k=10, seconds_per_item=60.0)
    assert got["observed_s"] == pytest.approx(350 / 3)
    # rank 1 -> 60 s, rank 3 -> 180 s, not shown -> the whole list (600 s) and then as observed
    assert got["estimated_s"] == pytest.approx((60 + 180 + 800) / 3)


def test_empty_inputs_give_nan():
    empty = RELEVANT.iloc[0:0]
    assert math.isnan(hit_rate_at_k(RANKED, empty, 5))
    assert math.isnan(mrr(RANKED, empty))
    assert math.isnan(ndcg_at_k(RANKED, empty, 10))
