"""The normalize stage on frames: item ids, canonical forms and clickable labels per item row."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from alertrec import schema as S
from alertrec.stages.normalize.canonical import canonical_query, query_item_id
from alertrec.stages.normalize.linking import link_near_duplicates
from alertrec.stages.normalize.registry import QueryRegistry, assign_query_ids

log = logging.getLogger(__name__)

__all__ = ["normalize_items"]


def normalize_items(
    items: pd.DataFrame,
    link_threshold: float | None = None,
    registry: pd.DataFrame | QueryRegistry | None = None,
    day: str | None = None,
) -> pd.DataFrame:
    """Give every session item its identity and a label a person can click.

    Implements the contract rule that query texts differing only in literal
    values or term order are the same query, and the Output columns
    ``item_id`` / ``item_label``.

    Parameters
    ----------
    items : pandas.DataFrame
        The ``items`` frame of the extraction (``docs/frames.md``); uses
        ``account_id``, ``ts``, ``event_id``, ``item_type``, ``item_key``
        (dashboard id or raw query text), ``item_title`` and
        ``query_language``. Not modified.
    link_threshold : float, optional
        When given, near-duplicate canonical forms of one account (rapidfuzz
        ``ratio`` >= this) share one ``item_id`` (:func:`link_near_duplicates`).
    registry : pandas.DataFrame or QueryRegistry, optional
        The query registry read at the start of the run
        (:mod:`alertrec.stages.normalize.registry`): registered forms keep
        their ids, new forms linked to registered ones take their ids. ``None``:
        ids as without a registry (the forms in ``items`` alone decide).
        Not modified; :func:`new_registry_entries` gives the forms to add.
    day : str, optional
        The run's day ``YYYY-MM-DD``; only logged (``new_registry_entries``
        stamps the new forms with it).

    Returns
    -------
    pandas.DataFrame
        A new frame: every input column and row, in the input order, plus

        * ``item_id``: dashboards: ``item_key``; queries:
          :func:`query_item_id` of the canonical form, or the registered /
          linked id (see ``registry``). Null for a row
          without a key (a null or blank dashboard id or query text): such a
          row is not an item.
        * ``canonical``: the canonical query (null for dashboards).
        * ``item_label``: dashboards: the most recent non-blank title of
          that (account_id, item_id) in the frame, else the id; queries: the
          raw text used most often for that (account_id, item_id) (ties: the
          most recently used, then the smallest text), so a runnable text.

    Notes
    -----
    ``canonical_query`` runs once per distinct (text, language); the rest is
    vectorised.
    """
    out = items.copy()
    n = len(out)
    item_type = out[S.ITEM_TYPE].to_numpy(dtype=object)
    keys = out[S.ITEM_KEY].to_numpy(dtype=object)
    has_key = np.fromiter((isinstance(k, str) and not k.isspace() and k != "" for k in keys), dtype=bool, count=n)
    is_query = (item_type == S.ITEM_QUERY) & has_key
    is_dash = (item_type == S.ITEM_DASHBOARD) & has_key

    item_id = np.full(n, None, dtype=object)
    canonical = np.full(n, None, dtype=object)
    item_id[is_dash] = keys[is_dash]
    if is_query.any():
        texts = keys[is_query]
        if S.QUERY_LANGUAGE in out.columns:
            langs = out[S.QUERY_LANGUAGE].to_numpy(dtype=object)[is_query]
            langs = np.array([lang if isinstance(lang, str) else "" for lang in langs], dtype=object)
        else:
            langs = np.full(len(texts), "", dtype=object)
        # canonical_query once per distinct (language, text)
        codes, uniques = pd.factorize(langs + "\x00" + texts)
        first = np.zeros(len(uniques), dtype=np.int64)
        first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)
        canon_u = np.array([canonical_query(texts[i], langs[i] or None) for i in first], dtype=object)
        ids_by_canon = {c: query_item_id(c) for c in set(canon_u.tolist())}
        ids_u = np.array([ids_by_canon[c] for c in canon_u], dtype=object)
        canonical[is_query] = canon_u[codes]
        item_id[is_query] = ids_u[codes]
        if registry is not None:
            accounts = out[S.ACCOUNT_ID].to_numpy()[is_query]
            pairs = pd.DataFrame({S.ACCOUNT_ID: accounts, S.CANONICAL: canonical[is_query]}).drop_duplicates()
            ids = assign_query_ids(pairs, registry, link_threshold)
            item_id[is_query] = np.array(
                [ids[(int(a), c)] for a, c in zip(accounts, canonical[is_query])], dtype=object
            )
            log.debug("normalize: ids of %s from a registry of %d forms", day or "the run", len(registry))
        elif link_threshold is not None:
            accounts = out[S.ACCOUNT_ID].to_numpy()[is_query]
            pairs = pd.DataFrame({S.ACCOUNT_ID: accounts, S.CANONICAL: canonical[is_query]}).drop_duplicates()
            links = link_near_duplicates(pairs, link_threshold)
            if links:
                linked = np.array(
                    [
                        query_item_id(links[(int(a), c)]) if (int(a), c) in links else i
                        for a, c, i in zip(accounts, canonical[is_query], item_id[is_query])
                    ],
                    dtype=object,
                )
                item_id[is_query] = linked
                log.info("normalize: %d near-duplicate canonical queries linked", len(links))
        log.debug(
            "normalize: %d query rows, %d distinct texts, %d distinct queries",
            int(is_query.sum()),
            len(uniques),
            len(ids_by_canon),
        )
    out[S.ITEM_ID] = item_id
    out[S.CANONICAL] = canonical
    out[S.ITEM_LABEL] = _labels(out, is_dash, is_query)
    return out


def _labels(out: pd.DataFrame, is_dash: np.ndarray, is_query: np.ndarray) -> np.ndarray:
    """``item_label`` per row (see :func:`normalize_items`)."""
    labels = np.full(len(out), None, dtype=object)
    key = [S.ACCOUNT_ID, S.ITEM_ID]
    if is_dash.any():
        d = out.loc[is_dash, [S.ACCOUNT_ID, S.ITEM_ID, S.ITEM_TITLE, S.TS, S.EVENT_ID]]
        titles = d[S.ITEM_TITLE].to_numpy(dtype=object)
        titled = np.fromiter((isinstance(t, str) and t.strip() != "" for t in titles), dtype=bool, count=len(d))
        latest = (
            d[titled]
            .sort_values([S.TS, S.EVENT_ID], kind="mergesort")
            .drop_duplicates(key, keep="last")[[*key, S.ITEM_TITLE]]
            .rename(columns={S.ITEM_TITLE: "_label"})
        )
        got = d[key].merge(latest, on=key, how="left")["_label"].to_numpy(dtype=object)
        missing = pd.isna(got)
        got[missing] = d[S.ITEM_ID].to_numpy(dtype=object)[missing]
        labels[is_dash] = got
    if is_query.any():
        q = out.loc[is_query, [S.ACCOUNT_ID, S.ITEM_ID, S.ITEM_KEY, S.TS]]
        usage = q.groupby([*key, S.ITEM_KEY], sort=False)[S.TS].agg(["size", "max"]).reset_index()
        usage["_neg_size"] = -usage["size"]
        # the most used text, then the most recently used, then the smallest
        best = (
            usage.sort_values(["_neg_size", "max", S.ITEM_KEY], ascending=[True, False, True], kind="mergesort")
            .drop_duplicates(key, keep="first")[[*key, S.ITEM_KEY]]
            .rename(columns={S.ITEM_KEY: "_label"})
        )
        labels[is_query] = q[key].merge(best, on=key, how="left")["_label"].to_numpy(dtype=object)
    return labels
