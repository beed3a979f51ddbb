"""What to generate (:class:`WorldSpec`) and what comes out (:class:`World`), with the truth frames' columns.

Shared column names come from :mod:`alertrec.schema`; the columns here belong to
the frames that only the generator produces (truth, users, planned sessions).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alertrec import schema
from alertrec.errors import ConfigError
from alertrec.generate.arrays import _ts
from alertrec.generate.kinds import _MAX_DEFINITIONS

log = logging.getLogger(__name__)

COLD_START = "cold_start"  # bool: a new near-duplicate definition, never investigated
SIMILAR_TO = "similar_to"  # alert_id of the definition a cold-start one was copied from
MODE = "mode"  # int: failure mode (root cause) of the definition, 0-based
CAUSE = "cause"  # str: the root cause in words
PERIOD = "period"  # int: drift period, 0-based
PERIOD_START = "period_start"  # start of the period (inclusive)
PERIOD_END = "period_end"  # end of the period (exclusive)
MODE_WEIGHT = "mode_weight"  # float: share of the definition's firings with this mode in the period
STEP = "step"  # int: 0-based position among the mode's effective steps
QUERY_EXAMPLE = "query_example"  # one runnable instance of a query template (canonical term order)
NOVICE = "novice"  # bool: the user wanders before finding the effective steps
FOUND = "found"  # bool: the planned session reaches effective steps

TRUTH_COLUMNS = (
    schema.ACCOUNT_ID,
    schema.ALERT_ID,
    schema.ALERT_TITLE,
    COLD_START,
    SIMILAR_TO,
    MODE,
    CAUSE,
    PERIOD,
    PERIOD_START,
    PERIOD_END,
    MODE_WEIGHT,
    STEP,
    schema.ITEM_TYPE,
    schema.ITEM_KEY,
    schema.ITEM_TITLE,
    schema.QUERY_LANGUAGE,
    QUERY_EXAMPLE,
)
USER_COLUMNS = (schema.ACCOUNT_ID, schema.USER_ID, NOVICE)
PLANNED_SESSION_COLUMNS = (
    schema.SESSION_ID,
    schema.ACCOUNT_ID,
    schema.USER_ID,
    NOVICE,
    schema.ALERT_EVENT_ID,
    schema.ALERT_ID,
    MODE,
    PERIOD,
    FOUND,
    schema.RESOLVED,
    schema.STARTED_AT,
    schema.N_EVENTS,
)


@dataclass(frozen=True)
class WorldSpec:
    """What to generate.

    Parameters
    ----------
    end_date : datetime.date
        The day ``D``: events are generated in ``[D - days, D)``, plus firings in
        the ``lookback_days`` before the window, ``tail_hours`` of ``D`` itself,
        late arrivals and dirt around the edges.
    days : int
        Length of the window in days.
    accounts : int
        Number of customer accounts.
    definitions_per_account : int
        Regular alert definitions per account (cold-start ones come on top).
    users_per_account : int
        Users per account; ``novice_share`` of them are novices.
    target_actions : int
        Approximate number of action rows (dirt included); the scale knob.
    novice_share : float
        Share of the users that are novices.
    drift : bool
        Whether the mix of failure modes changes over the window.
    dirt : float
        Share of dirty action rows (relative to the clean rows).
    late_share : float
        Share of action rows received 1 or 2 days after their ``ts`` day.
    unopened_share : float
        Share of regular firings that nobody opens.
    cold_start_per_account : int
        Near-duplicate new definitions per account that fire only in the last
        ``cold_start_days`` and are never investigated.
    cold_start_days : int
        How many days before ``D`` the cold-start definitions start firing.
    background_share : float
        Share of clean rows that are dashboards/queries used outside any alert.
    lookback_days : int
        Firings are generated from this many days before the window start.
    tail_hours : float
        Firings and events continue this many hours into ``D`` (to be ignored).
    drift_periods : int
        Number of equal periods of the window with their own mode mix (drift only).
    """

    end_date: dt.date
    days: int = 28
    accounts: int = 3
    definitions_per_account: int = 8
    users_per_account: int = 8
    target_actions: int = 20_000
    novice_share: float = 0.35
    drift: bool = True
    dirt: float = 0.02
    late_share: float = 0.03
    unopened_share: float = 0.15
    cold_start_per_account: int = 1
    cold_start_days: int = 3
    background_share: float = 0.04
    lookback_days: int = 1
    tail_hours: float = 6.0
    drift_periods: int = 2

    def __post_init__(self) -> None:
        if isinstance(self.end_date, str):
            object.__setattr__(self, "end_date", dt.date.fromisoformat(self.end_date))
        if not isinstance(self.end_date, dt.date) or isinstance(self.end_date, dt.datetime):
            raise ConfigError(f"end_date must be a datetime.date, got {self.end_date!r}")
        for name, low in (
            ("days", 1),
            ("accounts", 1),
            ("definitions_per_account", 1),
            ("users_per_account", 1),
            ("target_actions", 100),
            ("cold_start_per_account", 0),
            ("cold_start_days", 1),
            ("lookback_days", 0),
            ("drift_periods", 1),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"WorldSpec.{name} must be an integer >= {low}, got {value!r}")
        if self.definitions_per_account > _MAX_DEFINITIONS:
            raise ConfigError(
                f"WorldSpec.definitions_per_account must be <= {_MAX_DEFINITIONS}, got {self.definitions_per_account}"
            )
        if self.cold_start_per_account > self.definitions_per_account:
            raise ConfigError("WorldSpec.cold_start_per_account cannot exceed definitions_per_account")
        for name in ("novice_share", "dirt", "late_share", "unopened_share", "background_share"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ConfigError(f"WorldSpec.{name} must be within 0..1, got {value!r}")
        if self.unopened_share >= 1.0:
            raise ConfigError("WorldSpec.unopened_share must be < 1: some firings must be opened")
        if not 0.0 <= self.tail_hours < 24.0:
            raise ConfigError(f"WorldSpec.tail_hours must be within [0, 24), got {self.tail_hours!r}")

    @classmethod
    def for_actions(cls, n: int, end_date: dt.date, **overrides: object) -> WorldSpec:
        """A spec with accounts, definitions and users sized for about ``n`` action rows.

        Accounts grow with the square root of ``n`` (bigger worlds have both
        more and busier accounts); definitions and users grow with the rows
        per account.

        Parameters
        ----------
        n : int
            Target number of action rows (``target_actions``).
        end_date : datetime.date
            The day ``D``.
        **overrides
            Any other :class:`WorldSpec` field.

        Returns
        -------
        WorldSpec
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 100:
            raise ConfigError(f"the number of actions must be an integer >= 100, got {n!r}")
        accounts = int(np.clip(round(math.sqrt(n) / 25.0), 2, 400))
        per_account = n / accounts
        values: dict[str, Any] = {
            "accounts": accounts,
            "definitions_per_account": int(np.clip(round(4 + per_account / 4000.0), 6, 16)),
            "users_per_account": int(np.clip(round(per_account / 1500.0), 4, 60)),
            "target_actions": n,
        }
        values.update(overrides)
        return cls(end_date=end_date, **values)

    # ------------------------------------------------------------------
    @property
    def window_start(self) -> pd.Timestamp:
        """Inclusive start of the window, ``D - days`` 00:00 UTC."""
        return _ts(self.end_date - dt.timedelta(days=self.days))

    @property
    def window_end(self) -> pd.Timestamp:
        """Exclusive end of the window, ``D`` 00:00 UTC."""
        return _ts(self.end_date)

    @property
    def n_periods(self) -> int:
        """Number of drift periods (1 without drift)."""
        return self.drift_periods if self.drift else 1


