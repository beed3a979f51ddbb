"""Rankers (the module moved here whole; split next)."""

from alertrec.stages.rank.popularity import (  # noqa: F401
    TIER_ACCOUNT,
    TIER_BORROWED,
    TIER_OWN,
    PopularityRanker,
    Ranker,
    empty_recommendations,
    finish_recommendations,
)
