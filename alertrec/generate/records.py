"""The parallel arrays the simulation steps hand each other: firings with their plan, and action rows."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from alertrec import schema

log = logging.getLogger(__name__)


@dataclass
class _Firings:
    """Firings in time order and the plan of the session opened on each (if any)."""

    definition: np.ndarray  # int64
    fired_us: np.ndarray  # int64
    alert_event_ids: np.ndarray  # object
    period: np.ndarray  # int64
    mode: np.ndarray  # int64, local to the definition
    opened: np.ndarray  # bool
    user: np.ndarray  # int64, global user index
    novice: np.ndarray  # bool
    n_wander: np.ndarray  # int64
    found: np.ndarray  # bool
    start: np.ndarray  # int64: first effective step used
    skip: np.ndarray  # int64: skipped effective step, -1 for none
    n_eff: np.ndarray  # int64
    resolved: np.ndarray  # bool
    n_events: np.ndarray  # int64 (0 when not opened)
    open_us: np.ndarray  # int64: ts of the alert_opened
    source: np.ndarray  # int64 into SOURCES
    session_event: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    session_ids: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))


@dataclass
class _Events:
    """Action rows as parallel arrays (clean first, then dirt)."""

    event_id: np.ndarray  # object (None for null)
    account: np.ndarray  # int64 (account index; mapped to ids at the end)
    user: np.ndarray  # object (None for null)
    ts_us: np.ndarray  # int64
    ts_null: np.ndarray  # bool
    action: np.ndarray  # object (None for null)
    payload: np.ndarray  # object
    late_days: np.ndarray  # int64: days between the ts day and dt
    order_us: np.ndarray  # int64: position in the file
    kind: np.ndarray  # int8: 0 open, 1 dashboard, 2 query, 3 resolve, 4 other

    def append(self, **columns: np.ndarray) -> None:
        for name, values in columns.items():
            setattr(self, name, np.concatenate([getattr(self, name), values]))


_K_OPEN, _K_DASH, _K_QUERY, _K_RESOLVE, _K_OTHER = 0, 1, 2, 3, 4
_KIND_ACTIONS = np.array(
    [schema.ALERT_OPENED, schema.DASHBOARD_OPENED, schema.QUERY_RUN, schema.ALERT_RESOLVED],
    dtype=object,
)
