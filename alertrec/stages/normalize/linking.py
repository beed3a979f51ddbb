"""Near-duplicate canonical forms of one account (rapidfuzz), linked to one representative."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from alertrec import schema as S

log = logging.getLogger(__name__)

__all__ = ["drop_linked_queries", "link_near_duplicates", "linked_components", "matches"]


def matches(forms: list[str], others: list[str], threshold: float) -> np.ndarray:
    """``scores[i, j] > 0`` where ``forms[i]`` and ``others[j]`` are linked (rapidfuzz ``ratio`` >= ``threshold``).

    ``processor=None`` on purpose: canonical forms are already normalised, and
    rapidfuzz's default processor would strip the operators and placeholders
    (``>=``, ``<NUM>``) that tell queries apart. This is the one link rule;
    the output-contract checker uses it too.
    """
    from rapidfuzz import fuzz, process

    if not forms or not others:
        return np.zeros((len(forms), len(others)), dtype=np.uint8)
    return process.cdist(
        forms, others, scorer=fuzz.ratio, processor=None, score_cutoff=threshold, dtype=np.uint8, workers=1
    )


def linked_components(forms: list[str], threshold: float) -> list[list[str]]:
    """The groups of two or more linked forms (transitively), each sorted; forms linked to nothing are left out.

    Parameters
    ----------
    forms : list of str
        Distinct canonical forms of one account, sorted.
    threshold : float
        Minimum ``fuzz.ratio`` (0-100).

    Returns
    -------
    list of list of str
        Components in the order of their first form.
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    if len(forms) < 2:
        return []
    scores = matches(forms, forms, threshold)
    np.fill_diagonal(scores, 0)
    if not scores.any():
        return []
    _, comp = connected_components(csr_matrix(scores > 0), directed=False)
    groups: dict[int, list[str]] = {}
    for form, c in zip(forms, comp):
        groups.setdefault(int(c), []).append(form)
    return [sorted(group) for group in groups.values() if len(group) > 1]


def link_near_duplicates(canonicals: pd.DataFrame, threshold: float) -> dict[tuple[int, str], str]:
    """Link near-duplicate canonical queries of one account to one representative.

    Two canonical forms of the same account whose rapidfuzz ``ratio`` is at
    least ``threshold`` (0-100) are linked; linked forms (transitively, the
    connected components) share the representative that sorts first, so an
    ``item_id`` changes only when a new near-duplicate that sorts before the
    others appears.

    ``processor=None`` on purpose: canonical forms are already normalised,
    and rapidfuzz's default processor would strip the operators and
    placeholders (``>=``, ``<NUM>``) that tell queries apart.

    Parameters
    ----------
    canonicals : pandas.DataFrame
        Distinct ``account_id, canonical`` pairs.
    threshold : float
        Minimum ``fuzz.ratio``.

    Returns
    -------
    dict
        ``(account_id, canonical) -> representative`` for every linked form
        whose representative differs from itself.
    """
    links: dict[tuple[int, str], str] = {}
    for account_id, group in canonicals.groupby(S.ACCOUNT_ID, sort=True):
        for component in linked_components(sorted(set(group[S.CANONICAL])), threshold):
            for form in component[1:]:  # sorted: the first of a component represents it
                links[(int(account_id), form)] = component[0]
    return links


def drop_linked_queries(recs: pd.DataFrame, items: pd.DataFrame, threshold: float | None) -> pd.DataFrame:
    """One row per query in a list: drop a query row whose canonical forms link to a better-ranked one.

    Two ids of one list can hold linked forms when a new form linked to registered forms of
    two different ids (it takes the first) or a registered form changed its neighbours; such
    a second row would waste a slot of the top-k. The rows after a dropped one move up; the
    list then holds one row fewer (at most ``top_k`` rows, as the contract says).

    Parameters
    ----------
    recs : pandas.DataFrame
        Recommendations (the contract's columns), sorted by (account_id, alert_id, rank).
    items : pandas.DataFrame
        The normalized items they came from (``account_id``, ``item_type``, ``item_id``, ``canonical``).
    threshold : float or None
        The run's ``query_link_threshold``; ``None``: nothing is dropped.

    Returns
    -------
    pandas.DataFrame
        ``recs`` without the dropped rows, ranks renumbered from 1 (a new frame; ``recs``
        itself when nothing is dropped).
    """
    if threshold is None or recs.empty:
        return recs
    is_query = (recs[S.ITEM_TYPE] == S.ITEM_QUERY).to_numpy()
    if is_query.sum() < 2:
        return recs
    forms_of: dict[tuple[int, str], list[str]] = {}
    q = items[(items[S.ITEM_TYPE] == S.ITEM_QUERY) & items[S.CANONICAL].notna()]
    for (a, i), group in q.groupby([S.ACCOUNT_ID, S.ITEM_ID], sort=False)[S.CANONICAL]:
        forms_of[(int(a), str(i))] = sorted(set(group))
    keep = np.ones(len(recs), dtype=bool)
    key = [S.ACCOUNT_ID, S.ALERT_ID]
    for _, idx in recs.groupby(key, sort=False).indices.items():
        kept_forms: list[str] = []
        for row in idx:
            if not is_query[row]:
                continue
            forms = forms_of.get((int(recs[S.ACCOUNT_ID].iat[row]), str(recs[S.ITEM_ID].iat[row])), [])
            if kept_forms and forms and matches(forms, kept_forms, threshold).any():
                keep[row] = False
            else:
                kept_forms.extend(forms)
    if keep.all():
        return recs
    log.info("rank: %d query rows dropped, linked to a better-ranked query of the same list", int((~keep).sum()))
    out = recs[keep].reset_index(drop=True)
    out[S.RANK] = (out.groupby(key, sort=False).cumcount() + 1).astype(recs[S.RANK].dtype)
    return out
