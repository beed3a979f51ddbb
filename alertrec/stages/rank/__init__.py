"""Rankers: one small interface, and the popularity yardstick.

Every ranker learns from the frames of ``docs/frames.md`` and writes the
contract's ``recommendations`` (``shared/contract.md``, Output):

* :class:`Ranker` -- the interface. ``fit(sessions, items, fired, config)``
  returns ``self`` and keeps what it learned in attributes ending in ``_``
  (the constructor only stores parameters, scikit-learn style);
  ``recommend(fired)`` returns exactly :data:`alertrec.schema.RECOMMENDATION_COLUMNS`
  with the dtypes of :data:`alertrec.schema.RECOMMENDATIONS_ARROW`.
  ``tests/ranker_contract.py`` is the test mixin every implementation passes.
* :class:`PopularityRanker` -- ``popularity-v1``, the yardstick that later
  rankers are compared against. ``docs/adr/0003-popularity-yardstick.md``
  says why it scores the way it does.
* :func:`candidate_reasons` -- the reason text of the learned ranker's scored candidate
  rows (``alertrec/mxnet_ranker.py`` is the only module that imports mxnet; this pure part of it
  lives here).

The package: ``base.py`` (the interface and the contract's recommendations frame),
``popularity.py`` (the yardstick), ``learned.py`` (the learned ranker's reasons); the words of
both rankers' rows are :mod:`alertrec.stages.reasons`.
"""

from __future__ import annotations

from alertrec.stages.rank.base import Ranker, empty_recommendations, finish_recommendations
from alertrec.stages.rank.learned import candidate_reasons
from alertrec.stages.rank.popularity import TIER_ACCOUNT, TIER_BORROWED, TIER_OWN, PopularityRanker

__all__ = [
    "Ranker",
    "PopularityRanker",
    "empty_recommendations",
    "finish_recommendations",
    "candidate_reasons",
    "TIER_OWN",
    "TIER_BORROWED",
    "TIER_ACCOUNT",
]
