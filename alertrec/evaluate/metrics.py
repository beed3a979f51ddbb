"""The evaluation's metrics: plain functions over frames, named exactly.

A ranking is a frame of ``query_col``, ``item_cols`` and ``rank`` (1 is the best); the
relevant items are a frame of ``query_col`` and ``item_cols`` (binary relevance). How
:mod:`alertrec.evaluate.holdout` builds both from the held-out sessions is in its docstring.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from alertrec import schema as S

log = logging.getLogger(__name__)

QUERY = "query_id"  # the evaluation's query: one test session
ITEM = (S.ITEM_TYPE, S.ITEM_ID)


def relevant_ranks(
    ranked: pd.DataFrame, relevant: pd.DataFrame, query_col: str = QUERY, item_cols: Sequence[str] = ITEM
) -> pd.DataFrame:
    """The rank of every relevant item (NaN when the ranking does not contain it).

    Parameters
    ----------
    ranked : pandas.DataFrame
        ``query_col``, ``item_cols`` and ``rank`` (1 is the best; one row per shown item).
    relevant : pandas.DataFrame
        ``query_col`` and ``item_cols``: the relevant items of each query (binary relevance).
    query_col : str
    item_cols : sequence of str

    Returns
    -------
    pandas.DataFrame
        The distinct rows of ``relevant`` with a float ``rank`` column.
    """
    keys = [query_col, *item_cols]
    rel = relevant[keys].drop_duplicates()
    shown = ranked[[*keys, S.RANK]].sort_values(S.RANK, kind="mergesort").drop_duplicates(keys)
    out = rel.merge(shown, on=keys, how="left")
    out[S.RANK] = out[S.RANK].astype(float)
    return out


def hit_rate_at_k(
    ranked: pd.DataFrame, relevant: pd.DataFrame, k: int, query_col: str = QUERY, item_cols: Sequence[str] = ITEM
) -> float:
    """Share of the queries (those with a relevant item) with a relevant item in the top ``k``."""
    ranks = relevant_ranks(ranked, relevant, query_col, item_cols)
    if ranks.empty:
        return float("nan")
    best = ranks.groupby(query_col)[S.RANK].min()
    return float((best <= k).mean())


def mrr(ranked: pd.DataFrame, relevant: pd.DataFrame, query_col: str = QUERY, item_cols: Sequence[str] = ITEM) -> float:
    """Mean over queries of 1 / rank of the first relevant item (0 when none is ranked)."""
    ranks = relevant_ranks(ranked, relevant, query_col, item_cols)
    if ranks.empty:
        return float("nan")
    best = ranks.groupby(query_col)[S.RANK].min()
    return float((1.0 / best).fillna(0.0).mean())


def ndcg_at_k(
    ranked: pd.DataFrame, relevant: pd.DataFrame, k: int, query_col: str = QUERY, item_cols: Sequence[str] = ITEM
) -> float:
    """Mean NDCG@k with binary relevance: DCG = Σ 1/log2(rank + 1) over the relevant items in
    the top ``k``, divided by the ideal DCG of min(#relevant, k) relevant items at the top."""
    ranks = relevant_ranks(ranked, relevant, query_col, item_cols)
    if ranks.empty:
        return float("nan")
    r = ranks[S.RANK].to_numpy()
    gain = np.where(r <= k, 1.0 / np.log2(np.nan_to_num(r, nan=1.0) + 1.0), 0.0)
    per = ranks.assign(_g=gain).groupby(query_col).agg(dcg=("_g", "sum"), n=("_g", "size"))
    discounts = np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))
    ideal = discounts[np.minimum(per["n"].to_numpy(), k) - 1]
    return float((per["dcg"].to_numpy() / ideal).mean())


def catalog_coverage(recommendations: pd.DataFrame, catalog: pd.DataFrame, k: int = 10) -> float:
    """Share of the catalog's (account_id, item_type, item_id) shown in some top-``k`` list."""
    keys = [S.ACCOUNT_ID, *ITEM]
    cat = catalog[keys].drop_duplicates()
    if cat.empty:
        return float("nan")
    shown = recommendations.loc[recommendations[S.RANK] <= k, keys].drop_duplicates()
    return float(len(cat.merge(shown, on=keys, how="inner")) / len(cat))


def mttr_estimate(cause_ranks: pd.DataFrame, top_k: int, seconds_per_item: float = 60.0) -> dict[str, float]:
    """Time to the item that revealed the cause, observed vs. with the recommendations.

    Parameters
    ----------
    cause_ranks : pandas.DataFrame
        One row per resolved session: ``rank`` of its cause item (NaN when not shown) and
        ``observed_s`` (seconds from the session start to that item).
    top_k : int
        Length of the shown lists.
    seconds_per_item : float
        Time to open and read one recommendation.

    Returns
    -------
    dict
        ``observed_s`` and ``estimated_s`` (means); estimated per session is
        ``rank * seconds_per_item`` when shown, else ``top_k * seconds_per_item +
        observed``.
    """
    if cause_ranks.empty:
        return {"observed_s": float("nan"), "estimated_s": float("nan")}
    r = cause_ranks[S.RANK].to_numpy(dtype=float)
    observed = cause_ranks["observed_s"].to_numpy(dtype=float)
    estimated = np.where(np.isnan(r), top_k * seconds_per_item + observed, np.nan_to_num(r) * seconds_per_item)
    return {"observed_s": float(observed.mean()), "estimated_s": float(estimated.mean())}
