"""``alertrec evaluate``: a temporal holdout of the rankers on the input's own history.

Each evaluated day, every ranker learns from the days before it and ranks for the
sessions of that day; the report says how near the top it put what the engineer used
and the item that revealed the cause (:mod:`alertrec.evaluate.holdout` has the method
and its approximation).

The modules, in the order an evaluation uses them:

``settings``
    :class:`EvalSettings` (the job's :class:`~alertrec.config.Config` plus what only an
    evaluation has) and :func:`default_rankers`.
``random_ranker``
    :class:`RandomRanker`, the floor every learned ranker is compared with.
``holdout``
    :func:`evaluate` (read the span once with Spark, evaluate, write the report) and
    :func:`evaluate_frames` (the day-by-day loop, no I/O), with their building blocks
    (:func:`history_window`, ...).
``metrics``
    the metric functions over frames (``hit_rate_at_k``, ``mrr``, ``ndcg_at_k``,
    ``catalog_coverage``, ``mttr_estimate``).
``report``
    the report as a table, ``evaluation.json`` and ``evaluation.png``.
``cli``
    the ``alertrec evaluate`` arguments and the call :mod:`alertrec.cli` makes.
"""

from __future__ import annotations

import logging

from alertrec.evaluate.cli import add_arguments, evaluate_from_args, settings_from_args
from alertrec.evaluate.holdout import evaluate, evaluate_frames, history_window
from alertrec.evaluate.metrics import (
    ITEM,
    QUERY,
    catalog_coverage,
    hit_rate_at_k,
    mrr,
    mttr_estimate,
    ndcg_at_k,
    relevant_ranks,
)
from alertrec.evaluate.random_ranker import RandomRanker
from alertrec.evaluate.report import TABLE_COLUMNS, format_table, render_chart, write_report
from alertrec.evaluate.settings import EvalSettings, RankerSpec, default_rankers

log = logging.getLogger(__name__)

__all__ = [
    "hit_rate_at_k",
    "ndcg_at_k",
    "mrr",
    "catalog_coverage",
    "mttr_estimate",
    "relevant_ranks",
    "RandomRanker",
    "EvalSettings",
    "default_rankers",
    "evaluate",
    "evaluate_frames",
    "format_table",
    "render_chart",
    "write_report",
    "add_arguments",
    "settings_from_args",
    "evaluate_from_args",
    "history_window",
    "ITEM",
    "QUERY",
    "TABLE_COLUMNS",
    "RankerSpec",
]
