"""The words of a recommendation row: the item's label and the phrases of its reason text.

One module for both rankers: the popularity yardstick
(:class:`alertrec.stages.rank.PopularityRanker`) and the learned ranker
(:mod:`alertrec.mxnet_ranker`, through :func:`alertrec.stages.rank.candidate_reasons` and the
labels of :func:`alertrec.stages.features.session_items`) name an item by :func:`item_labels`
and say why it is recommended with the phrases below, with real counts
(``docs/adr/0003-popularity-yardstick.md`` has the wording). Pure: frames and plain values
in, frames and strings out; no mxnet.
"""

from __future__ import annotations

import logging
from typing import cast

import pandas as pd

from alertrec import schema as S

log = logging.getLogger(__name__)

__all__ = [
    "item_labels",
    "verb_of",
    "own_use_text",
    "borrowed_text",
    "popular_text",
    "title_match_text",
    "investigations",
    "short_title",
    "title_or",
]

_VERB = {S.ITEM_DASHBOARD: "opened", S.ITEM_QUERY: "run"}
_MAX_TITLE_CHARS = 80
_ITEM = [S.ITEM_TYPE, S.ITEM_ID]


def item_labels(items: pd.DataFrame) -> pd.DataFrame:
    """One label per (account, item): the most frequent in ``items`` (normalize_items makes it unique).

    Parameters
    ----------
    items : pandas.DataFrame
        Output of ``normalize_items``; uses ``account_id, item_type, item_id, item_label``
        (rows with a null ``item_id`` or ``item_label`` are ignored). Not modified.

    Returns
    -------
    pandas.DataFrame
        ``account_id`` (int64), ``item_type, item_id, item_label``; one row per (account,
        item), sorted by (account_id, item_type, item_id); ties by the label.
    """
    cols = [S.ACCOUNT_ID, *_ITEM, S.ITEM_LABEL]
    lab = items.loc[items[S.ITEM_ID].notna() & items[S.ITEM_LABEL].notna(), cols]
    if lab.empty:
        return pd.DataFrame({c: pd.Series([], dtype="int64" if c == S.ACCOUNT_ID else object) for c in cols})
    lab = lab.astype({S.ACCOUNT_ID: "int64"})
    counts = lab.groupby(cols, sort=True).size().rename("_n").reset_index()
    counts = counts.sort_values(
        [S.ACCOUNT_ID, *_ITEM, "_n", S.ITEM_LABEL], ascending=[True, True, True, False, True], kind="mergesort"
    )
    return counts.drop_duplicates([S.ACCOUNT_ID, *_ITEM])[cols].reset_index(drop=True)


def verb_of(item_type: object) -> str:
    """What a person does with an item: a dashboard is ``opened``, a query ``run``."""
    return _VERB.get(str(item_type), "used")


def own_use_text(verb: str, n_used: int, n_sessions: int, history_days: int, n_resolved: object = 0) -> str:
    """``{verb} in N of M investigations of this alert in the last D days[, R of them resolved]``."""
    text = f"{verb} in {int(n_used)} of {investigations(int(n_sessions))} of this alert in the last {history_days} days"
    if n_resolved and n_resolved == n_resolved:  # neither 0 nor NaN
        text += f", {int(cast(float, n_resolved))} of them resolved"
    return text


def borrowed_text(
    title: object, source_alert_id: object, verb: str, n_used: int, n_sessions: int, n_sources: int
) -> str:
    """``borrowed from similar alert 'T' ({verb} in N of M investigations)[ and K more similar alerts]``;
    ``T`` is the source's title, else its alert_id."""
    text = (
        f"borrowed from similar alert '{short_title(title_or(title, source_alert_id))}' "
        f"({verb} in {int(n_used)} of {investigations(int(n_sessions))})"
    )
    others = int(n_sources) - 1
    if others > 0:
        text += f" and {others} more similar alert{'s' if others != 1 else ''}"
    return text


def popular_text(verb: str, n_used: int, history_days: int) -> str:
    """``popular in this account: {verb} in N investigations in the last D days``."""
    return f"popular in this account: {verb} in {investigations(int(n_used))} in the last {history_days} days"


def title_match_text(verb: str, n_used: int, history_days: int) -> str:
    """``named like this alert; {verb} in N investigations of this account in the last D days``."""
    return (
        f"named like this alert; {verb} in {investigations(int(n_used))} of this account"
        f" in the last {history_days} days"
    )


def investigations(n: int) -> str:
    """``1 investigation``, ``2 investigations``."""
    return f"{n} investigation{'s' if n != 1 else ''}"


def short_title(title: str) -> str:
    """The title on one line, cut to 80 characters (with an ellipsis)."""
    title = " ".join(str(title).split())
    return title if len(title) <= _MAX_TITLE_CHARS else title[: _MAX_TITLE_CHARS - 1] + "…"


def title_or(title: object, fallback: object) -> str:
    """``title`` when it is a non-blank string, else ``str(fallback)``."""
    return title if isinstance(title, str) and title.strip() else str(fallback)
