"""The settings of the features stage (:class:`FeatureParams`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FeatureParams:
    """Settings of the features stage.

    Parameters
    ----------
    half_life_days : float
        Long recency half-life (the run's ``half_life_days``).
    short_half_life_days : float
        Short half-life: what is used in the last days (drift).
    history_days : int
        Normalizes the "days since" features; ages are clipped at it.
    n_popular : int
        The account's most used items that every target gets as candidates.
    borrow_sources : int
        Similar definitions borrowed from, at most.
    similar_title_threshold : float
        Minimum rapidfuzz ``token_set_ratio`` (0-100) of two titles to borrow.
    max_candidates : int
        Candidates kept per target (by :data:`PRIOR`).
    n_title : int
        Items whose label is most similar to the alert title, added as candidates.
    title_item_threshold : float
        Minimum rapidfuzz ``token_set_ratio`` (0-100) of title and label for them.
    """

    half_life_days: float = 7.0
    short_half_life_days: float = 2.0
    history_days: int = 28
    n_popular: int = 20
    borrow_sources: int = 3
    similar_title_threshold: float = 60.0
    max_candidates: int = 64
    n_title: int = 10
    title_item_threshold: float = 50.0

    @classmethod
    def from_config(cls, config: Any, **overrides: Any) -> FeatureParams:
        """The run's settings (``half_life_days``, ``history_days``, ``borrow_sources``,
        ``similar_title_threshold``) plus ``overrides``; ``n_popular`` is at least ``top_k``."""
        values: dict[str, Any] = dict(
            half_life_days=float(config.half_life_days),
            history_days=int(config.history_days),
            borrow_sources=max(int(config.borrow_sources), 1),
            similar_title_threshold=float(config.similar_title_threshold),
        )
        values["n_popular"] = max(cls.n_popular, int(config.top_k))
        values.update(overrides)
        return cls(**values)
