"""The training lists of the next-step scorer: one per (history session, step).

:class:`TrainingLists` holds the padded candidate lists (features, prior, mask, gains)
that ``alertrec.mxnet_ranker.train_next_step_scorer`` fits; :func:`training_lists`
builds them with :func:`~alertrec.serving.nextstep.prefix.prefix_features`, the
function that serves, so training and serving see the same features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alertrec.serving.nextstep.prefix import FEATURES, MAX_CANDIDATES, prefix_features
from alertrec.serving.nextstep.sequences import Sequences
from alertrec.serving.nextstep.stats import HistoryStats

__all__ = ["TrainingLists", "training_lists"]


@dataclass
class TrainingLists:
    """Padded training lists: ``x (lists, width, features)``, ``prior``, ``mask``, ``gain``."""

    x: np.ndarray
    prior: np.ndarray
    mask: np.ndarray
    gain: np.ndarray

    @property
    def n_lists(self) -> int:
        """Number of lists."""
        return len(self.x)


def training_lists(
    stats: HistoryStats,
    seqs: Sequences,
    is_query: np.ndarray,
    cause_gain: float = 1.0,
    max_candidates: int = MAX_CANDIDATES,
) -> TrainingLists:
    """One list per (training session, step >= 1): the prefix's candidates and their gains.

    The next item used gets gain 1; in a resolved session the last item (the root cause)
    gets ``cause_gain`` more while it is not yet used. Lists without a gain in their
    candidates are dropped. Gains are normalized to sum 1 per list.
    """
    xs, priors, gains = [], [], []
    for i, codes in enumerate(seqs.codes):
        if len(codes) < 2:
            continue
        cause = int(codes[-1]) if seqs.resolved[i] else -1
        for t in range(1, len(codes)):
            f = prefix_features(
                stats, seqs.alert_id[i], codes[:t], float(seqs.offsets[i][t - 1]), is_query, max_candidates
            )
            g = (f.codes == codes[t]).astype(np.float64)
            if cause >= 0:
                g = g + cause_gain * (f.codes == cause)
            if g.sum() <= 0:
                continue
            xs.append(f.x)
            priors.append(f.prior)
            gains.append(g / g.sum())
    n_feat = len(FEATURES)
    if not xs:
        z = np.zeros((0, max_candidates), np.float32)
        return TrainingLists(np.zeros((0, max_candidates, n_feat), np.float32), z, z, z)
    width = max(len(p) for p in priors)
    n_lists = len(xs)
    x = np.zeros((n_lists, width, n_feat), np.float32)
    prior = np.zeros((n_lists, width), np.float32)
    mask = np.zeros((n_lists, width), np.float32)
    gain = np.zeros((n_lists, width), np.float32)
    for r, (a, p, g) in enumerate(zip(xs, priors, gains)):
        x[r, : len(p)] = a
        prior[r, : len(p)] = p
        mask[r, : len(p)] = 1.0
        gain[r, : len(p)] = g
    return TrainingLists(x, prior, mask, gain)
