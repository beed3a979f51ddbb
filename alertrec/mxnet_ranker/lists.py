"""The training lists of the MXNet ranker as arrays, and the feature scaling (numpy and pandas only).

The lists themselves (candidates, features, graded gains) come from
:func:`alertrec.stages.features.training_lists`; this module pads them into
``(lists, max_candidates, features)`` arrays, standardizes the features and numbers
lists of any origin the way that function does.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from alertrec import schema as S
from alertrec.stages import features as F

log = logging.getLogger(__name__)


class ListData:
    """Training lists as padded arrays: ``(lists, max_candidates, features)``.

    ``tensors`` holds the network's copies of the arrays once
    :func:`alertrec.mxnet_ranker.net.take_lists` has converted them (once, not per step).
    """

    def __init__(self, x, prior, mask, gain, weight, weight_sessions, account, cutoff, cold) -> None:
        self.x, self.prior, self.mask, self.gain, self.weight = x, prior, mask, gain, weight
        self.weight_sessions, self.account, self.cutoff, self.cold = weight_sessions, account, cutoff, cold
        self.n_lists = len(weight)
        self.tensors: tuple | None = None

    @classmethod
    def build(cls, lists: pd.DataFrame, scaling: dict[str, list[float]], max_candidates: int) -> ListData:
        n_feat = len(F.FEATURE_COLUMNS)
        if lists.empty:
            z = np.zeros((0, max_candidates), dtype=np.float32)
            return cls(
                np.zeros((0, max_candidates, n_feat), np.float32),
                z,
                z,
                z,
                np.zeros(0, np.float32),
                np.zeros(0),
                np.zeros(0, np.int64),
                np.zeros(0),
                np.zeros(0, bool),
            )
        list_id = lists[F.LIST_ID].to_numpy(dtype=np.int64)
        n_lists = int(list_id.max()) + 1
        pos = lists.groupby(F.LIST_ID, sort=False).cumcount().to_numpy()
        width = int(min(max_candidates, pos.max() + 1))
        x = np.zeros((n_lists, width, n_feat), dtype=np.float32)
        prior = np.zeros((n_lists, width), dtype=np.float32)
        mask = np.zeros((n_lists, width), dtype=np.float32)
        gain = np.zeros((n_lists, width), dtype=np.float32)
        x[list_id, pos] = standardize(lists, scaling)
        prior[list_id, pos] = lists[F.PRIOR].to_numpy(dtype=np.float32)
        mask[list_id, pos] = 1.0
        gain[list_id, pos] = lists[F.GAIN].to_numpy(dtype=np.float32)
        head = lists.drop_duplicates(F.LIST_ID).sort_values(F.LIST_ID)
        sessions = head[F.LIST_WEIGHT].to_numpy(dtype=np.float64)
        weight = np.sqrt(sessions).astype(np.float32)  # busy definitions count more, but not linearly
        return cls(
            x,
            prior,
            mask,
            gain,
            weight,
            sessions,
            head[S.ACCOUNT_ID].to_numpy(dtype=np.int64),
            head[F.CUTOFF].to_numpy(dtype=np.float64),
            head[F.COLD].to_numpy(dtype=bool),
        )


def feature_scaling(lists: pd.DataFrame) -> dict[str, list[float]]:
    """Mean and standard deviation of each feature over the training rows (std 1 when constant)."""
    if lists.empty:
        n = len(F.FEATURE_COLUMNS)
        return {"mean": [0.0] * n, "std": [1.0] * n}
    values = lists[list(F.FEATURE_COLUMNS)].to_numpy(dtype=np.float64)
    mean = values.mean(axis=0)
    std = values.std(axis=0)
    std = np.where(std > 1e-9, std, 1.0)
    return {"mean": [float(v) for v in mean], "std": [float(v) for v in std]}


def standardize(frame: pd.DataFrame, scaling: dict[str, list[float]]) -> np.ndarray:
    """The features of ``frame`` standardized with ``scaling`` (:func:`feature_scaling`), float32."""
    values = frame[list(F.FEATURE_COLUMNS)].to_numpy(dtype=np.float64)
    return ((values - np.asarray(scaling["mean"])) / np.asarray(scaling["std"])).astype(np.float32)


def renumber_lists(lists: pd.DataFrame) -> pd.DataFrame:
    """Lists of any origin with ``list_id`` 0.. in (cutoff, account_id, alert_id, cold, list_id)
    order, the order :func:`~alertrec.stages.features.training_lists` numbers them in."""
    if lists.empty:
        return lists
    heads = lists.drop_duplicates(F.LIST_ID)[[F.LIST_ID, F.CUTOFF, S.ACCOUNT_ID, S.ALERT_ID, F.COLD]]
    heads = heads.sort_values([F.CUTOFF, S.ACCOUNT_ID, S.ALERT_ID, F.COLD, F.LIST_ID], kind="mergesort")
    number = pd.Series(np.arange(len(heads), dtype=np.int64), index=heads[F.LIST_ID].to_numpy())
    out = lists.assign(**{F.LIST_ID: number.loc[lists[F.LIST_ID].to_numpy()].to_numpy()})
    return out.sort_values([F.LIST_ID], kind="mergesort").reset_index(drop=True)
