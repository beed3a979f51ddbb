"""The pure part of the learned ranker (``alertrec/mxnet_ranker.py``): the reason text of its rows.

:func:`candidate_reasons` turns the bookkeeping columns of
:func:`alertrec.stages.features.candidate_features` into one line per scored row, with the
phrases of :mod:`alertrec.stages.reasons`; it needs no mxnet, so it lives with the other ranker.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from alertrec import schema as S
from alertrec.stages import features as F
from alertrec.stages.reasons import borrowed_text, own_use_text, popular_text, title_match_text, verb_of

log = logging.getLogger(__name__)

__all__ = ["candidate_reasons"]


def candidate_reasons(rows: pd.DataFrame, history_days: int) -> np.ndarray:
    """One line per row with real counts: own use, else the similar alert it is borrowed from,
    else account-wide popularity, else a label like the alert's title.

    Parameters
    ----------
    rows : pandas.DataFrame
        Rows of :func:`alertrec.stages.features.candidate_features` (uses ``item_type``, the
        source flags, the reason's bookkeeping columns and, when present, ``cluster_support``
        and ``in_medoid``). Not modified.
    history_days : int
        The learning window named in the text.

    Returns
    -------
    numpy.ndarray
        One string per row (object dtype), in row order.
    """
    out = []
    columns = [
        S.ITEM_TYPE,
        F.FROM_OWN,
        F.N_USED,
        F.DEF_SESSIONS,
        F.N_RESOLVED_USED,
        F.N_LAST,
        F.FROM_SIMILAR,
        F.SOURCE_TITLE,
        F.SOURCE_ALERT_ID,
        F.SOURCE_N_USED,
        F.SOURCE_SESSIONS,
        F.N_SOURCES,
        F.ACCOUNT_N_USED,
        F.FROM_TITLE,
        F.FROM_POPULAR,
    ]
    support = rows["cluster_support"].to_numpy(dtype=float) if "cluster_support" in rows else np.zeros(len(rows))
    medoid = rows["in_medoid"].to_numpy(dtype=float) if "in_medoid" in rows else np.zeros(len(rows))
    for (
        item_type,
        own,
        n_used,
        n_def,
        n_res,
        n_last,
        similar,
        src_title,
        src_id,
        src_used,
        src_sessions,
        n_sources,
        acc_used,
        title_match,
        popular,
    ), sup, med in zip(zip(*(rows[c].to_numpy(dtype=object) for c in columns)), support, medoid):
        verb = verb_of(item_type)
        if own:
            text = own_use_text(verb, n_used, n_def, history_days, n_res)
            if n_last:
                text += f"; the last step before resolution in {int(n_last)}"
            if med > 0 and sup >= 0.5:
                text += f"; a step of a recurring investigation pattern ({round(100 * sup)}% of its sessions)"
        elif similar:
            text = borrowed_text(src_title, src_id, verb, src_used, src_sessions, n_sources)
        elif title_match and not popular:
            text = title_match_text(verb, acc_used, history_days)
        else:
            text = popular_text(verb, acc_used, history_days)
        out.append(text)
    return np.array(out, dtype=object)
