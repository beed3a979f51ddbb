"""Deterministic synthetic worlds: the alert table and UI event log of an observability platform.

A *world* is what the nightly job reads (``ROOT/alerts/`` and ``ROOT/actions/``,
see the data contract) plus the structure that was planted in it, so that an
evaluation can tell a good ranker from a bad one:

* accounts, each with alert definitions (``'High 5xx rate on api'``, ...);
  every definition has 1-3 failure modes (root causes), and every mode has a
  short ordered list of *effective* investigation steps (dashboards and
  queries) that reveal the cause, the last one being the step before the
  user resolves;
* experienced users go mostly straight to the effective steps and resolve;
  novices first wander through popular-but-irrelevant dashboards and queries
  of the account and resolve less often;
* the mode mix drifts over the window (``drift=True``);
* near-duplicate *new* definitions (``'High 5xx rate on api-v2'``) fire only in
  the last days and are never investigated (cold start, borrowing);
* some firings are opened by nobody;
* queries are templates whose literals (hosts, pods, hex ids, uuids, trace
  ids, numbers, IPs, timestamps) vary per use, sometimes in another term
  order;
* dirt at rate ``dirt``: duplicates (also across ``dt`` partitions and with
  differing payloads), malformed or truncated JSON, payloads missing fields,
  unknown actions, orphan ``alert_opened``, null ``user_id``, null required
  fields, rows written out of ``ts`` order.

The same :class:`WorldSpec` and seed always give the same frames and, through
:func:`write_world`, byte-identical Parquet files. All randomness flows from one
``numpy.random.default_rng(seed)``; the hot paths are vectorised with numpy so
that a million action rows take seconds.

The modules, in the order the generator runs them:

``spec``
    :class:`WorldSpec` (what to generate), :class:`World` (what comes out) and
    the columns of the truth, users and planned-sessions frames.
``kinds``
    the static recipes: alert kinds, failure modes, effective steps, popular items.
``catalog``
    accounts, users, dashboards, query templates and definitions drawn from the recipes.
``simulate``
    firings, who opens them and the sessions' events (``records`` holds the arrays they pass on).
``dirt``
    every kind of bad row of the contract.
``frames``
    the alerts, actions, truth and planned-sessions frames.
``world``
    :func:`generate_world`, the steps above in order.
``write``
    :func:`write_world`, the contract's Parquet layout.
``cli``
    ``python -m alertrec.generate world --out DIR --actions N --seed S --end-date D``.

The bundled fixtures (``data/fixtures``: a small generated world plus
hand-planted rows with their expected outcomes) are written by
``tests/planted_fixtures.py``, next to the tests that check those expectations.
"""

from __future__ import annotations

import logging

from alertrec.generate.cli import main
from alertrec.generate.dirt import UNKNOWN_ACTIONS
from alertrec.generate.simulate import SOURCES
from alertrec.generate.spec import (
    CAUSE,
    COLD_START,
    FOUND,
    MODE,
    MODE_WEIGHT,
    NOVICE,
    PERIOD,
    PERIOD_END,
    PERIOD_START,
    PLANNED_SESSION_COLUMNS,
    QUERY_EXAMPLE,
    SIMILAR_TO,
    STEP,
    TRUTH_COLUMNS,
    USER_COLUMNS,
    World,
    WorldSpec,
)
from alertrec.generate.world import generate_world
from alertrec.generate.write import PARQUET_COMPRESSION, write_world

log = logging.getLogger(__name__)

__all__ = [
    "CAUSE",
    "COLD_START",
    "FOUND",
    "MODE",
    "MODE_WEIGHT",
    "NOVICE",
    "PARQUET_COMPRESSION",
    "PERIOD",
    "PERIOD_END",
    "PERIOD_START",
    "PLANNED_SESSION_COLUMNS",
    "QUERY_EXAMPLE",
    "SIMILAR_TO",
    "SOURCES",
    "STEP",
    "TRUTH_COLUMNS",
    "UNKNOWN_ACTIONS",
    "USER_COLUMNS",
    "World",
    "WorldSpec",
    "generate_world",
    "main",
    "write_world",
]
