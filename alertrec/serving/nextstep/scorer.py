"""The scorer: the numpy forward of the next-step MLP exported from the nightly training.

:class:`Scorer` computes ``prior_scale * prior + MLP(standardized x)`` over the feature
rows of :mod:`alertrec.serving.nextstep.prefix`, saved as ``nextstep.npz`` of the
serving folder (weights, scaling and the feature names, checked on load).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from alertrec.serving.nextstep.prefix import FEATURES

__all__ = ["Scorer"]


@dataclass
class Scorer:
    """``prior_scale * prior + MLP(standardized x)`` in numpy.

    ``layers``: ``[(W, b), ...]`` with ``W`` of shape ``(out, in)`` (Gluon's layout);
    ReLU between them, none after the last. No layers: the prior alone.
    """

    mean: np.ndarray
    std: np.ndarray
    layers: list[tuple[np.ndarray, np.ndarray]]
    prior_scale: float = 1.0

    def score(self, x: np.ndarray, prior: np.ndarray) -> np.ndarray:
        """Scores (float64) of the candidate rows ``x`` with their ``prior``."""
        if not self.layers:
            return prior.astype(np.float64)
        h = ((x - self.mean) / self.std).astype(np.float32)
        for i, (w, b) in enumerate(self.layers):
            h = h @ w.T + b
            if i < len(self.layers) - 1:
                np.maximum(h, 0.0, out=h)
        return h[:, 0].astype(np.float64) + self.prior_scale * prior

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The arrays of ``nextstep.npz``."""
        out = {
            "mean": self.mean.astype(np.float64),
            "std": self.std.astype(np.float64),
            "prior_scale": np.array([self.prior_scale]),
            "n_layers": np.array([len(self.layers)]),
            "features": np.array(FEATURES),
        }
        for i, (w, b) in enumerate(self.layers):
            out[f"w{i}"] = w.astype(np.float32)
            out[f"b{i}"] = b.astype(np.float32)
        return out

    @classmethod
    def from_arrays(cls, arrays: Any) -> Scorer:
        """Inverse of :meth:`to_arrays`; checks the feature names."""
        names = tuple(str(v) for v in arrays["features"])
        if names != FEATURES:
            raise ValueError("the next-step model was trained on other features than this code computes")
        n = int(arrays["n_layers"][0])
        return cls(
            mean=arrays["mean"].astype(np.float32),
            std=arrays["std"].astype(np.float32),
            layers=[(arrays[f"w{i}"].astype(np.float32), arrays[f"b{i}"].astype(np.float32)) for i in range(n)],
            prior_scale=float(arrays["prior_scale"][0]),
        )