@dataclass(frozen=True, eq=False)
class World:
    """A generated world: the two input datasets and the planted structure.

    Attributes
    ----------
    spec : WorldSpec
    seed : int
    alerts : pandas.DataFrame
        ``schema.ALERT_COLUMNS`` + ``dt`` (str), in file order.
    actions : pandas.DataFrame
        ``schema.ACTION_COLUMNS`` + ``dt`` (str), in file order (rows of one
        ``dt`` are written in this order; some are deliberately out of ``ts``
        order).
    truth : pandas.DataFrame
        ``TRUTH_COLUMNS``: one row per (account_id, alert_id, mode, period,
        step): the effective items of each failure mode in order. Dashboards
        have ``item_key`` = dashboard id; queries have ``item_key`` = the
        template (literals shown as ``<host>``, ``<pod>``, ...) and a runnable
        ``query_example``. Cold-start definitions carry their parent's modes.
    users : pandas.DataFrame
        ``USER_COLUMNS``: who is a novice.
    planned_sessions : pandas.DataFrame
        ``PLANNED_SESSION_COLUMNS``: the generator's intent for every opened
        firing, before dirt (``session_id`` = event_id of the ``alert_opened``).
    """

    spec: WorldSpec
    seed: int
    alerts: pd.DataFrame
    actions: pd.DataFrame
    truth: pd.DataFrame
    users: pd.DataFrame
    planned_sessions: pd.DataFrame
