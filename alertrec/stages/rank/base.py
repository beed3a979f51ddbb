"""The interface every ranker implements, and the contract's recommendations frame.

:class:`Ranker` is what the pipeline calls (``fit`` / ``recommend``);
:func:`finish_recommendations` gives a ranker's rows the contract's columns, order and dtypes
(``shared/contract.md``, Output) and :func:`empty_recommendations` is the frame without rows.
"""

from __future__ import annotations

import abc
import logging
from typing import Any

import pandas as pd

from alertrec import schema as S
from alertrec.config import Config

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------
# The interface
# --------------------------------------------------------------------------
class Ranker(abc.ABC):
    """What every ranker offers the pipeline.

    Subclasses set ``model_version`` (a class attribute: the ``model_version``
    column of their rows), store only parameters in ``__init__``, and keep
    learned state in attributes ending in ``_``.
    """

    model_version: str = ""

    @abc.abstractmethod
    def fit(
        self, sessions: pd.DataFrame, items: pd.DataFrame, fired: pd.DataFrame, config: Config, clusters: Any = None
    ) -> Ranker:
        """Learn from one window's investigations.

        Parameters
        ----------
        sessions : pandas.DataFrame
            ``sessions`` of the extraction (``docs/frames.md``).
        items : pandas.DataFrame
            ``items`` of the extraction after
            :func:`alertrec.stages.normalize.normalize_items` (with
            ``item_id`` and ``item_label``).
        fired : pandas.DataFrame
            ``fired`` of the extraction: the definitions that fired in the window.
        config : alertrec.config.Config
            The run's settings (``top_k``, ``window_end``, ``generated_at``, ...).
        clusters : alertrec.stages.cluster.Clusters, optional
            The investigation patterns of the cluster stage; rankers that use
            them as signals read ``support``, ``medoids`` and ``assignments``.

        Returns
        -------
        Ranker
            ``self``. None of the inputs is modified.
        """

    @abc.abstractmethod
    def recommend(self, fired: pd.DataFrame) -> pd.DataFrame:
        """Ranked items for each fired definition.

        Parameters
        ----------
        fired : pandas.DataFrame
            ``account_id``, ``alert_id``, ``alert_title`` of the definitions
            to recommend for (one row each). Not modified.

        Returns
        -------
        pandas.DataFrame
            Exactly :data:`alertrec.schema.RECOMMENDATION_COLUMNS`: ``rank``
            int32 contiguous from 1 per (account_id, alert_id), ``score``
            float64 non-increasing with rank, at most ``config.top_k`` rows
            per definition, every fired definition present when its account
            has any item at all, ``generated_at`` = ``config.generated_at``.
        """


def empty_recommendations() -> pd.DataFrame:
    """A recommendations frame with no rows and the contract's columns and dtypes."""
    return pd.DataFrame(
        {
            S.ACCOUNT_ID: pd.Series([], dtype="int64"),
            S.ALERT_ID: pd.Series([], dtype=object),
            S.RANK: pd.Series([], dtype="int32"),
            S.ITEM_TYPE: pd.Series([], dtype=object),
            S.ITEM_ID: pd.Series([], dtype=object),
            S.ITEM_LABEL: pd.Series([], dtype=object),
            S.SCORE: pd.Series([], dtype="float64"),
            S.REASON_TEXT: pd.Series([], dtype=object),
            S.MODEL_VERSION: pd.Series([], dtype=object),
            S.GENERATED_AT: pd.Series([], dtype="datetime64[ns, UTC]"),
        }
    )


def finish_recommendations(rows: pd.DataFrame, model_version: str, generated_at) -> pd.DataFrame:
    """Give ranked rows the contract's columns, order and dtypes.

    Parameters
    ----------
    rows : pandas.DataFrame
        ``account_id``, ``alert_id``, ``rank``, ``item_type``, ``item_id``,
        ``item_label``, ``score``, ``reason`` (other columns are dropped).
    model_version : str
        The ranker's ``model_version``.
    generated_at : datetime.datetime
        The run's time stamp (timezone-aware).

    Returns
    -------
    pandas.DataFrame
        A new frame sorted by (account_id, alert_id, rank), index 0..n-1.
    """
    if rows.empty:
        return empty_recommendations()
    out = pd.DataFrame(
        {
            S.ACCOUNT_ID: rows[S.ACCOUNT_ID].astype("int64").to_numpy(),
            S.ALERT_ID: rows[S.ALERT_ID].astype(str).to_numpy(dtype=object),
            S.RANK: rows[S.RANK].astype("int32").to_numpy(),
            S.ITEM_TYPE: rows[S.ITEM_TYPE].astype(str).to_numpy(dtype=object),
            S.ITEM_ID: rows[S.ITEM_ID].astype(str).to_numpy(dtype=object),
            S.ITEM_LABEL: rows[S.ITEM_LABEL].astype(str).to_numpy(dtype=object),
            S.SCORE: rows[S.SCORE].astype("float64").to_numpy(),
            S.REASON_TEXT: rows[S.REASON_TEXT].astype(str).to_numpy(dtype=object),
        }
    )
    out[S.MODEL_VERSION] = model_version
    out[S.GENERATED_AT] = pd.Series(pd.Timestamp(generated_at).tz_convert("UTC"), index=out.index).astype(
        "datetime64[ns, UTC]"
    )
    out = out.sort_values([S.ACCOUNT_ID, S.ALERT_ID, S.RANK], kind="mergesort").reset_index(drop=True)
    return out[list(S.RECOMMENDATION_COLUMNS)]
