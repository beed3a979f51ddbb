"""Near-duplicate canonical forms of one account (rapidfuzz), linked to one representative."""

from __future__ import annotations

import logging
import numpy as np
import pandas as pd

from alertrec import schema as S

log = logging.getLogger(__name__)

__all__ = ["link_near_duplicates"]


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
    from rapidfuzz import fuzz, process
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    links: dict[tuple[int, str], str] = {}
    for account_id, group in canonicals.groupby(S.ACCOUNT_ID, sort=True):
        forms = sorted(set(group[S.CANONICAL]))
        if len(forms) < 2:
            continue
        scores = process.cdist(
            forms, forms, scorer=fuzz.ratio, processor=None, score_cutoff=threshold, dtype=np.uint8, workers=1
        )
        np.fill_diagonal(scores, 0)
        if not scores.any():
            continue
        _, comp = connected_components(csr_matrix(scores > 0), directed=False)
        first: dict[int, str] = {}
        for form, c in zip(forms, comp):  # forms are sorted: the first of a component represents it
            first.setdefault(int(c), form)
        for form, c in zip(forms, comp):
            if first[int(c)] != form:
                links[(int(account_id), form)] = first[int(c)]
    return links
