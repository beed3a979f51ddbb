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

:func:`make_fixtures` writes ``data/fixtures/``: a small generated world plus
hand-planted rows with fixed, documented ids that exercise every session rule
and every kind of dirt of the contract (see the README it writes next to them).

Command line::

    python -m alertrec.generate world --out DIR --actions N --seed S --end-date D
    python -m alertrec.generate fixtures --out data/fixtures
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import itertools
import json
import logging
import math
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from alertrec import schema
from alertrec.config import parse_date
from alertrec.errors import ConfigError

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------
# Columns of the frames that only the generator produces (truth, users, plan).
# Shared names come from alertrec.schema.
# --------------------------------------------------------------------------
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
    schema.ACCOUNT_ID, schema.ALERT_ID, schema.ALERT_TITLE, COLD_START, SIMILAR_TO, MODE, CAUSE,
    PERIOD, PERIOD_START, PERIOD_END, MODE_WEIGHT, STEP, schema.ITEM_TYPE, schema.ITEM_KEY,
    schema.ITEM_TITLE, schema.QUERY_LANGUAGE, QUERY_EXAMPLE,
)
USER_COLUMNS = (schema.ACCOUNT_ID, schema.USER_ID, NOVICE)
PLANNED_SESSION_COLUMNS = (
    schema.SESSION_ID, schema.ACCOUNT_ID, schema.USER_ID, NOVICE, schema.ALERT_EVENT_ID,
    schema.ALERT_ID, MODE, PERIOD, FOUND, schema.RESOLVED, schema.STARTED_AT, schema.N_EVENTS,
)

PARQUET_COMPRESSION = "snappy"
UNKNOWN_ACTIONS = ("page_view", "settings_changed")
SOURCES = ("email", "slack", "pagerduty", "ui")

_US = 1_000_000
_DAY_US = 86_400 * _US
_EPOCH = dt.date(1970, 1, 1)
_HEX = "0123456789abcdef"
_ALNUM = "0123456789abcdefghijklmnopqrstuvwxyz"

# Share of the dirty rows that are *added* rows (duplicates, unknown actions,
# orphans); the rest mutate existing rows. Used to aim at target_actions.
_DIRT_SHARES = {
    "duplicate": 0.25,
    "malformed": 0.12,
    "missing_field": 0.10,
    "unknown_action": 0.15,
    "orphan": 0.06,
    "null_user": 0.08,
    "out_of_order": 0.20,
    "missing_required": 0.04,
}
_DIRT_ADDED = _DIRT_SHARES["duplicate"] + _DIRT_SHARES["unknown_action"] + _DIRT_SHARES["orphan"]

# Behaviour of the two kinds of users.
_EXPERT_WANDER_P = 0.15  # an experienced user opens one popular item first
_EXPERT_FOUND_P = 0.97
_EXPERT_SKIP_P = 0.15  # skips one non-final effective step
_EXPERT_RESOLVE_P = 0.90
_EXPERT_GAP_S = 40.0  # median gap between events
_NOVICE_WANDER_MEAN = 2.0  # 1 + Poisson(mean) popular/irrelevant items first
_NOVICE_FOUND_P = 0.55
_NOVICE_RESOLVE_P = 0.65
_NOVICE_GAP_S = 80.0
_GAP_SIGMA = 0.9
_LONG_PAUSE_P = 0.005  # a gap of 32-90 min: the session ends by idle timeout
_POPULAR_WANDER_P = 0.75  # a wandering step picks a popular item (else any item of the account)
_PERM_P = 0.25  # a query is written in another term order
_OPEN_DELAY_S = 180.0  # median delay between firing and alert_opened


# ==========================================================================
# Specification and result
# ==========================================================================
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
            ("days", 1), ("accounts", 1), ("definitions_per_account", 1),
            ("users_per_account", 1), ("target_actions", 100), ("cold_start_per_account", 0),
            ("cold_start_days", 1), ("lookback_days", 0), ("drift_periods", 1),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"WorldSpec.{name} must be an integer >= {low}, got {value!r}")
        if self.definitions_per_account > _MAX_DEFINITIONS:
            raise ConfigError(
                f"WorldSpec.definitions_per_account must be <= {_MAX_DEFINITIONS}, "
                f"got {self.definitions_per_account}"
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
    def for_actions(cls, n: int, end_date: dt.date, **overrides: object) -> "WorldSpec":
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
        values: dict[str, object] = {
            "accounts": accounts,
            "definitions_per_account": int(np.clip(round(4 + per_account / 4000.0), 6, 16)),
            "users_per_account": int(np.clip(round(per_account / 1500.0), 4, 60)),
            "target_actions": n,
        }
        values.update(overrides)
        return cls(end_date=end_date, **values)  # type: ignore[arg-type]

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


# ==========================================================================
# The catalog: alert kinds, failure modes and their effective steps
# ==========================================================================
@dataclass(frozen=True)
class _Dash:
    title: str  # may contain {svc}


@dataclass(frozen=True)
class _Query:
    language: str
    index: str
    terms: tuple[str, ...]  # may contain {svc} and literal markers <host>, <pod>, ...
    head: str = ""
    tail: str = ""

    @property
    def joiner(self) -> str:
        return " and " if self.language == "dql" else " AND "


@dataclass(frozen=True)
class _Mode:
    cause: str
    steps: tuple[_Dash | _Query, ...]


@dataclass(frozen=True)
class _Kind:
    title: str
    severities: tuple[str, ...]
    modes: tuple[_Mode, ...]


def _lucene(*terms: str, index: str = "logs-*") -> _Query:
    return _Query("lucene", index, terms)


def _dql(source: str, *terms: str) -> _Query:
    return _Query("dql", source, terms, head=f"fetch {source} | filter ",
                  tail=" | sort timestamp desc | limit 100")


def _sql(head: str, *terms: str, tail: str = "", index: str = "warehouse") -> _Query:
    return _Query("sql", index, terms, head=head, tail=tail)


_OVERVIEW = _Dash("Service overview: {svc}")
_DEPLOYS = _Dash("Deployments: {svc}")
_DEPS = _Dash("Dependencies: {svc}")
_WORKLOADS = _Dash("Kubernetes workloads: {svc}")
_LATENCY = _Dash("Latency breakdown: {svc}")

_KINDS: tuple[_Kind, ...] = (
    _Kind("High 5xx rate on {svc}", ("HIGH", "SEVERE"), (
        _Mode("bad deploy", (
            _OVERVIEW, _DEPLOYS, _lucene("service:{svc}", "level:error", "version:<hex>"))),
        _Mode("database connection pool exhausted", (
            _OVERVIEW,
            _sql("SELECT count(*) FROM logs WHERE ", "service = '{svc}'",
                 "message LIKE '%connection pool exhausted%'", "host = '<host>'"),
            _Dash("PostgreSQL: connections"))),
        _Mode("upstream dependency timing out", (
            _OVERVIEW,
            _dql("spans", 'service.name == "{svc}"', "duration > <ms>ms", 'status == "ERROR"'),
            _DEPS)),
    )),
    _Kind("p99 latency above SLO on {svc}", ("MEDIUM", "HIGH"), (
        _Mode("slow database queries", (
            _LATENCY,
            _sql("SELECT statement, avg(duration_ms) FROM db_statements WHERE ", "service = '{svc}'",
                 "duration_ms > <ms>", tail=" GROUP BY statement ORDER BY 2 DESC LIMIT 20"),
            _Dash("PostgreSQL: slow queries"))),
        _Mode("GC pauses", (
            _LATENCY, _Dash("JVM: {svc}"),
            _lucene("service:{svc}", 'message:"GC pause"', "kubernetes.pod.name:<pod>"))),
        _Mode("noisy neighbour on the node", (
            _LATENCY, _lucene("kubernetes.node.name:<host>", "level:warn", index="k8s-events-*"),
            _Dash("Kubernetes nodes"))),
    )),
    _Kind("Kafka consumer lag on {svc}", ("MEDIUM", "HIGH"), (
        _Mode("stuck partition", (
            _Dash("Kafka: consumer groups"),
            _dql("logs", 'service == "{svc}"', "partition == <partition>", 'loglevel == "ERROR"'))),
        _Mode("poison message", (
            _Dash("Kafka: consumer groups"),
            _lucene("service:{svc}", 'message:"deserialization failed"', "kafka.offset:<offset>"),
            _sql("SELECT * FROM dead_letters WHERE ", "topic = '{svc}-events'", "message_id = '<uuid>'"))),
        _Mode("broker under-replicated", (
            _Dash("Kafka: brokers"),
            _lucene("service:kafka", 'message:"under replicated"', "host:<host>"))),
    )),
    _Kind("Pod restarts in {svc}", ("MEDIUM", "HIGH"), (
        _Mode("OOMKilled", (
            _WORKLOADS,
            _lucene("kubernetes.pod.name:<pod>", 'reason:"OOMKilled"', index="k8s-events-*"),
            _Dash("Memory: {svc}"))),
        _Mode("failing liveness probe", (
            _WORKLOADS, _dql("events", 'k8s.pod.name == "<pod>"', 'reason == "Unhealthy"'))),
        _Mode("crash on bad config", (
            _WORKLOADS, _lucene("service:{svc}", "level:fatal", "kubernetes.pod.name:<pod>"),
            _Dash("Config changes"))),
    )),
    _Kind("Disk usage above 90% on {svc}-db", ("HIGH", "SEVERE"), (
        _Mode("WAL growth", (
            _Dash("PostgreSQL: storage"),
            _sql("SELECT ts, value FROM metrics WHERE ", "host = '<host>'",
                 "metric = 'pg_wal_size_bytes'", "ts > '<ts>'", tail=" ORDER BY ts"))),
        _Mode("log rotation broken", (
            _Dash("Host: filesystem"),
            _lucene("host:<host>", 'log.file.path:"/var/log/postgresql"', "level:error"))),
    )),
    _Kind("Error log spike in {svc}", ("LOW", "MEDIUM"), (
        _Mode("null pointer after a release", (
            _Dash("Logs: {svc}"),
            _lucene("service:{svc}", "level:error", 'error.type:"NullPointerException"'),
            _DEPLOYS)),
        _Mode("third-party API errors", (
            _Dash("Logs: {svc}"),
            _dql("logs", 'service == "{svc}"', 'net.peer.ip == "<ip>"', "http.status_code >= <status>"),
            _DEPS)),
        _Mode("expired auth tokens", (
            _lucene("service:{svc}", 'message:"token expired"', "user.id:<uuid>"),
            _Dash("Auth: tokens"))),
    )),
    _Kind("CPU throttling on {svc}", ("LOW", "MEDIUM"), (
        _Mode("CPU limits too low", (
            _WORKLOADS, _Dash("CPU: {svc}"),
            _sql("SELECT pod, max(throttled_ratio) FROM container_metrics WHERE ", "service = '{svc}'",
                 "ts > '<ts>'", tail=" GROUP BY pod ORDER BY 2 DESC"))),
        _Mode("hot loop in a new version", (
            _Dash("CPU: {svc}"), _lucene("service:{svc}", "version:<hex>", "level:warn"),
            _Dash("Profiling: {svc}"))),
    )),
    _Kind("Queue depth growing on {svc}", ("MEDIUM",), (
        _Mode("worker pool too small", (
            _Dash("Queues: {svc}"),
            _dql("logs", 'service == "{svc}"', 'queue == "{svc}-jobs"', 'worker.id == "<hex>"'))),
        _Mode("downstream rate limiting", (
            _Dash("Queues: {svc}"),
            _lucene("service:{svc}", "http.status_code:<status>", "client.ip:<ip>"), _DEPS)),
    )),
    _Kind("Failed logins spike on {svc}", ("HIGH",), (
        _Mode("credential stuffing", (
            _Dash("Security: logins"),
            _lucene("service:{svc}", "event.outcome:failure", "source.ip:<ip>"),
            _sql("SELECT source_ip, count(*) FROM auth_events WHERE ", "outcome = 'failure'",
                 "ts > '<ts>'", tail=" GROUP BY source_ip ORDER BY 2 DESC LIMIT 50"))),
        _Mode("identity provider outage", (
            _DEPS, _lucene("service:{svc}", 'message:"idp unavailable"', "trace.id:<trace>"))),
    )),
    _Kind("Synthetic check failing for {svc}", ("HIGH", "SEVERE"), (
        _Mode("expired TLS certificate", (
            _Dash("Synthetics: {svc}"),
            _lucene('check.name:"{svc} homepage"', 'error.message:"certificate has expired"',
                    index="synthetics-*"))),
        _Mode("DNS misconfiguration", (
            _Dash("Synthetics: {svc}"), _dql("synthetics", 'check == "{svc}"', 'resolver.ip == "<ip>"'),
            _Dash("Network: DNS"))),
    )),
)

# Popular items every account has; novices wander through them (Zipf weights).
_POPULAR: tuple[_Dash | _Query, ...] = (
    _Dash("Infrastructure overview"),
    _Dash("All services: golden signals"),
    _lucene("level:error"),
    _Dash("Kubernetes cluster"),
    _lucene("level:error", "env:prod"),
    _Dash("On-call home"),
    _sql("SELECT service, count(*) FROM logs WHERE ", "level = 'error'", "ts > '<ts>'",
         tail=" GROUP BY service ORDER BY 2 DESC"),
    _Dash("Error budget burn"),
    _dql("logs", 'loglevel == "ERROR"', 'host == "<host>"'),
)
_POPULAR_WEIGHTS = 1.0 / np.arange(1, len(_POPULAR) + 1)

_SERVICES = (
    "api", "checkout", "orders", "payments", "auth", "search", "cart", "inventory",
    "gateway", "billing", "notifications", "shipping", "catalog", "users", "ledger",
)
_MAX_DEFINITIONS = len(_KINDS) * len(_SERVICES)
_MAX_STEPS = max(len(m.steps) for k in _KINDS for m in k.modes)
_MODES_PER_DEF_P = (0.25, 0.45, 0.30)  # P(1, 2, 3 modes)
_PANEL_TYPES = ("timeseries", "table", "stat", "logs", "heatmap", "gauge", "bar")
_TIME_RANGES = (("now-15m", "now"), ("now-1h", "now"), ("now-6h", "now"), ("now-24h", "now"))
_COLD_TITLE_FORMS = ("{svc}-v2", "{svc}-canary", "new-{svc}")
_LITERAL_RE = re.compile(r"<(\w+)>")
_NUMBER_RANGES = {
    "status": (500, 504),
    "ms": (250, 5000),
    "partition": (0, 63),
    "offset": (1000, 9_999_999),
}


@dataclass
class _Template:
    """A query template instantiated for one service, shared by every account."""

    language: str
    index: str
    svc: str
    head: str
    tail: str
    joiner: str
    terms: tuple[str, ...]
    key: str  # canonical template text: head + joiner.join(terms) + tail
    perms: tuple[tuple[int, ...], ...]
    payload_tail: str  # '", "language": ..., "filters": [...], "index": ...}'

    def parts(self, perm: int) -> list[tuple[bool, str]]:
        """Constant (JSON-escaped) and literal parts of the text in term order ``perm``."""
        order = self.perms[perm]
        text_parts: list[tuple[bool, str]] = [(False, self.head)]
        for i, term_index in enumerate(order):
            if i:
                text_parts.append((False, self.joiner))
            pos = 0
            term = self.terms[term_index]
            for match in _LITERAL_RE.finditer(term):
                text_parts.append((False, term[pos:match.start()]))
                text_parts.append((True, match.group(1)))
                pos = match.end()
            text_parts.append((False, term[pos:]))
        text_parts.append((False, self.tail))
        merged: list[tuple[bool, str]] = []
        for is_literal, value in text_parts:
            if not is_literal:
                value = _json_escape(value)
                if not value:
                    continue
                if merged and not merged[-1][0]:
                    merged[-1] = (False, merged[-1][1] + value)
                    continue
            merged.append((is_literal, value))
        return merged


@dataclass
class _Catalog:
    """Accounts, users, items, definitions and modes, as flat arrays."""

    account_ids: np.ndarray  # int64 [A]
    user_ids: np.ndarray  # object [A*U]
    user_novice: np.ndarray  # bool [A*U]
    users_per_account: int
    # items (global index): per account, dashboards and queries
    item_account: np.ndarray  # int64 [I]
    item_is_query: np.ndarray  # bool [I]
    item_ref: np.ndarray  # int64 [I]: dashboard index or template index
    item_offset: np.ndarray  # int64 [A+1]: items of account a are item_offset[a]:item_offset[a+1]
    popular: np.ndarray  # int64 [A, P]: global item index of the popular items
    dash_ids: np.ndarray  # object [Dsh]
    dash_titles: np.ndarray  # object [Dsh]
    dash_payloads: np.ndarray  # object [Dsh, len(_TIME_RANGES)]
    templates: list[_Template]
    # definitions (regular first, then cold-start ones)
    def_account: np.ndarray  # int64 [Df]
    def_ids: np.ndarray  # object
    def_titles: np.ndarray  # object
    def_severity: np.ndarray  # object
    def_cold: np.ndarray  # bool
    def_parent: np.ndarray  # int64, -1 for regular definitions
    def_rate: np.ndarray  # float: relative firing rate
    def_nmodes: np.ndarray  # int64
    def_causes: list[list[str]]
    mode_steps: np.ndarray  # int64 [Df, 3, _MAX_STEPS], -1 padded
    mode_len: np.ndarray  # int64 [Df, 3]
    mode_weights: np.ndarray  # float [Df, n_periods, 3]


# ==========================================================================
# Generation
# ==========================================================================
def generate_world(spec: WorldSpec, seed: int) -> World:
    """Generate a world: alerts, actions and the planted structure.

    Parameters
    ----------
    spec : WorldSpec
        What to generate.
    seed : int
        Seed of ``numpy.random.default_rng``; the same spec and seed give the
        same frames (and byte-identical files through :func:`write_world`).

    Returns
    -------
    World
    """
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    catalog = _build_catalog(spec, rng)
    firings = _simulate_firings(spec, catalog, rng)
    events = _build_events(spec, catalog, firings, rng)
    _add_dirt(spec, catalog, firings, events, rng)
    alerts = _alerts_frame(spec, catalog, firings, rng)
    actions = _actions_frame(catalog, events)
    truth = _truth_frame(spec, catalog, rng)
    users = pd.DataFrame({
        schema.ACCOUNT_ID: np.repeat(catalog.account_ids, catalog.users_per_account),
        schema.USER_ID: catalog.user_ids,
        NOVICE: catalog.user_novice,
    })
    planned = _planned_sessions_frame(catalog, firings)
    log.info(
        "generated %d action rows, %d alert rows, %d planned sessions for %d accounts in %.2f s",
        len(actions), len(alerts), len(planned), spec.accounts, time.perf_counter() - started,
    )
    return World(spec=spec, seed=seed, alerts=alerts, actions=actions, truth=truth, users=users,
                 planned_sessions=planned)


# --------------------------------------------------------------------------
def _build_catalog(spec: WorldSpec, rng: np.random.Generator) -> _Catalog:
    n_acc, n_users = spec.accounts, spec.users_per_account
    account_ids = np.sort(rng.choice(800_000, size=n_acc, replace=False).astype(np.int64) + 100_000)
    account_ids = account_ids[rng.permutation(n_acc)]
    user_ids = "usr-" + _unique_random_strings(rng, n_acc * n_users, 10, _HEX)
    n_novice = round(n_users * spec.novice_share)
    if n_users >= 2 and 0.0 < spec.novice_share < 1.0:
        n_novice = min(max(n_novice, 1), n_users - 1)
    novice = np.zeros((n_acc, n_users), dtype=bool)
    for a in range(n_acc):
        novice[a, rng.choice(n_users, size=n_novice, replace=False)] = True

    dash_titles: list[str] = []
    dash_panels: list[str] = []
    templates: list[_Template] = []
    template_index: dict[str, int] = {}
    item_account: list[int] = []
    item_is_query: list[bool] = []
    item_ref: list[int] = []
    item_offset = [0]
    popular = np.zeros((n_acc, len(_POPULAR)), dtype=np.int64)

    n_regular = spec.definitions_per_account
    n_cold = spec.cold_start_per_account
    n_defs_total = n_acc * (n_regular + n_cold)
    def_ids = "alr-" + _unique_random_strings(rng, n_defs_total, 10, _HEX)
    def_account = np.zeros(n_defs_total, dtype=np.int64)
    def_titles = np.empty(n_defs_total, dtype=object)
    def_severity = np.empty(n_defs_total, dtype=object)
    def_cold = np.zeros(n_defs_total, dtype=bool)
    def_parent = np.full(n_defs_total, -1, dtype=np.int64)
    def_rate = np.zeros(n_defs_total)
    def_nmodes = np.zeros(n_defs_total, dtype=np.int64)
    def_causes: list[list[str]] = [[] for _ in range(n_defs_total)]
    mode_steps = np.full((n_defs_total, 3, _MAX_STEPS), -1, dtype=np.int64)
    mode_len = np.zeros((n_defs_total, 3), dtype=np.int64)
    mode_weights = np.zeros((n_defs_total, spec.n_periods, 3))
    n_dash_ids_needed = 0

    def template_for(recipe: _Query, svc: str) -> int:
        terms = tuple(t.replace("{svc}", svc) for t in recipe.terms)
        head = recipe.head.replace("{svc}", svc)
        tail = recipe.tail.replace("{svc}", svc)
        key = head + recipe.joiner.join(terms) + tail
        if key not in template_index:
            perms = tuple(itertools.islice(itertools.permutations(range(len(terms))), 6))
            filters = [{"field": "env", "value": "prod"}]
            if svc:
                filters.insert(0, {"field": "service", "value": svc})
            payload_tail = (
                '", "language": ' + json.dumps(recipe.language) + "}, \"filters\": "
                + json.dumps(filters) + ', "index": ' + json.dumps(recipe.index) + "}"
            )
            template_index[key] = len(templates)
            templates.append(_Template(recipe.language, recipe.index, svc, head, tail, recipe.joiner,
                                       terms, key, perms, payload_tail))
        return template_index[key]

    d = 0
    for a in range(n_acc):
        local: dict[tuple[bool, str], int] = {}

        def item_for(recipe: _Dash | _Query, svc: str, a: int = a,
                     local: dict[tuple[bool, str], int] = local) -> int:
            nonlocal n_dash_ids_needed
            if isinstance(recipe, _Dash):
                key = (False, recipe.title.replace("{svc}", svc))
            else:
                key = (True, templates[template_for(recipe, svc)].key)
            if key not in local:
                local[key] = len(item_account)
                item_account.append(a)
                item_is_query.append(key[0])
                if key[0]:
                    item_ref.append(template_index[key[1]])
                else:
                    item_ref.append(len(dash_titles))
                    dash_titles.append(key[1])
                    n_panels = int(rng.integers(2, 7))
                    types = rng.choice(len(_PANEL_TYPES), size=n_panels)
                    dash_panels.append(json.dumps(
                        [{"id": f"p{i + 1}", "type": _PANEL_TYPES[t]} for i, t in enumerate(types)]))
                    n_dash_ids_needed += 1
            return local[key]

        for j, recipe in enumerate(_POPULAR):
            popular[a, j] = item_for(recipe, "")
        n_services = min(len(_SERVICES), max(3, math.ceil(n_regular / 2) + 1))
        services = [_SERVICES[i] for i in rng.choice(len(_SERVICES), size=n_services, replace=False)]
        combos = [(k, s) for k in range(len(_KINDS)) for s in services]
        while len(combos) < n_regular:  # many definitions: use more services
            services.append(next(s for s in _SERVICES if s not in services))
            combos = [(k, s) for k in range(len(_KINDS)) for s in services]
        chosen = [combos[i] for i in rng.choice(len(combos), size=n_regular, replace=False)]
        for svc in services:  # every service has an overview: noise for novices
            item_for(_OVERVIEW, svc)
        activity = float(rng.lognormal(0.0, 0.5))
        first_def = d
        for kind_index, svc in chosen:
            kind = _KINDS[kind_index]
            def_account[d] = a
            def_titles[d] = kind.title.replace("{svc}", svc)
            def_severity[d] = kind.severities[int(rng.integers(len(kind.severities)))]
            def_rate[d] = activity * float(rng.lognormal(0.0, 0.7))
            k = int(rng.choice(3, p=_MODES_PER_DEF_P)) + 1
            k = min(k, len(kind.modes))
            picked = rng.choice(len(kind.modes), size=k, replace=False)
            def_nmodes[d] = k
            for m, mode_index in enumerate(picked):
                mode = kind.modes[int(mode_index)]
                def_causes[d].append(mode.cause)
                mode_len[d, m] = len(mode.steps)
                for s, recipe in enumerate(mode.steps):
                    mode_steps[d, m, s] = item_for(recipe, svc)
            weights = np.sort(rng.dirichlet(np.full(k, 0.8)))[::-1]
            for p in range(spec.n_periods):
                mode_weights[d, p, :k] = np.roll(weights, p) if spec.drift else weights
            d += 1
        parents = rng.choice(n_regular, size=n_cold, replace=False) + first_def
        for parent in parents:
            parent = int(parent)
            kind_index, svc = chosen[parent - first_def]
            form = _COLD_TITLE_FORMS[int(rng.integers(len(_COLD_TITLE_FORMS)))]
            def_account[d] = a
            def_titles[d] = _KINDS[kind_index].title.replace("{svc}", form.replace("{svc}", svc))
            def_severity[d] = def_severity[parent]
            def_cold[d] = True
            def_parent[d] = parent
            def_nmodes[d] = def_nmodes[parent]
            def_causes[d] = list(def_causes[parent])
            mode_steps[d] = mode_steps[parent]
            mode_len[d] = mode_len[parent]
            mode_weights[d] = mode_weights[parent, -1][None, :]
            d += 1
        item_offset.append(len(item_account))

    dash_ids = "dsh-" + _unique_random_strings(rng, n_dash_ids_needed, 8, _HEX)
    dash_payloads = np.empty((len(dash_titles), len(_TIME_RANGES)), dtype=object)
    for i, (dash_id, title, panels) in enumerate(zip(dash_ids, dash_titles, dash_panels)):
        head = ('{"dashboard": {"id": ' + json.dumps(dash_id) + ', "title": ' + json.dumps(title)
                + '}, "panels": ' + panels + ', "time_range": ')
        for r, (t_from, t_to) in enumerate(_TIME_RANGES):
            dash_payloads[i, r] = head + json.dumps({"from": t_from, "to": t_to}) + "}"

    return _Catalog(
        account_ids=account_ids,
        user_ids=user_ids,
        user_novice=novice.reshape(-1),
        users_per_account=n_users,
        item_account=np.asarray(item_account, dtype=np.int64),
        item_is_query=np.asarray(item_is_query, dtype=bool),
        item_ref=np.asarray(item_ref, dtype=np.int64),
        item_offset=np.asarray(item_offset, dtype=np.int64),
        popular=popular,
        dash_ids=dash_ids,
        dash_titles=np.asarray(dash_titles, dtype=object),
        dash_payloads=dash_payloads,
        templates=templates,
        def_account=def_account,
        def_ids=def_ids,
        def_titles=def_titles,
        def_severity=def_severity,
        def_cold=def_cold,
        def_parent=def_parent,
        def_rate=def_rate,
        def_nmodes=def_nmodes,
        def_causes=def_causes,
        mode_steps=mode_steps,
        mode_len=mode_len,
        mode_weights=mode_weights,
    )


# --------------------------------------------------------------------------
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


def _sim_range(spec: WorldSpec) -> tuple[int, int, int, int]:
    window_start = _day_us(spec.end_date) - spec.days * _DAY_US
    window_end = _day_us(spec.end_date)
    sim_start = window_start - spec.lookback_days * _DAY_US
    sim_end = window_end + int(spec.tail_hours * 3600 * _US)
    return sim_start, window_start, window_end, sim_end


def _mean_events_per_firing(spec: WorldSpec, catalog: _Catalog) -> float:
    regular = ~catalog.def_cold
    lens = catalog.mode_len[regular]
    mean_len = float(lens[lens > 0].mean())
    expert = (1 + _EXPERT_WANDER_P + _EXPERT_FOUND_P * (mean_len - _EXPERT_SKIP_P * 0.5)
              + _EXPERT_FOUND_P * _EXPERT_RESOLVE_P)
    novice = (2 + _NOVICE_WANDER_MEAN + _NOVICE_FOUND_P * (mean_len + 1) * 0.75
              + _NOVICE_FOUND_P * _NOVICE_RESOLVE_P)
    share = float(catalog.user_novice.mean())
    return (1.0 - spec.unopened_share) * (share * novice + (1.0 - share) * expert)


def _simulate_firings(spec: WorldSpec, catalog: _Catalog, rng: np.random.Generator) -> _Firings:
    sim_start, window_start, window_end, sim_end = _sim_range(spec)
    clean_target = spec.target_actions / (1.0 + spec.dirt * _DIRT_ADDED)
    session_target = clean_target * (1.0 - spec.background_share)
    mean_events = _mean_events_per_firing(spec, catalog)
    n_draw = int(1.6 * session_target / mean_events) + 50

    regular = np.flatnonzero(~catalog.def_cold)
    p = catalog.def_rate[regular] / catalog.def_rate[regular].sum()
    definition = regular[np.searchsorted(np.cumsum(p), rng.random(n_draw) * p.sum(), side="right")
                         .clip(0, len(regular) - 1)]
    fired = rng.integers(sim_start, sim_end, size=n_draw, dtype=np.int64)
    plan = _plan_sessions(spec, catalog, definition, fired, np.zeros(n_draw, dtype=bool), rng)

    # Keep a uniformly random subset of firings whose sessions add up to the target.
    order = rng.permutation(n_draw)
    cumulative = np.cumsum(plan["n_events"][order])
    keep_n = int(np.searchsorted(cumulative, session_target, side="right"))
    if keep_n == n_draw:
        log.warning("world is smaller than asked: %d session events for a target of %d",
                    int(cumulative[-1]), int(session_target))
    keep = np.sort(order[:keep_n])

    # Cold-start definitions: a few firings in the last days, never opened.
    cold = np.flatnonzero(catalog.def_cold)
    counts = rng.integers(2, 7, size=len(cold))
    cold_def = np.repeat(cold, counts)
    cold_fired = rng.integers(window_end - spec.cold_start_days * _DAY_US, sim_end,
                              size=len(cold_def), dtype=np.int64)
    cold_plan = _plan_sessions(spec, catalog, cold_def, cold_fired, np.ones(len(cold_def), dtype=bool),
                               rng)

    all_def = np.concatenate([definition[keep], cold_def])
    all_fired = np.concatenate([fired[keep], cold_fired])
    merged = {key: np.concatenate([value[keep], cold_plan[key]]) for key, value in plan.items()}
    by_time = np.lexsort((np.arange(len(all_fired)), all_fired))
    aeids = "ae-" + _unique_random_strings(rng, len(all_fired), 14, _HEX)
    return _Firings(
        definition=all_def[by_time],
        fired_us=all_fired[by_time],
        alert_event_ids=aeids,
        **{key: value[by_time] for key, value in merged.items()},
    )


def _plan_sessions(spec: WorldSpec, catalog: _Catalog, definition: np.ndarray, fired: np.ndarray,
                   never_opened: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per firing: mode, whether and by whom it is opened, and the shape of the session."""
    n = len(definition)
    _, window_start, window_end, _ = _sim_range(spec)
    period_len = (window_end - window_start) / spec.n_periods
    period = np.clip(np.floor((fired - window_start) / period_len), 0, spec.n_periods - 1).astype(np.int64)
    cum = np.cumsum(catalog.mode_weights[definition, period], axis=1)
    mode = (rng.random(n)[:, None] * cum[:, -1:] > cum).sum(axis=1)
    mode = np.minimum(mode, catalog.def_nmodes[definition] - 1)
    length = catalog.mode_len[definition, mode]

    opened = (rng.random(n) >= spec.unopened_share) & ~never_opened
    account = catalog.def_account[definition]
    user = account * catalog.users_per_account + rng.integers(0, catalog.users_per_account, size=n)
    novice = catalog.user_novice[user]

    u = rng.random((7, n))
    n_wander = np.where(novice, 1 + rng.poisson(_NOVICE_WANDER_MEAN, size=n),
                        (u[0] < _EXPERT_WANDER_P).astype(np.int64))
    found = np.where(novice, u[1] < _NOVICE_FOUND_P, u[1] < _EXPERT_FOUND_P)
    n_wander = np.where(~novice & ~found, n_wander + 1 + rng.poisson(1.0, size=n), n_wander)
    start = np.where(novice & (u[2] >= 0.5), np.floor(u[3] * length), 0).astype(np.int64)
    skip = np.where(~novice & (length >= 3) & (u[4] < _EXPERT_SKIP_P),
                    np.floor(u[5] * (length - 1)), -1).astype(np.int64)
    n_eff = np.where(found, length - start - (skip >= 0), 0)
    resolved = found & np.where(novice, u[6] < _NOVICE_RESOLVE_P, u[6] < _EXPERT_RESOLVE_P)
    n_events = np.where(opened, 1 + n_wander + n_eff + resolved, 0).astype(np.int64)
    delay = np.clip(rng.lognormal(math.log(_OPEN_DELAY_S), 1.0, size=n), 5.0, 4 * 3600.0)
    open_us = fired + (delay * _US).astype(np.int64)
    source = rng.integers(0, len(SOURCES), size=n)
    return {
        "period": period, "mode": mode, "opened": opened, "user": user, "novice": novice,
        "n_wander": n_wander.astype(np.int64), "found": found, "start": start, "skip": skip,
        "n_eff": n_eff.astype(np.int64), "resolved": resolved, "n_events": n_events,
        "open_us": open_us, "source": source,
    }


# --------------------------------------------------------------------------
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


def _build_events(spec: WorldSpec, catalog: _Catalog, firings: _Firings,
                  rng: np.random.Generator) -> _Events:
    sim_start, _, _, sim_end = _sim_range(spec)
    sess = np.flatnonzero(firings.opened)
    counts = firings.n_events[sess]
    n_session_events = int(counts.sum())
    sidx = np.repeat(np.arange(len(sess)), counts)
    first = np.cumsum(counts) - counts
    pos = np.arange(n_session_events) - first[sidx]
    f = sess[sidx]
    n_wander = firings.n_wander[f]
    n_eff = firings.n_eff[f]
    is_open = pos == 0
    is_wander = (pos >= 1) & (pos <= n_wander)
    is_eff = (pos > n_wander) & (pos <= n_wander + n_eff)
    is_resolve = ~is_open & ~is_wander & ~is_eff
    definition = firings.definition[f]
    account = catalog.def_account[definition]

    item = np.full(n_session_events, -1, dtype=np.int64)
    wander = np.flatnonzero(is_wander)
    item[wander] = _wander_items(catalog, account[wander], rng)
    eff = np.flatnonzero(is_eff)
    step = firings.start[f[eff]] + (pos[eff] - 1 - n_wander[eff])
    skip = firings.skip[f[eff]]
    step = step + ((skip >= 0) & (step >= skip))
    item[eff] = catalog.mode_steps[definition[eff], firings.mode[f[eff]], step]

    novice = firings.novice[f]
    gap_s = rng.lognormal(0.0, _GAP_SIGMA, size=n_session_events) * np.where(
        novice, _NOVICE_GAP_S, _EXPERT_GAP_S)
    gap_s = np.clip(gap_s, 1.0, 25 * 60.0)
    long_pause = rng.random(n_session_events) < _LONG_PAUSE_P
    gap_s = np.where(long_pause, rng.uniform(32 * 60.0, 90 * 60.0, size=n_session_events), gap_s)
    gap_us = (gap_s * _US).astype(np.int64) + rng.integers(0, _US, size=n_session_events)
    gap_us[is_open] = 0
    cumulative = np.cumsum(gap_us)
    ts_us = firings.open_us[f] + cumulative - cumulative[first][sidx]
    firings.session_event = first  # index of each session's alert_opened row

    # Background: dashboards and queries used outside any investigation.
    n_background = int(round(n_session_events * spec.background_share / (1.0 - spec.background_share)))
    per_account = np.bincount(account, minlength=len(catalog.account_ids)).astype(float) + 1.0
    bg_account = np.searchsorted(np.cumsum(per_account), rng.random(n_background) * per_account.sum(),
                                 side="right").clip(0, len(per_account) - 1)
    bg_user = bg_account * catalog.users_per_account + rng.integers(
        0, catalog.users_per_account, size=n_background)
    bg_ts = rng.integers(sim_start, sim_end, size=n_background, dtype=np.int64)
    bg_item = _wander_items(catalog, bg_account, rng)

    n = n_session_events + n_background
    all_item = np.concatenate([item, bg_item])
    all_account = np.concatenate([account, bg_account]).astype(np.int64)
    all_ts = np.concatenate([ts_us, bg_ts])
    kind = np.full(n, _K_OPEN, dtype=np.int8)
    kind[:n_session_events][is_resolve] = _K_RESOLVE
    has_item = all_item >= 0
    kind[has_item] = np.where(catalog.item_is_query[all_item[has_item]], _K_QUERY, _K_DASH)

    payload = np.empty(n, dtype=object)
    dash_rows = np.flatnonzero(kind == _K_DASH)
    ranges = rng.choice(len(_TIME_RANGES), size=len(dash_rows), p=(0.2, 0.45, 0.2, 0.15))
    payload[dash_rows] = catalog.dash_payloads[catalog.item_ref[all_item[dash_rows]], ranges]
    query_rows = np.flatnonzero(kind == _K_QUERY)
    payload[query_rows] = _query_payloads(catalog.templates, catalog.item_ref[all_item[query_rows]],
                                          all_ts[query_rows], rng)
    open_rows = np.flatnonzero(is_open)
    fo = f[open_rows]
    payload[open_rows] = (
        '{"alert_event_id": "' + firings.alert_event_ids[fo] + '", "alert_id": "'
        + catalog.def_ids[firings.definition[fo]] + '", "source": "'
        + np.asarray(SOURCES, dtype=object)[firings.source[fo]] + '"}'
    )
    resolve_rows = np.flatnonzero(is_resolve)
    payload[resolve_rows] = '{"alert_event_id": "' + firings.alert_event_ids[f[resolve_rows]] + '"}'

    late = _late_days(spec, n, rng)
    user_index = np.concatenate([firings.user[f], bg_user])
    return _Events(
        event_id=np.empty(n, dtype=object),  # assigned after the dirt adds rows
        account=all_account,
        user=catalog.user_ids[user_index],
        ts_us=all_ts,
        ts_null=np.zeros(n, dtype=bool),
        action=_KIND_ACTIONS[kind.astype(np.int64)],
        payload=payload,
        late_days=late,
        order_us=all_ts.copy(),
        kind=kind,
    )


def _wander_items(catalog: _Catalog, account: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Items a user opens without a reason: mostly popular ones, else any item of the account."""
    n = len(account)
    weights = _POPULAR_WEIGHTS / _POPULAR_WEIGHTS.sum()
    j = np.searchsorted(np.cumsum(weights), rng.random(n), side="right").clip(0, len(weights) - 1)
    popular = catalog.popular[account, j]
    lo, hi = catalog.item_offset[account], catalog.item_offset[account + 1]
    anything = lo + np.floor(rng.random(n) * (hi - lo)).astype(np.int64)
    return np.where(rng.random(n) < _POPULAR_WANDER_P, popular, anything)


def _late_days(spec: WorldSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    u = rng.random(n)
    return np.where(u < spec.late_share / 3.0, 2, np.where(u < spec.late_share, 1, 0)).astype(np.int64)


def _query_payloads(templates: list[_Template], template: np.ndarray, ts_us: np.ndarray,
                    rng: np.random.Generator) -> np.ndarray:
    """Query payloads: each template instantiated with fresh literals, sometimes reordered."""
    n = len(template)
    out = np.empty(n, dtype=object)
    if n == 0:
        return out
    n_perms = np.array([len(t.perms) for t in templates], dtype=np.int64)[template]
    other = 1 + np.floor(rng.random(n) * np.maximum(n_perms - 1, 1)).astype(np.int64)
    perm = np.where((rng.random(n) < _PERM_P) & (n_perms > 1), other, 0)
    group = template * 8 + perm
    order = np.argsort(group, kind="stable")
    bounds = np.flatnonzero(np.diff(group[order])) + 1
    for rows in np.split(order, bounds):
        tmpl = templates[int(template[rows[0]])]
        text: np.ndarray | str = '{"query": {"text": "'
        for is_literal, value in tmpl.parts(int(perm[rows[0]])):
            text = text + (_literals(value, len(rows), ts_us[rows], tmpl.svc, rng) if is_literal else value)
        out[rows] = text + tmpl.payload_tail
    return out


def _literals(kind: str, n: int, ts_us: np.ndarray, svc: str, rng: np.random.Generator) -> np.ndarray:
    """``n`` random literal values of one kind (hosts, pods, ids, IPs, numbers, timestamps)."""
    if kind == "host":
        return "ip-10-0-" + _str(rng.integers(0, 32, n)) + "-" + _str(rng.integers(1, 255, n))
    if kind == "pod":
        return ((svc or "web") + "-" + _random_strings(rng, n, 6, _HEX) + "-"
                + _random_strings(rng, n, 5, _ALNUM))
    if kind == "hex":
        return _random_strings(rng, n, 12, _HEX)
    if kind == "trace":
        return _random_strings(rng, n, 32, _HEX)
    if kind == "uuid":
        raw = _random_strings(rng, n, 32, _HEX)
        return np.array([f"{r[:8]}-{r[8:12]}-{r[12:16]}-{r[16:20]}-{r[20:]}" for r in raw], dtype=object)
    if kind == "ip":
        private = "10." + _str(rng.integers(0, 256, n)) + "." + _str(rng.integers(0, 256, n)) + "."
        public = np.where(rng.random(n) < 0.5, "203.0.113.", "198.51.100.").astype(object)
        prefix = np.where(rng.random(n) < 0.6, private, public)
        return prefix + _str(rng.integers(1, 255, n))
    if kind == "ts":
        minutes = (ts_us // (60 * _US) - rng.integers(5, 120, n)).astype("datetime64[m]")
        return np.datetime_as_string(minutes, unit="s").astype(object) + "Z"
    low, high = _NUMBER_RANGES[kind]
    return _str(rng.integers(low, high + 1, n))


# --------------------------------------------------------------------------
def _add_dirt(spec: WorldSpec, catalog: _Catalog, firings: _Firings, events: _Events,
              rng: np.random.Generator) -> None:
    """Mutate and extend the clean rows with every kind of dirt of the contract; assign event ids."""
    n = len(events.ts_us)
    total = int(round(spec.dirt * n))
    counts = {name: int(round(total * share)) for name, share in _DIRT_SHARES.items()}
    shuffled = rng.permutation(n)
    cursor = 0

    def take(k: int) -> np.ndarray:
        nonlocal cursor
        rows = shuffled[cursor:cursor + k]
        cursor += len(rows)
        return rows

    # Mutations of disjoint rows first, then the added rows copy or anchor on others.
    with_fields = np.isin(events.kind[shuffled[cursor:]], (_K_OPEN, _K_DASH, _K_QUERY))
    candidates = shuffled[cursor:][with_fields]
    missing_rows = candidates[-counts["missing_field"]:] if counts["missing_field"] else candidates[:0]
    shuffled = shuffled[~np.isin(shuffled, missing_rows)]
    malformed_rows = take(counts["malformed"])
    null_user_rows = take(counts["null_user"])
    required_rows = take(counts["missing_required"])
    duplicate_src = take(counts["duplicate"])
    unknown_anchor = take(counts["unknown_action"])
    orphan_anchor = take(counts["orphan"])
    disorder_rows = take(counts["out_of_order"])

    for row in missing_rows:
        events.payload[row] = _drop_payload_field(events.payload[row], int(events.kind[row]))
    cuts = rng.random(len(malformed_rows))
    for row, cut in zip(malformed_rows, cuts):
        text = events.payload[row]
        if cut < 0.6:
            events.payload[row] = text[: max(1, int(cut / 0.6 * (len(text) - 1)))]
        else:
            events.payload[row] = _GARBAGE[int((cut - 0.6) / 0.4 * len(_GARBAGE)) % len(_GARBAGE)]
    events.user[null_user_rows] = None
    which = rng.integers(0, 3, size=len(required_rows))
    events.action[required_rows[which == 1]] = None
    events.ts_null[required_rows[which == 2]] = True
    null_event_id = required_rows[which == 0]
    jitter = rng.uniform(60.0, 2 * 3600.0, size=len(disorder_rows)) * rng.choice((-1, 1), len(disorder_rows))
    events.order_us[disorder_rows] += (jitter * _US).astype(np.int64)

    # Event ids for the clean rows and the rows added below (unknown actions, orphans).
    n_new = len(unknown_anchor) + len(orphan_anchor)
    ids = "e" + _unique_random_strings(rng, n + n_new, 16, _HEX)
    events.event_id = ids[:n].copy()
    firings.session_ids = ids[firings.session_event]
    events.event_id[null_event_id] = None

    # Duplicates: same event_id; same dt, a later dt, or a differing payload.
    how = rng.random(len(duplicate_src))
    # another partition: any other of the ts day and the next two (the copy may come first)
    dup_late = np.where(how < 0.5, events.late_days[duplicate_src],
                        (events.late_days[duplicate_src] + rng.integers(1, 3, size=len(duplicate_src))) % 3)
    dup_payload = events.payload[duplicate_src].copy()
    differ = np.flatnonzero(how >= 0.8)
    for i in differ:
        dup_payload[i] = _differing_copy(dup_payload[i])
    src = duplicate_src
    events.append(
        event_id=events.event_id[src], account=events.account[src], user=events.user[src],
        ts_us=events.ts_us[src], ts_null=events.ts_null[src], action=events.action[src],
        payload=dup_payload, late_days=dup_late,
        order_us=events.order_us[src] + rng.integers(1, 30 * _US, size=len(src)),
        kind=np.full(len(src), _K_OTHER, dtype=np.int8),
    )

    # Unknown actions near a user's events (often inside a session).
    anchors = unknown_anchor
    ts = events.ts_us[anchors] + rng.integers(_US, 60 * _US, size=len(anchors))
    choice = rng.integers(0, len(_UNKNOWN_PAYLOADS), size=len(anchors))
    events.append(
        event_id=ids[n:n + len(anchors)], account=events.account[anchors], user=events.user[anchors],
        ts_us=ts, ts_null=np.zeros(len(anchors), dtype=bool),
        action=np.asarray([a for a, _ in _UNKNOWN_PAYLOADS], dtype=object)[choice],
        payload=np.asarray([p for _, p in _UNKNOWN_PAYLOADS], dtype=object)[choice],
        late_days=_late_days(spec, len(anchors), rng), order_us=ts,
        kind=np.full(len(anchors), _K_OTHER, dtype=np.int8),
    )

    # Orphan alert_opened: an unknown firing, or a firing of another account.
    anchors = orphan_anchor
    k = len(anchors)
    ts = events.ts_us[anchors] + rng.integers(_US, 120 * _US, size=k)
    other = rng.integers(0, len(firings.fired_us), size=k)
    other_account = catalog.def_account[firings.definition[other]]
    foreign = (rng.random(k) < 0.2) & (other_account != events.account[anchors])
    aeid = np.where(foreign, firings.alert_event_ids[other],
                    "ae-" + _random_strings(rng, k, 14, _HEX) + "x")
    alert_id = np.where(foreign, catalog.def_ids[firings.definition[other]], "alr-unknown")
    events.append(
        event_id=ids[n + len(unknown_anchor):], account=events.account[anchors],
        user=events.user[anchors], ts_us=ts, ts_null=np.zeros(k, dtype=bool),
        action=np.full(k, schema.ALERT_OPENED, dtype=object),
        payload='{"alert_event_id": "' + aeid + '", "alert_id": "' + alert_id + '", "source": "ui"}',
        late_days=_late_days(spec, k, rng), order_us=ts,
        kind=np.full(k, _K_OTHER, dtype=np.int8),
    )
    log.debug("dirt: %s", counts)


_GARBAGE = (
    "",
    "{",
    "undefined",
    "<html><body>502 Bad Gateway</body></html>",
    "{'query': {'text': 'level:error'}}",
    '{"dashboard": {"id": "dsh-',
)
_UNKNOWN_PAYLOADS = (
    ("page_view", '{"path": "/app/alerts"}'),
    ("page_view", '{"path": "/app/dashboards"}'),
    ("settings_changed", '{"setting": "theme", "value": "dark"}'),
    ("settings_changed", '{"setting": "timezone", "value": "UTC"}'),
)


def _drop_payload_field(text: str, kind: int) -> str:
    """The payload without the field the pipeline needs (dashboard id, query text, alert_event_id)."""
    doc = json.loads(text)
    if kind == _K_DASH:
        del doc["dashboard"]["id"]
    elif kind == _K_QUERY:
        del doc["query"]["text"]
    else:
        del doc[schema.ALERT_EVENT_ID]
    return json.dumps(doc)


def _differing_copy(text: str) -> str:
    """A copy of a payload that differs in text but not in meaning (an extra field)."""
    if text.endswith("}"):
        return text[:-1] + ', "client": "web-2"}'
    return text + " "


# --------------------------------------------------------------------------
def _alerts_frame(spec: WorldSpec, catalog: _Catalog, firings: _Firings,
                  rng: np.random.Generator) -> pd.DataFrame:
    n = len(firings.fired_us)
    definition = firings.definition
    alert_id = catalog.def_ids[definition].copy()
    title = catalog.def_titles[definition].copy()
    fired = firings.fired_us.copy()
    account = catalog.account_ids[catalog.def_account[definition]]
    severity = catalog.def_severity[definition].copy()
    aeid = firings.alert_event_ids.copy()

    # Dirt: a null alert_id on a few unopened firings, duplicated rows (some with another title).
    k = max(1, int(round(spec.dirt * n))) if spec.dirt > 0 else 0
    unopened = np.flatnonzero(~firings.opened & ~catalog.def_cold[definition])
    n_null = min(len(unopened), max(1, k // 4)) if k else 0
    alert_id[rng.choice(unopened, size=n_null, replace=False)] = None
    dup = rng.choice(n, size=min(k, n), replace=False)
    dup_title = title[dup].copy()
    differ = rng.random(len(dup)) < 0.3
    dup_title[differ] = dup_title[differ] + " (copy)"
    position = np.concatenate([np.arange(n), dup]).astype(np.float64)
    position[n:] += 0.5
    order = np.argsort(position, kind="stable")

    fired_all = np.concatenate([fired, fired[dup]])[order]
    frame = pd.DataFrame({
        schema.ACCOUNT_ID: np.concatenate([account, account[dup]])[order].astype(np.int64),
        schema.ALERT_EVENT_ID: np.concatenate([aeid, aeid[dup]])[order],
        schema.ALERT_ID: np.concatenate([alert_id, alert_id[dup]])[order],
        schema.ALERT_TITLE: np.concatenate([title, dup_title])[order],
        schema.SEVERITY: np.concatenate([severity, severity[dup]])[order],
        schema.FIRED_AT: _to_timestamps(fired_all),
        schema.DT: _day_strings(fired_all // _DAY_US),
    })
    return frame


def _actions_frame(catalog: _Catalog, events: _Events) -> pd.DataFrame:
    day = events.ts_us // _DAY_US + events.late_days
    order = np.lexsort((np.arange(len(day)), events.order_us, day))
    return pd.DataFrame({
        schema.EVENT_ID: events.event_id[order],
        schema.ACCOUNT_ID: catalog.account_ids[events.account[order]].astype(np.int64),
        schema.USER_ID: events.user[order],
        schema.TS: _to_timestamps(events.ts_us[order], events.ts_null[order]),
        schema.ACTION: events.action[order],
        schema.PAYLOAD: events.payload[order],
        schema.DT: _day_strings(day[order]),
    })


def _truth_frame(spec: WorldSpec, catalog: _Catalog, rng: np.random.Generator) -> pd.DataFrame:
    _, window_start, window_end, _ = _sim_range(spec)
    period_len = (window_end - window_start) // spec.n_periods
    bounds = [window_start + p * period_len for p in range(spec.n_periods)] + [window_end]
    example_ts = np.array([window_end - 3600 * _US], dtype=np.int64)
    examples: dict[int, str] = {}
    columns: dict[str, list[object]] = {name: [] for name in TRUTH_COLUMNS}
    for d in range(len(catalog.def_ids)):
        parent = int(catalog.def_parent[d])
        for m in range(int(catalog.def_nmodes[d])):
            for p in range(spec.n_periods):
                for s in range(int(catalog.mode_len[d, m])):
                    item = int(catalog.mode_steps[d, m, s])
                    ref = int(catalog.item_ref[item])
                    is_query = bool(catalog.item_is_query[item])
                    if is_query and ref not in examples:
                        tmpl = catalog.templates[ref]
                        text = "".join(
                            str(_literals(value, 1, example_ts, tmpl.svc, rng)[0]) if is_literal
                            else json.loads(f'"{value}"')
                            for is_literal, value in tmpl.parts(0)
                        )
                        examples[ref] = text
                    row = {
                        schema.ACCOUNT_ID: int(catalog.account_ids[catalog.def_account[d]]),
                        schema.ALERT_ID: catalog.def_ids[d],
                        schema.ALERT_TITLE: catalog.def_titles[d],
                        COLD_START: bool(catalog.def_cold[d]),
                        SIMILAR_TO: catalog.def_ids[parent] if parent >= 0 else None,
                        MODE: m,
                        CAUSE: catalog.def_causes[d][m],
                        PERIOD: p,
                        PERIOD_START: bounds[p],
                        PERIOD_END: bounds[p + 1],
                        MODE_WEIGHT: float(catalog.mode_weights[d, p, m]),
                        STEP: s,
                        schema.ITEM_TYPE: schema.ITEM_QUERY if is_query else schema.ITEM_DASHBOARD,
                        schema.ITEM_KEY: catalog.templates[ref].key if is_query else catalog.dash_ids[ref],
                        schema.ITEM_TITLE: None if is_query else catalog.dash_titles[ref],
                        schema.QUERY_LANGUAGE: catalog.templates[ref].language if is_query else None,
                        QUERY_EXAMPLE: examples[ref] if is_query else None,
                    }
                    for name, value in row.items():
                        columns[name].append(value)
    frame = pd.DataFrame(columns)
    for name in (PERIOD_START, PERIOD_END):
        frame[name] = _to_timestamps(np.asarray(frame[name], dtype=np.int64))
    frame[schema.ACCOUNT_ID] = frame[schema.ACCOUNT_ID].astype(np.int64)
    for name in (MODE, PERIOD, STEP):
        frame[name] = frame[name].astype(np.int64)
    return frame


def _planned_sessions_frame(catalog: _Catalog, firings: _Firings) -> pd.DataFrame:
    sess = np.flatnonzero(firings.opened)
    definition = firings.definition[sess]
    return pd.DataFrame({
        schema.SESSION_ID: firings.session_ids,
        schema.ACCOUNT_ID: catalog.account_ids[catalog.def_account[definition]].astype(np.int64),
        schema.USER_ID: catalog.user_ids[firings.user[sess]],
        NOVICE: firings.novice[sess],
        schema.ALERT_EVENT_ID: firings.alert_event_ids[sess],
        schema.ALERT_ID: catalog.def_ids[definition],
        MODE: firings.mode[sess],
        PERIOD: firings.period[sess],
        FOUND: firings.found[sess],
        schema.RESOLVED: firings.resolved[sess],
        schema.STARTED_AT: _to_timestamps(firings.open_us[sess]),
        schema.N_EVENTS: firings.n_events[sess],
    })


# ==========================================================================
# Writing
# ==========================================================================
def write_world(world: World, root: str | Path) -> None:
    """Write the world's inputs as the contract lays them out.

    Writes ``root/alerts/dt=YYYY-MM-DD/part-0.parquet`` and
    ``root/actions/dt=YYYY-MM-DD/part-0.parquet``, one file per ``dt``, with
    exactly ``schema.ALERTS_ARROW`` / ``schema.ACTIONS_ARROW`` (no pandas
    metadata; ``dt`` only in the folder name). Rows keep the frame's order, so
    the same world always gives byte-identical files. A partition that exists
    already is overwritten; other partitions under ``root`` are left alone.

    Parameters
    ----------
    world : World
        What to write (its ``alerts`` and ``actions``; the truth stays in memory).
    root : str or pathlib.Path
        Local folder; created if needed.
    """
    root = Path(root)
    _write_dataset(world.alerts, schema.ALERT_COLUMNS, schema.ALERTS_ARROW, root / schema.DATASET_ALERTS)
    _write_dataset(world.actions, schema.ACTION_COLUMNS, schema.ACTIONS_ARROW,
                   root / schema.DATASET_ACTIONS)
    log.info("wrote %d alert rows and %d action rows under %s", len(world.alerts), len(world.actions), root)


def _write_dataset(frame: pd.DataFrame, columns: Sequence[str], arrow_schema: pa.Schema,
                   folder: Path) -> None:
    for day, part in frame.groupby(schema.DT, sort=True):
        table = pa.Table.from_pandas(part[list(columns)], schema=arrow_schema, preserve_index=False)
        table = table.replace_schema_metadata(None)
        path = folder / f"{schema.DT}={day}" / "part-0.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path, compression=PARQUET_COMPRESSION)


# ==========================================================================
# Small helpers
# ==========================================================================
def _ts(day: dt.date) -> pd.Timestamp:
    return pd.Timestamp(day.isoformat(), tz="UTC")


def _day_us(day: dt.date) -> int:
    return (day - _EPOCH).days * _DAY_US


def _json_escape(text: str) -> str:
    return json.dumps(text)[1:-1]


def _str(values: np.ndarray) -> np.ndarray:
    return values.astype(str).astype(object)


def _random_bytes(rng: np.random.Generator, n: int, width: int, alphabet: str) -> np.ndarray:
    lut = np.frombuffer(alphabet.encode("ascii"), dtype="S1")
    index = rng.integers(0, len(alphabet), size=(n, width), dtype=np.uint8)
    return np.ascontiguousarray(lut[index]).view(f"S{width}").reshape(n)


def _random_strings(rng: np.random.Generator, n: int, width: int, alphabet: str) -> np.ndarray:
    """``n`` random strings of ``width`` characters of ``alphabet`` (object array)."""
    if n == 0:
        return np.empty(0, dtype=object)
    return _random_bytes(rng, n, width, alphabet).astype(f"U{width}").astype(object)


def _unique_random_strings(rng: np.random.Generator, n: int, width: int, alphabet: str) -> np.ndarray:
    """Like :func:`_random_strings`, redrawing until all ``n`` strings are distinct."""
    if n == 0:
        return np.empty(0, dtype=object)
    raw = _random_bytes(rng, n, width, alphabet)
    while True:
        _, first = np.unique(raw, return_index=True)
        if len(first) == n:
            return raw.astype(f"U{width}").astype(object)
        repeated = np.setdiff1d(np.arange(n), first)
        raw[repeated] = _random_bytes(rng, len(repeated), width, alphabet)


def _to_timestamps(us: np.ndarray, null: np.ndarray | None = None) -> pd.DatetimeIndex:
    values = np.asarray(us, dtype=np.int64).astype("datetime64[us]").astype("datetime64[ns]")
    if null is not None and null.any():
        values = values.copy()
        values[null] = np.datetime64("NaT")
    return pd.DatetimeIndex(values).tz_localize("UTC")


def _day_strings(days: np.ndarray) -> np.ndarray:
    unique, inverse = np.unique(np.asarray(days, dtype=np.int64), return_inverse=True)
    labels = np.array([(_EPOCH + dt.timedelta(days=int(d))).isoformat() for d in unique], dtype=object)
    return labels[inverse]


# ==========================================================================
# Bundled fixtures: a small generated world plus hand-planted cases
# ==========================================================================
FIXTURE_DAY = dt.date(2026, 2, 1)
FIXTURE_SEED = 20260201
FIXTURE_SPEC = WorldSpec(
    end_date=FIXTURE_DAY, days=28, accounts=2, definitions_per_account=5, users_per_account=5,
    target_actions=2500, novice_share=0.4, drift=True, dirt=0.03, cold_start_per_account=1,
)
FIXTURE_ACCOUNT = 900001  # the planted account
FIXTURE_OTHER_ACCOUNT = 900002  # a second planted account (foreign orphan)
NOT_READ = "not_read"  # planted expectation: the partition is outside what the run for D reads

_FX_5XX, _FX_LAG, _FX_5XX_V2, _FX_CERT, _FX_CPU = (
    "alr-fx-5xx", "alr-fx-lag", "alr-fx-5xx-v2", "alr-fx-cert", "alr-fx-cpu")
_FX_TITLES = {
    _FX_5XX: "High 5xx rate on checkout",
    _FX_LAG: "Kafka consumer lag on orders",
    _FX_5XX_V2: "High 5xx rate on checkout-v2",
    _FX_CERT: "TLS certificate expiring for checkout",
    _FX_CPU: "CPU throttling on search",
}
_FX_OLD_LAG_TITLE = "Consumer lag on orders"
_FX_DASHBOARDS = {
    "dsh-fx-checkout": "Service overview: checkout",
    "dsh-fx-deploys": "Deployments: checkout",
    "dsh-fx-aaa-stale": "Deployments (old): checkout",
    "dsh-fx-orders": "Service overview: orders",
    "dsh-fx-kafka": "Kafka: consumer groups",
    "dsh-fx-pg": "PostgreSQL: connections",
    "dsh-fx-search": "Service overview: search",
}


@dataclass
class _Case:
    key: str
    title: str
    expected: str
    event_ids: list[str] = field(default_factory=list)
    alert_event_ids: list[str] = field(default_factory=list)


@dataclass
class _Planter:
    """Collects hand-planted rows, their expected accounting and the expected sessions."""

    alerts: list[dict[str, object]] = field(default_factory=list)
    actions: list[dict[str, object]] = field(default_factory=list)
    cases: list[_Case] = field(default_factory=list)
    sessions: list[dict[str, object]] = field(default_factory=list)
    reverse_in_file: list[tuple[str, ...]] = field(default_factory=list)

    def case(self, key: str, title: str, expected: str) -> None:
        self.cases.append(_Case(key, title, " ".join(expected.split())))

    def alert(self, aeid: str, alert_id: str | None, fired: str, expect: str, *,
              account: int = FIXTURE_ACCOUNT, title: str | None = None, severity: str = "HIGH") -> None:
        ts = pd.Timestamp(fired, tz="UTC")
        self.alerts.append({
            schema.ACCOUNT_ID: account, schema.ALERT_EVENT_ID: aeid, schema.ALERT_ID: alert_id,
            schema.ALERT_TITLE: title or _FX_TITLES.get(alert_id or "", "Unnamed alert"),
            schema.SEVERITY: severity, schema.FIRED_AT: ts, schema.DT: ts.date().isoformat(),
            "expect": expect,
        })
        if aeid not in self.cases[-1].alert_event_ids:
            self.cases[-1].alert_event_ids.append(aeid)

    def act(self, event_id: str | None, user: str | None, at: str | None, action: str | None,
            payload: str, expect: str, *, account: int = FIXTURE_ACCOUNT, dt_: str | None = None) -> None:
        ts = pd.Timestamp(at, tz="UTC") if at else pd.NaT
        day = dt_ or ts.date().isoformat()
        self.actions.append({
            schema.EVENT_ID: event_id, schema.ACCOUNT_ID: account, schema.USER_ID: user,
            schema.TS: ts, schema.ACTION: action, schema.PAYLOAD: payload, schema.DT: day,
            "expect": expect,
        })
        label = event_id if event_id is not None else f"(null event_id, {action}, {at})"
        if label not in self.cases[-1].event_ids:
            self.cases[-1].event_ids.append(label)

    def session(self, session_id: str, alert_event_id: str, alert_id: str, end_reason: str,
                items: Sequence[str], others: Sequence[str] = (), last: str | None = None,
                gap_events: Sequence[str] = ()) -> None:
        """Expected session: its items (in seq order), its other in-session events and its last event."""
        rows = {r[schema.EVENT_ID]: r for r in self.actions if r["expect"] == schema.R_IN_SESSION}
        start = rows[session_id]
        end_id = last or max([session_id, *items, *others], key=lambda e: (rows[e][schema.TS], e))
        end = rows[end_id]
        item_keys, item_titles, languages = [], [], []
        for event_id in items:
            doc = json.loads(str(rows[event_id][schema.PAYLOAD]))
            if rows[event_id][schema.ACTION] == schema.DASHBOARD_OPENED:
                item_keys.append(doc["dashboard"]["id"])
                item_titles.append(doc["dashboard"].get("title"))
                languages.append(None)
            else:
                item_keys.append(doc["query"]["text"])
                item_titles.append(None)
                languages.append(doc["query"].get("language"))
        self.sessions.append({
            schema.SESSION_ID: session_id,
            schema.ACCOUNT_ID: start[schema.ACCOUNT_ID],
            schema.USER_ID: start[schema.USER_ID],
            schema.ALERT_EVENT_ID: alert_event_id,
            schema.ALERT_ID: alert_id,
            schema.STARTED_AT: _iso(start[schema.TS]),
            schema.ENDED_AT: _iso(end[schema.TS]),
            schema.DURATION_S: (end[schema.TS] - start[schema.TS]).total_seconds(),
            schema.END_REASON: end_reason,
            schema.RESOLVED: end_reason == schema.END_RESOLVED,
            schema.N_ITEMS: len(items),
            "in_session_event_ids": sorted([session_id, *items, *others],
                                           key=lambda e: (rows[e][schema.TS], e)),
            "gap_only_event_ids": list(gap_events),
            "item_event_ids": list(items),
            "item_keys": item_keys,
            "item_titles": item_titles,
            "query_languages": languages,
        })


def _iso(ts: pd.Timestamp) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def _p_dash(dash_id: str | None, title: str | None = None, time_range: tuple[str, str] = ("now-1h", "now"),
            panels: int = 2) -> str:
    board: dict[str, object] = {}
    if dash_id is not None:
        board["id"] = dash_id
        title = title if title is not None else _FX_DASHBOARDS[dash_id]
    if title:
        board["title"] = title
    return json.dumps({
        "dashboard": board,
        "panels": [{"id": f"p{i + 1}", "type": _PANEL_TYPES[i]} for i in range(panels)],
        "time_range": {"from": time_range[0], "to": time_range[1]},
    })


def _p_query(text: str | None, language: str | None = "lucene", index: str = "logs-*",
             service: str = "checkout") -> str:
    query: dict[str, object] = {}
    if text is not None:
        query["text"] = text
    if language is not None:
        query["language"] = language
    return json.dumps({"query": query, "filters": [{"field": "service", "value": service}],
                       "index": index})


def _p_open(aeid: str | None, alert_id: str | None, source: str = "slack") -> str:
    doc: dict[str, object] = {}
    if aeid is not None:
        doc[schema.ALERT_EVENT_ID] = aeid
    if alert_id is not None:
        doc[schema.ALERT_ID] = alert_id
    doc["source"] = source
    return json.dumps(doc)


def _p_resolve(aeid: str) -> str:
    return json.dumps({schema.ALERT_EVENT_ID: aeid})


def _fx_trace_ids(n: int, salt: str) -> list[str]:
    return [_stable_hex(f"{salt}-{i}", 32) for i in range(n)]


def _stable_hex(text: str, width: int) -> str:
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:width]


# Queries planted in several sessions: same canonical query, other literals / term order.
FX_QUERY_CHECKOUT = (
    "service:checkout AND host:ip-10-0-3-17 AND level:error",  # fx-c01-query
    "level:error AND host:ip-10-0-7-4 AND service:checkout",  # fx-c05-query
    "host:ip-10-0-12-201 AND service:checkout AND level:error",  # fx-c09-query
)
FX_QUERY_SQL = (
    "SELECT count(*) FROM logs WHERE pod = 'orders-7f9c6d-x2k1' AND status >= 500",  # fx-c03-query-b
    "SELECT count(*) FROM logs WHERE status >= 503 AND pod = 'orders-5d8b7c-q9z3z'",  # fx-c10-query
)
FX_QUERY_DQL = (
    'fetch logs | filter service == "orders" and trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"'
    " | limit 100",  # fx-c08-tie-b
    'fetch logs | filter trace_id == "00f067aa0ba902b7a3ce929d0e0e4736" and service == "orders"'
    " | limit 100",  # fx-c24-query
)
FX_QUERY_PHRASES = (
    'service:orders AND message:"timeout exceeded"',  # fx-c04-query
    'service:orders AND message:"connection refused"',  # fx-c12-query: another canonical query
)


def _plant(p: _Planter) -> None:  # noqa: PLR0915 - one long, flat list of cases
    """The hand-planted cases (account 900001, and 900002 for the foreign orphan)."""
    used, outside, orphan, before, fired, after = (
        schema.R_IN_SESSION, schema.R_OUTSIDE_SESSION, schema.R_ORPHAN_OPEN, schema.R_BEFORE_WINDOW,
        schema.R_FIRED_IN_WINDOW, schema.R_AFTER_WINDOW)
    DASH, QUERY, OPEN, RES = (schema.DASHBOARD_OPENED, schema.QUERY_RUN, schema.ALERT_OPENED,
                              schema.ALERT_RESOLVED)

    p.case("C01", "idle gap of exactly 30 min stays in the session", """
        fx-c01-query comes exactly 30 min after fx-c01-dash: not more than idle_timeout, so it stays in
        the session, which is then resolved by fx-c01-resolve (duration 33 min, 2 items).""")
    p.alert("fx-ae-01", _FX_5XX, "2026-01-10 09:00:00", fired)
    p.act("fx-c01-open", "fx-u01", "2026-01-10 09:02:00", OPEN, _p_open("fx-ae-01", _FX_5XX), used)
    p.act("fx-c01-dash", "fx-u01", "2026-01-10 09:03:00", DASH, _p_dash("dsh-fx-checkout"), used)
    p.act("fx-c01-query", "fx-u01", "2026-01-10 09:33:00", QUERY, _p_query(FX_QUERY_CHECKOUT[0]), used)
    p.act("fx-c01-resolve", "fx-u01", "2026-01-10 09:35:00", RES, _p_resolve("fx-ae-01"), used)
    p.session("fx-c01-open", "fx-ae-01", _FX_5XX, schema.END_RESOLVED,
              items=("fx-c01-dash", "fx-c01-query"), others=("fx-c01-resolve",))

    p.case("C02", "idle gap of 30 min + 1 microsecond ends the session", """
        fx-c02-query comes 30 min + 1 us after fx-c02-dash: the session ends at fx-c02-dash
        (end_reason idle_timeout, duration 60 s, 1 item) and fx-c02-query is outside_session.""")
    p.alert("fx-ae-02", _FX_5XX, "2026-01-11 10:00:00", fired)
    p.act("fx-c02-open", "fx-u02", "2026-01-11 10:01:00", OPEN, _p_open("fx-ae-02", _FX_5XX), used)
    p.act("fx-c02-dash", "fx-u02", "2026-01-11 10:02:00", DASH, _p_dash("dsh-fx-checkout"), used)
    p.act("fx-c02-query", "fx-u02", "2026-01-11 10:32:00.000001", QUERY,
          _p_query("service:checkout AND level:error"), outside)
    p.session("fx-c02-open", "fx-ae-02", _FX_5XX, schema.END_IDLE, items=("fx-c02-dash",))

    p.case("C03", "the user's next alert_opened ends the session (rows written in reverse order)", """
        fx-c03-open-b (another firing, fx-ae-03b) ends session fx-c03-open-a at fx-c03-dash-a
        (end_reason next_alert_opened, 1 item) and starts session fx-c03-open-b, resolved by
        fx-c03-resolve-b. The five rows are written in reverse ts order in dt=2026-01-12. fx-ae-03b
        carries the definition's old title 'Consumer lag on orders'.""")
    p.alert("fx-ae-03a", _FX_5XX, "2026-01-12 08:00:00", fired)
    p.alert("fx-ae-03b", _FX_LAG, "2026-01-12 08:10:00", fired, title=_FX_OLD_LAG_TITLE, severity="MEDIUM")
    p.act("fx-c03-open-a", "fx-u03", "2026-01-12 08:01:00", OPEN, _p_open("fx-ae-03a", _FX_5XX), used)
    p.act("fx-c03-dash-a", "fx-u03", "2026-01-12 08:02:00", DASH, _p_dash("dsh-fx-checkout"), used)
    p.act("fx-c03-open-b", "fx-u03", "2026-01-12 08:11:00", OPEN,
          _p_open("fx-ae-03b", _FX_LAG, "pagerduty"), used)
    p.act("fx-c03-query-b", "fx-u03", "2026-01-12 08:12:00", QUERY,
          _p_query(FX_QUERY_SQL[0], "sql", "warehouse", "orders"), used)
    p.act("fx-c03-resolve-b", "fx-u03", "2026-01-12 08:14:00", RES, _p_resolve("fx-ae-03b"), used)
    p.session("fx-c03-open-a", "fx-ae-03a", _FX_5XX, schema.END_NEXT_OPEN, items=("fx-c03-dash-a",))
    p.session("fx-c03-open-b", "fx-ae-03b", _FX_LAG, schema.END_RESOLVED, items=("fx-c03-query-b",),
              others=("fx-c03-resolve-b",))
    p.reverse_in_file.append(("fx-c03-open-a", "fx-c03-dash-a", "fx-c03-open-b", "fx-c03-query-b",
                              "fx-c03-resolve-b"))

    p.case("C04", "an orphan alert_opened ends the user's session", """
        fx-c04-orphan names the unknown firing ae-fx-unknown-1: it is an orphan_alert_opened, it ends
        session fx-c04-open at fx-c04-query (end_reason next_alert_opened, 1 item) and starts nothing,
        so fx-c04-dash is outside_session.""")
    p.alert("fx-ae-04", _FX_LAG, "2026-01-13 14:00:00", fired, title=_FX_OLD_LAG_TITLE, severity="MEDIUM")
    p.act("fx-c04-open", "fx-u04", "2026-01-13 14:01:00", OPEN, _p_open("fx-ae-04", _FX_LAG), used)
    p.act("fx-c04-query", "fx-u04", "2026-01-13 14:03:00", QUERY,
          _p_query(FX_QUERY_PHRASES[0], service="orders"), used)
    p.act("fx-c04-orphan", "fx-u04", "2026-01-13 14:05:00", OPEN, _p_open("ae-fx-unknown-1", _FX_LAG), orphan)
    p.act("fx-c04-dash", "fx-u04", "2026-01-13 14:06:00", DASH, _p_dash("dsh-fx-orders"), outside)
    p.session("fx-c04-open", "fx-ae-04", _FX_LAG, schema.END_NEXT_OPEN, items=("fx-c04-query",))

    p.case("C05", "resolved by its own firing; a resolve of another firing does not end it", """
        fx-c05-resolve-other resolves fx-ae-05x (another firing): it stays in the session (in_session,
        not an item) and does not end it. fx-c05-resolve resolves fx-ae-05 and ends the session
        (resolved, 2 items, duration 7 min); fx-c05-after is outside_session. The alert row of fx-ae-05
        is written twice (identical): one copy counts, the other is a duplicate.""")
    p.alert("fx-ae-05x", _FX_LAG, "2026-01-14 15:50:00", fired, severity="MEDIUM")
    p.alert("fx-ae-05", _FX_5XX, "2026-01-14 16:00:00", fired)
    p.alert("fx-ae-05", _FX_5XX, "2026-01-14 16:00:00", schema.R_DUPLICATE)
    p.act("fx-c05-open", "fx-u05", "2026-01-14 16:02:00", OPEN, _p_open("fx-ae-05", _FX_5XX, "email"), used)
    p.act("fx-c05-dash", "fx-u05", "2026-01-14 16:03:00", DASH, _p_dash("dsh-fx-checkout"), used)
    p.act("fx-c05-resolve-other", "fx-u05", "2026-01-14 16:05:00", RES, _p_resolve("fx-ae-05x"), used)
    p.act("fx-c05-query", "fx-u05", "2026-01-14 16:07:00", QUERY, _p_query(FX_QUERY_CHECKOUT[1]), used)
    p.act("fx-c05-resolve", "fx-u05", "2026-01-14 16:09:00", RES, _p_resolve("fx-ae-05"), used)
    p.act("fx-c05-after", "fx-u05", "2026-01-14 16:10:00", DASH, _p_dash("dsh-fx-pg"), outside)
    p.session("fx-c05-open", "fx-ae-05", _FX_5XX, schema.END_RESOLVED,
              items=("fx-c05-dash", "fx-c05-query"), others=("fx-c05-resolve-other", "fx-c05-resolve"))

    p.case("C06", "max_duration: an event at exactly 4 h belongs, the next one does not", """
        Events every 24 min after fx-c06-open (06:00:30); fx-c06-10 is exactly 4 h after the start and
        is the session's last event (end_reason max_duration, duration 14400 s, 10 items); fx-c06-11
        (4 h 20 min after the start, 20 min after fx-c06-10) is outside_session.""")
    p.alert("fx-ae-06", _FX_LAG, "2026-01-15 06:00:00", fired, severity="MEDIUM")
    p.act("fx-c06-open", "fx-u06", "2026-01-15 06:00:30", OPEN, _p_open("fx-ae-06", _FX_LAG), used)
    start = pd.Timestamp("2026-01-15 06:00:30")
    c06_items = []
    for k in range(1, 12):
        at = (start + pd.Timedelta(minutes=24 * k if k <= 10 else 260)).isoformat(sep=" ")
        event_id = f"fx-c06-{k:02d}"
        payload = (_p_dash("dsh-fx-kafka") if k % 2 else
                   _p_query(f"service:orders AND kafka.offset:{1000 + 37 * k}", service="orders"))
        p.act(event_id, "fx-u06", at, DASH if k % 2 else QUERY, payload, used if k <= 10 else outside)
        if k <= 10:
            c06_items.append(event_id)
    p.session("fx-c06-open", "fx-ae-06", _FX_LAG, schema.END_MAX_DURATION, items=c06_items)

    p.case("C07", "a session still open at D 00:00 is cut at the window end", """
        fx-c07-query (23:59:59.999999, received in dt=2026-02-01) is the last event in the window;
        fx-c07-at-d (exactly 2026-02-01 00:00:00, dt=2026-02-01) and fx-c07-resolve (00:05) are
        after_window and ignored. The session ends at fx-c07-query, not resolved (end_reason
        window_end, 2 items).""")
    p.alert("fx-ae-07", _FX_5XX, "2026-01-31 23:40:00", fired)
    p.act("fx-c07-open", "fx-u07", "2026-01-31 23:41:00", OPEN, _p_open("fx-ae-07", _FX_5XX), used)
    p.act("fx-c07-dash", "fx-u07", "2026-01-31 23:50:00", DASH, _p_dash("dsh-fx-checkout"), used)
    p.act("fx-c07-query", "fx-u07", "2026-01-31 23:59:59.999999", QUERY,
          _p_query("service:checkout AND level:error AND status:502"), used, dt_="2026-02-01")
    p.act("fx-c07-at-d", "fx-u07", "2026-02-01 00:00:00", DASH, _p_dash("dsh-fx-deploys"), after)
    p.act("fx-c07-resolve", "fx-u07", "2026-02-01 00:05:00", RES, _p_resolve("fx-ae-07"), after)
    p.session("fx-c07-open", "fx-ae-07", _FX_5XX, schema.END_WINDOW, items=("fx-c07-dash", "fx-c07-query"))

    p.case("C08", "two items with the same ts are ordered by event_id", """
        fx-c08-tie-a (dashboard) and fx-c08-tie-b (query) share ts 11:02:00 and are written b first;
        ordered by (ts, event_id) the dashboard is seq 0 and the query seq 1. Resolved, 2 items.""")
    p.alert("fx-ae-08", _FX_LAG, "2026-01-16 11:00:00", fired, severity="MEDIUM")
    p.act("fx-c08-open", "fx-u08", "2026-01-16 11:01:00", OPEN, _p_open("fx-ae-08", _FX_LAG), used)
    p.act("fx-c08-tie-a", "fx-u08", "2026-01-16 11:02:00", DASH, _p_dash("dsh-fx-kafka"), used)
    p.act("fx-c08-tie-b", "fx-u08", "2026-01-16 11:02:00", QUERY,
          _p_query(FX_QUERY_DQL[0], "dql", "logs", "orders"), used)
    p.act("fx-c08-resolve", "fx-u08", "2026-01-16 11:04:00", RES, _p_resolve("fx-ae-08"), used)
    p.session("fx-c08-open", "fx-ae-08", _FX_LAG, schema.END_RESOLVED, items=("fx-c08-tie-a", "fx-c08-tie-b"),
              others=("fx-c08-resolve",))
    p.reverse_in_file.append(("fx-c08-tie-a", "fx-c08-tie-b"))

    p.case("C09", "a firing of the lookback day opened just after the window start", """
        fx-ae-09 fired 2026-01-03 23:50 (dt=2026-01-03, the lookback day): fired_in_lookback.
        fx-c09-pre-open (dt=2026-01-03) is in a partition the run does not read; fx-c09-pre-dash
        (ts 2026-01-03 23:58, received in dt=2026-01-04) is before_window. Session fx-c09-open
        (2026-01-04 00:01) belongs to alr-fx-5xx through the lookback firing; resolved, 1 item.""")
    p.alert("fx-ae-09", _FX_5XX, "2026-01-03 23:50:00", schema.R_FIRED_IN_LOOKBACK)
    p.act("fx-c09-pre-open", "fx-u09", "2026-01-03 23:52:00", OPEN, _p_open("fx-ae-09", _FX_5XX), NOT_READ)
    p.act("fx-c09-pre-dash", "fx-u09", "2026-01-03 23:58:00", DASH, _p_dash("dsh-fx-checkout"), before,
          dt_="2026-01-04")
    p.act("fx-c09-open", "fx-u09", "2026-01-04 00:01:00", OPEN, _p_open("fx-ae-09", _FX_5XX), used)
    p.act("fx-c09-query", "fx-u09", "2026-01-04 00:03:00", QUERY, _p_query(FX_QUERY_CHECKOUT[2]), used)
    p.act("fx-c09-resolve", "fx-u09", "2026-01-04 00:06:00", RES, _p_resolve("fx-ae-09"), used)
    p.session("fx-c09-open", "fx-ae-09", _FX_5XX, schema.END_RESOLVED, items=("fx-c09-query",),
              others=("fx-c09-resolve",))

    p.case("C10", "late events (received 1 and 2 days after their ts)", """
        fx-c10-dash is in dt=2026-01-21 and fx-c10-query in dt=2026-01-22 although both happened on
        2026-01-20: they belong to the session like the others. fx-c10-open has no alert_id in its
        payload (informational only). Resolved, 2 items.""")
    p.alert("fx-ae-10", _FX_LAG, "2026-01-20 12:00:00", fired, severity="MEDIUM")
    p.act("fx-c10-open", "fx-u10", "2026-01-20 12:01:00", OPEN, _p_open("fx-ae-10", None, "ui"), used)
    p.act("fx-c10-dash", "fx-u10", "2026-01-20 12:03:00", DASH, _p_dash("dsh-fx-orders"), used,
          dt_="2026-01-21")
    p.act("fx-c10-query", "fx-u10", "2026-01-20 12:05:00", QUERY,
          _p_query(FX_QUERY_SQL[1], "sql", "warehouse", "orders"), used, dt_="2026-01-22")
    p.act("fx-c10-resolve", "fx-u10", "2026-01-20 12:07:00", RES, _p_resolve("fx-ae-10"), used)
    p.session("fx-c10-open", "fx-ae-10", _FX_LAG, schema.END_RESOLVED, items=("fx-c10-dash", "fx-c10-query"),
              others=("fx-c10-resolve",))

    p.case("C11", "duplicate event_ids: same partition, across partitions, differing copies", """
        fx-c11-dup-same: two identical rows in dt=2026-01-21 (one in_session, one duplicate).
        fx-c11-dup-cross: identical rows in dt=2026-01-21 and dt=2026-01-22 (the 01-21 one counts).
        fx-c11-dup-dt: the copy in dt=2026-01-21 (dsh-fx-deploys) wins over the copy in dt=2026-01-23
        (dsh-fx-aaa-stale) although its payload text is larger: earliest dt first.
        fx-c11-dup-text: two differing copies in dt=2026-01-21; the one with the smaller payload text
        (level:error) wins over the one written first (level:warn). The alert row fx-ae-11 also has a
        copy titled 'High 5xx rate on checkout (copy)', which loses (smaller alert_title wins).
        Resolved, 4 items: dsh-fx-checkout, the level:error query, dsh-fx-deploys, the level:error
        http.route query.""")
    p.alert("fx-ae-11", _FX_5XX, "2026-01-21 09:00:00", fired)
    p.alert("fx-ae-11", _FX_5XX, "2026-01-21 09:00:00", schema.R_DUPLICATE,
            title=_FX_TITLES[_FX_5XX] + " (copy)")
    p.act("fx-c11-open", "fx-u11", "2026-01-21 09:01:00", OPEN, _p_open("fx-ae-11", _FX_5XX), used)
    for expect in (used, schema.R_DUPLICATE):
        p.act("fx-c11-dup-same", "fx-u11", "2026-01-21 09:02:00", DASH, _p_dash("dsh-fx-checkout"), expect)
    p.act("fx-c11-dup-cross", "fx-u11", "2026-01-21 09:04:00", QUERY,
          _p_query("service:checkout AND level:error"), used)
    p.act("fx-c11-dup-cross", "fx-u11", "2026-01-21 09:04:00", QUERY,
          _p_query("service:checkout AND level:error"), schema.R_DUPLICATE, dt_="2026-01-22")
    p.act("fx-c11-dup-dt", "fx-u11", "2026-01-21 09:06:00", DASH, _p_dash("dsh-fx-deploys"), used)
    p.act("fx-c11-dup-dt", "fx-u11", "2026-01-21 09:06:00", DASH, _p_dash("dsh-fx-aaa-stale"),
          schema.R_DUPLICATE, dt_="2026-01-23")
    p.act("fx-c11-dup-text", "fx-u11", "2026-01-21 09:07:00", QUERY,
          _p_query('service:checkout AND level:warn AND http.route:"/api/cart"'), schema.R_DUPLICATE)
    p.act("fx-c11-dup-text", "fx-u11", "2026-01-21 09:07:00", QUERY,
          _p_query('service:checkout AND level:error AND http.route:"/api/cart"'), used)
    p.act("fx-c11-resolve", "fx-u11", "2026-01-21 09:09:00", RES, _p_resolve("fx-ae-11"), used)
    p.session("fx-c11-open", "fx-ae-11", _FX_5XX, schema.END_RESOLVED,
              items=("fx-c11-dup-same", "fx-c11-dup-cross", "fx-c11-dup-dt", "fx-c11-dup-text"),
              others=("fx-c11-resolve",))

    p.case("C12", "malformed, truncated and incomplete payloads inside a session count for the gaps", """
        Between fx-c12-open (15:01) and fx-c12-query (17:06) there are only quarantined rows, 25 min
        apart: fx-c12-malformed (not JSON) and fx-c12-truncated (cut JSON) are malformed_payload,
        fx-c12-dash-noid (dashboard without id) and fx-c12-query-notext (query without text) are
        missing_payload_field. They keep the session alive: resolved at 17:08 (duration 7620 s) with
        1 item, fx-c12-query.""")
    p.alert("fx-ae-12", _FX_LAG, "2026-01-22 15:00:00", fired, severity="MEDIUM")
    truncated = _p_query("service:orders AND level:error", service="orders")
    p.act("fx-c12-open", "fx-u12", "2026-01-22 15:01:00", OPEN, _p_open("fx-ae-12", _FX_LAG), used)
    p.act("fx-c12-malformed", "fx-u12", "2026-01-22 15:26:00", DASH, "not json {dashboard: dsh-fx-orders",
          schema.R_MALFORMED_PAYLOAD)
    p.act("fx-c12-truncated", "fx-u12", "2026-01-22 15:51:00", QUERY, truncated[:48],
          schema.R_MALFORMED_PAYLOAD)
    p.act("fx-c12-dash-noid", "fx-u12", "2026-01-22 16:16:00", DASH,
          _p_dash(None, "Service overview: orders"), schema.R_MISSING_PAYLOAD_FIELD)
    p.act("fx-c12-query-notext", "fx-u12", "2026-01-22 16:41:00", QUERY, _p_query(None, service="orders"),
          schema.R_MISSING_PAYLOAD_FIELD)
    p.act("fx-c12-query", "fx-u12", "2026-01-22 17:06:00", QUERY,
          _p_query(FX_QUERY_PHRASES[1], service="orders"), used)
    p.act("fx-c12-resolve", "fx-u12", "2026-01-22 17:08:00", RES, _p_resolve("fx-ae-12"), used)
    p.session("fx-c12-open", "fx-ae-12", _FX_LAG, schema.END_RESOLVED, items=("fx-c12-query",),
              others=("fx-c12-resolve",),
              gap_events=("fx-c12-malformed", "fx-c12-truncated", "fx-c12-dash-noid", "fx-c12-query-notext"))

    p.case("C13", "alert_opened without alert_event_id", """
        fx-c13-open-noaeid has no alert_event_id: missing_payload_field; it starts no session (the user
        has none open), so fx-c13-dash is outside_session.""")
    p.act("fx-c13-open-noaeid", "fx-u13", "2026-01-23 10:00:00", OPEN, _p_open(None, _FX_5XX, "ui"),
          schema.R_MISSING_PAYLOAD_FIELD)
    p.act("fx-c13-dash", "fx-u13", "2026-01-23 10:02:00", DASH, _p_dash("dsh-fx-checkout"), outside)

    p.case("C14", "unknown actions inside a session; optional payload fields missing", """
        fx-c14-pageview (page_view) and fx-c14-settings (settings_changed) are unknown_action, never
        items, but they count for the gaps: without them fx-c14-dash-notitle would come 74 min after
        the start. fx-c14-open's payload names alert_id alr-fx-stale: the session still belongs to
        alr-fx-5xx (the alerts table decides). fx-c14-dash-notitle has no title (item_title null) and
        fx-c14-query-nolang no language (query_language null); both are items. Resolved, duration 77
        min.""")
    p.alert("fx-ae-14", _FX_5XX, "2026-01-24 13:00:00", fired)
    p.act("fx-c14-open", "fx-u14", "2026-01-24 13:01:00", OPEN, _p_open("fx-ae-14", "alr-fx-stale"), used)
    p.act("fx-c14-pageview", "fx-u14", "2026-01-24 13:25:00", "page_view", '{"path": "/app/alerts"}',
          schema.R_UNKNOWN_ACTION)
    p.act("fx-c14-settings", "fx-u14", "2026-01-24 13:50:00", "settings_changed",
          '{"setting": "theme", "value": "dark"}', schema.R_UNKNOWN_ACTION)
    p.act("fx-c14-dash-notitle", "fx-u14", "2026-01-24 14:15:00", DASH, _p_dash("dsh-fx-checkout", ""), used)
    p.act("fx-c14-query-nolang", "fx-u14", "2026-01-24 14:16:00", QUERY,
          _p_query("service:checkout AND level:error AND status:503", None), used)
    p.act("fx-c14-resolve", "fx-u14", "2026-01-24 14:18:00", RES, _p_resolve("fx-ae-14"), used)
    p.session("fx-c14-open", "fx-ae-14", _FX_5XX, schema.END_RESOLVED,
              items=("fx-c14-dash-notitle", "fx-c14-query-nolang"), others=("fx-c14-resolve",),
              gap_events=("fx-c14-pageview", "fx-c14-settings"))

    p.case("C15", "orphan alert_opened: unknown firing, and a firing of another account", """
        fx-c15-orphan names ae-fx-unknown-2, which exists nowhere; fx-c15-foreign (user of account
        900002) names fx-ae-01, a firing of account 900001. Both are orphan_alert_opened and start no
        session; fx-c15-dash and fx-c15-foreign-query are outside_session. fx-ae-b1 is the only firing
        of account 900002 (alr-fx-cpu, never opened).""")
    p.alert("fx-ae-b1", _FX_CPU, "2026-01-25 08:30:00", fired, account=FIXTURE_OTHER_ACCOUNT, severity="LOW")
    p.act("fx-c15-orphan", "fx-u15", "2026-01-25 08:00:00", OPEN, _p_open("ae-fx-unknown-2", _FX_5XX), orphan)
    p.act("fx-c15-dash", "fx-u15", "2026-01-25 08:02:00", DASH, _p_dash("dsh-fx-checkout"), outside)
    p.act("fx-c15-foreign", "fx-u16", "2026-01-25 09:00:00", OPEN, _p_open("fx-ae-01", _FX_5XX), orphan,
          account=FIXTURE_OTHER_ACCOUNT)
    p.act("fx-c15-foreign-query", "fx-u16", "2026-01-25 09:02:00", QUERY,
          _p_query("service:search AND level:error", service="search"), outside, account=FIXTURE_OTHER_ACCOUNT)

    p.case("C16", "null user_id", """
        fx-c16-null-dash and fx-c16-null-open have a null user_id: quarantined as null_user_id; no
        session starts.""")
    p.act("fx-c16-null-dash", None, "2026-01-26 10:00:00", DASH, _p_dash("dsh-fx-orders"), schema.R_NULL_USER)
    p.act("fx-c16-null-open", None, "2026-01-26 10:01:00", OPEN, _p_open("fx-ae-12", _FX_LAG),
          schema.R_NULL_USER)

    p.case("C17", "rows out of ts order within a file", """
        The rows of C03 are written in reverse ts order in dt=2026-01-12 and fx-c08-tie-b comes
        before fx-c08-tie-a in dt=2026-01-16; the generated part has more (rows moved by 1 min to 2
        h). Outcomes are those of C03 and C08: order comes from (ts,
        event_id), never from the file.""")
    p.cases[-1].event_ids.extend(["fx-c03-*", "fx-c08-tie-a", "fx-c08-tie-b"])

    p.case("C18", "10 KB query texts", """
        fx-c18-big-sql (SQL with 300 trace ids in an IN list) and fx-c18-big-lucene (Lucene with 260
        trace.id terms) are each longer than 10,240 characters; both are items of the resolved
        session fx-c18-open.""")
    p.alert("fx-ae-18", _FX_LAG, "2026-01-27 07:00:00", fired, severity="MEDIUM")
    ids_sql = ", ".join(f"'{t}'" for t in _fx_trace_ids(300, "sql"))
    big_sql = ("SELECT ts, trace_id, status FROM spans WHERE service = 'orders' AND trace_id IN ("
               + ids_sql + ")")
    big_lucene = "service:orders AND (" + " OR ".join(f"trace.id:{t}" for t in _fx_trace_ids(260, "lq")) + ")"
    p.act("fx-c18-open", "fx-u17", "2026-01-27 07:01:00", OPEN, _p_open("fx-ae-18", _FX_LAG), used)
    p.act("fx-c18-big-sql", "fx-u17", "2026-01-27 07:03:00", QUERY,
          _p_query(big_sql, "sql", "warehouse", "orders"), used)
    p.act("fx-c18-big-lucene", "fx-u17", "2026-01-27 07:05:00", QUERY, _p_query(big_lucene, service="orders"),
          used)
    p.act("fx-c18-resolve", "fx-u17", "2026-01-27 07:07:00", RES, _p_resolve("fx-ae-18"), used)
    p.session("fx-c18-open", "fx-ae-18", _FX_LAG, schema.END_RESOLVED,
              items=("fx-c18-big-sql", "fx-c18-big-lucene"), others=("fx-c18-resolve",))

    p.case("C19", "one canonical query, used with other literals and term order", """
        fx-c01-query, fx-c05-query and fx-c09-query are the same Lucene query (host literal and term
        order differ); fx-c03-query-b and fx-c10-query the same SQL query (pod and number literals,
        term order); fx-c08-tie-b and fx-c24-query the same DQL query (trace id, term order): each
        group must get one item_id. fx-c04-query and fx-c12-query differ only in a quoted phrase
        ("timeout exceeded" vs "connection refused"): two different queries, as are the level:warn /
        level:error copies of C11.""")
    p.cases[-1].event_ids.extend(["fx-c01-query", "fx-c05-query", "fx-c09-query", "fx-c03-query-b",
                                  "fx-c10-query", "fx-c08-tie-b", "fx-c24-query", "fx-c04-query",
                                  "fx-c12-query"])

    p.case("C20", "a definition that fired in the window but was never investigated (borrowing)", """
        alr-fx-5xx-v2 'High 5xx rate on checkout-v2' fired twice in the window and nobody opened it; it
        must still get recommendations, borrowed from the similar alr-fx-5xx 'High 5xx rate on
        checkout' of the same account.""")
    p.alert("fx-ae-20a", _FX_5XX_V2, "2026-01-30 03:00:00", fired)
    p.alert("fx-ae-20b", _FX_5XX_V2, "2026-01-31 18:00:00", fired)

    p.case("C21", "alert rows: null alert_id; an alert_opened naming that firing", """
        The alert row fx-ae-nullid has a null alert_id: missing_required_field. The firing is therefore
        unknown and fx-c21-open, which names it, is an orphan_alert_opened; fx-c21-dash is
        outside_session. (Duplicated alert rows: fx-ae-05 in C05, fx-ae-11 in C11.)""")
    p.alert("fx-ae-nullid", None, "2026-01-18 12:00:00", schema.R_MISSING_REQUIRED,
            title=_FX_TITLES[_FX_5XX])
    p.act("fx-c21-open", "fx-u18", "2026-01-18 12:05:00", OPEN, _p_open("fx-ae-nullid", _FX_5XX), orphan)
    p.act("fx-c21-dash", "fx-u18", "2026-01-18 12:06:00", DASH, _p_dash("dsh-fx-checkout"), outside)

    p.case("C22", "action rows with a null required field", """
        fx-c22-null-action (null action), fx-c22-null-ts (null ts, in dt=2026-01-19) and a dashboard row
        with a null event_id (user fx-u19, 2026-01-19 09:05) are missing_required_field.""")
    p.act("fx-c22-null-action", "fx-u19", "2026-01-19 09:00:00", None, _p_dash("dsh-fx-orders"),
          schema.R_MISSING_REQUIRED)
    p.act("fx-c22-null-ts", "fx-u19", None, QUERY, _p_query("service:orders AND level:error"),
          schema.R_MISSING_REQUIRED, dt_="2026-01-19")
    p.act(None, "fx-u19", "2026-01-19 09:05:00", DASH, _p_dash("dsh-fx-orders"), schema.R_MISSING_REQUIRED)

    p.case("C23", "partitions the run for D does not read; firings outside the window", """
        fx-c23-unread (ts 2026-01-31 12:00, received in dt=2026-02-02 > D) and the alert row fx-ae-old
        (dt=2026-01-02, before the lookback day) are not read and not counted. fx-ae-cert
        (alr-fx-cert, fired 2026-02-01 01:00, dt=2026-02-01) is after_window: alr-fx-cert did not fire
        in the window and gets no rows.""")
    p.alert("fx-ae-old", _FX_LAG, "2026-01-02 12:00:00", NOT_READ, severity="MEDIUM")
    p.alert("fx-ae-cert", _FX_CERT, "2026-02-01 01:00:00", after, severity="LOW")
    p.act("fx-c23-unread", "fx-u20", "2026-01-31 12:00:00", DASH, _p_dash("dsh-fx-checkout"), NOT_READ,
          dt_="2026-02-02")

    p.case("C24", "late events received in the partition of D", """
        fx-c24-query (ts 2026-01-30 20:03) arrives 2 days late in dt=2026-02-01 and fx-c24-dash
        (20:05) 1 day late in dt=2026-01-31; both belong to the resolved session fx-c24-open (items
        in ts order: the query, then the dashboard).""")
    p.alert("fx-ae-24", _FX_LAG, "2026-01-30 20:00:00", fired, severity="MEDIUM")
    p.act("fx-c24-open", "fx-u21", "2026-01-30 20:01:00", OPEN, _p_open("fx-ae-24", _FX_LAG), used)
    p.act("fx-c24-query", "fx-u21", "2026-01-30 20:03:00", QUERY,
          _p_query(FX_QUERY_DQL[1], "dql", "logs", "orders"), used, dt_="2026-02-01")
    p.act("fx-c24-dash", "fx-u21", "2026-01-30 20:05:00", DASH, _p_dash("dsh-fx-kafka"), used,
          dt_="2026-01-31")
    p.act("fx-c24-resolve", "fx-u21", "2026-01-30 20:07:00", RES, _p_resolve("fx-ae-24"), used)
    p.session("fx-c24-open", "fx-ae-24", _FX_LAG, schema.END_RESOLVED, items=("fx-c24-query", "fx-c24-dash"),
              others=("fx-c24-resolve",))


# Definitions of the planted accounts that fired in the window (the expected `fired` rows).
_FX_FIRED = (
    (FIXTURE_ACCOUNT, _FX_5XX, _FX_TITLES[_FX_5XX], 7, "2026-01-31T23:40:00Z"),
    (FIXTURE_ACCOUNT, _FX_5XX_V2, _FX_TITLES[_FX_5XX_V2], 2, "2026-01-31T18:00:00Z"),
    (FIXTURE_ACCOUNT, _FX_LAG, _FX_TITLES[_FX_LAG], 9, "2026-01-30T20:00:00Z"),
    (FIXTURE_OTHER_ACCOUNT, _FX_CPU, _FX_TITLES[_FX_CPU], 1, "2026-01-25T08:30:00Z"),
)


def _planted() -> _Planter:
    planter = _Planter()
    _plant(planter)
    return planter


def _planted_frames(planter: _Planter) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The planted rows as alerts/actions frames in file order."""
    alerts = pd.DataFrame(planter.alerts).drop(columns="expect")
    alerts = alerts.sort_values([schema.DT, schema.FIRED_AT], kind="stable").reset_index(drop=True)
    actions = pd.DataFrame(planter.actions).drop(columns="expect")
    actions = actions.sort_values([schema.DT, schema.TS, schema.EVENT_ID], kind="stable",
                                  na_position="last").reset_index(drop=True)
    for block in planter.reverse_in_file:
        positions = np.flatnonzero(actions[schema.EVENT_ID].isin(block).to_numpy())
        actions.iloc[positions] = actions.iloc[positions[::-1]].to_numpy()
    for frame in (alerts, actions):
        frame[schema.ACCOUNT_ID] = frame[schema.ACCOUNT_ID].astype(np.int64)
    actions[schema.TS] = pd.to_datetime(actions[schema.TS], utc=True).astype("datetime64[ns, UTC]")
    alerts[schema.FIRED_AT] = pd.to_datetime(alerts[schema.FIRED_AT], utc=True).astype("datetime64[ns, UTC]")
    alerts = alerts.astype({schema.ALERT_ID: object})
    actions = actions.astype({schema.EVENT_ID: object, schema.USER_ID: object, schema.ACTION: object})
    return alerts[[*schema.ALERT_COLUMNS, schema.DT]], actions[[*schema.ACTION_COLUMNS, schema.DT]]


def fixture_world() -> World:
    """The bundled fixture world: ``FIXTURE_SPEC`` generated with ``FIXTURE_SEED`` plus the planted rows.

    Returns
    -------
    World
        ``truth``, ``users`` and ``planned_sessions`` describe the generated
        part only; the planted cases are documented in ``data/fixtures/README.md``
        and ``data/fixtures/planted.json``.
    """
    world = generate_world(FIXTURE_SPEC, FIXTURE_SEED)
    planted_alerts, planted_actions = _planted_frames(_planted())
    alerts = pd.concat([world.alerts, planted_alerts], ignore_index=True)
    actions = pd.concat([world.actions, planted_actions], ignore_index=True)
    return dataclasses.replace(world, alerts=alerts, actions=actions)


def make_fixtures(root: str | Path) -> None:
    """Write the bundled fixtures: inputs, README.md and planted.json.

    ``root/alerts/`` and ``root/actions/`` are replaced whole; the output
    depends on nothing but this module, so running it again gives the same
    bytes (a test checks ``data/fixtures`` against a fresh copy).

    Parameters
    ----------
    root : str or pathlib.Path
        Usually ``data/fixtures``.
    """
    root = Path(root)
    world = fixture_world()
    for name in (schema.DATASET_ALERTS, schema.DATASET_ACTIONS):
        shutil.rmtree(root / name, ignore_errors=True)
    write_world(world, root)
    planter = _planted()
    (root / "planted.json").write_text(_compact_json(_expected(planter)), encoding="utf-8")
    (root / "README.md").write_text(_readme(world, planter), encoding="utf-8")


def _expected(planter: _Planter) -> dict[str, object]:
    """planted.json: the expected outcome of every planted row and session."""
    actions: dict[str, list[str]] = {}
    without_id = []
    for row in planter.actions:
        if row[schema.EVENT_ID] is None:
            without_id.append({schema.USER_ID: row[schema.USER_ID], schema.TS: _iso(row[schema.TS]),
                               schema.DT: row[schema.DT], "reason": row["expect"]})
            continue
        actions.setdefault(str(row[schema.EVENT_ID]), []).append(
            {schema.DT: row[schema.DT], "reason": row["expect"]})
    alerts: dict[str, list[dict[str, str]]] = {}
    for row in planter.alerts:
        alerts.setdefault(str(row[schema.ALERT_EVENT_ID]), []).append(
            {schema.DT: row[schema.DT], "reason": row["expect"]})
    action_counts: dict[str, int] = {}
    for row in planter.actions:
        action_counts[str(row["expect"])] = action_counts.get(str(row["expect"]), 0) + 1
    alert_counts: dict[str, int] = {}
    for row in planter.alerts:
        alert_counts[str(row["expect"])] = alert_counts.get(str(row["expect"]), 0) + 1
    return {
        "day": FIXTURE_DAY.isoformat(),
        "window": [_iso(_ts(FIXTURE_DAY - dt.timedelta(days=FIXTURE_SPEC.days))), _iso(_ts(FIXTURE_DAY))],
        "accounts": [FIXTURE_ACCOUNT, FIXTURE_OTHER_ACCOUNT],
        "note": ("Expected outcomes for the planted accounts only. actions/alerts: per id, one "
                 "{dt, reason} per row (reasons of schema.ACTION_REASONS / ALERT_REASONS, or "
                 "'not_read' for partitions outside what the run for day reads). sessions: "
                 "in_session_event_ids are the rows accounted in_session; gap_only_event_ids are "
                 "quarantined/ignored rows of the user that fall inside the session and keep it alive."),
        "action_reason_counts": dict(sorted(action_counts.items())),
        "alert_reason_counts": dict(sorted(alert_counts.items())),
        "actions": actions,
        "actions_without_event_id": without_id,
        "alerts": alerts,
        "sessions": planter.sessions,
        "fired": [
            {schema.ACCOUNT_ID: a, schema.ALERT_ID: i, schema.ALERT_TITLE: t, schema.N_FIRINGS: n,
             schema.LAST_FIRED_AT: last}
            for a, i, t, n, last in _FX_FIRED
        ],
        "same_canonical_query": [list(FX_QUERY_CHECKOUT), list(FX_QUERY_SQL), list(FX_QUERY_DQL)],
        "different_canonical_queries": [list(FX_QUERY_PHRASES)],
    }


def _compact_json(doc: dict[str, object]) -> str:
    """JSON with one line per entry of each top-level dict or list (diff-friendly, small)."""
    lines = ["{"]
    for i, (key, value) in enumerate(doc.items()):
        comma = "," if i < len(doc) - 1 else ""
        if isinstance(value, dict) and value:
            entries = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in value.items()]
            lines += [f" {json.dumps(key)}: {{", ",\n".join(entries), " }" + comma]
        elif isinstance(value, list) and value:
            entries = [f"  {json.dumps(v)}" for v in value]
            lines += [f" {json.dumps(key)}: [", ",\n".join(entries), " ]" + comma]
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value)}{comma}")
    return "\n".join(lines + ["}", ""])


def _readme(world: World, planter: _Planter) -> str:
    spec = world.spec
    window_start = (spec.end_date - dt.timedelta(days=spec.days)).isoformat()
    planted_accounts = (FIXTURE_ACCOUNT, FIXTURE_OTHER_ACCOUNT)
    generated = world.actions[~world.actions[schema.ACCOUNT_ID].isin(planted_accounts)]
    generated_alerts = world.alerts[~world.alerts[schema.ACCOUNT_ID].isin(planted_accounts)]
    accounts = ", ".join(str(a) for a in sorted(generated[schema.ACCOUNT_ID].unique()))
    lines = [
        "# Bundled fixtures",
        "",
        "<!-- Written by `python -m alertrec.generate fixtures --out data/fixtures`"
        " (alertrec/generate.py, make_fixtures). Do not edit by hand: a test regenerates"
        " this folder and compares it byte for byte. -->",
        "",
        f"A small contract-conformant input for the day D = {spec.end_date.isoformat()}: the window is",
        f"[{window_start}, {spec.end_date.isoformat()}), the lookback day of the alerts is"
        f" {(spec.end_date - dt.timedelta(days=spec.days + 1)).isoformat()}.",
        "",
        "```",
        "alerts/dt=YYYY-MM-DD/part-0.parquet    schema.ALERTS_ARROW, dt = day of fired_at",
        "actions/dt=YYYY-MM-DD/part-0.parquet   schema.ACTIONS_ARROW, dt = day of receipt (>= day of ts)",
        "planted.json                           expected outcome of every planted row and session",
        "```",
        "",
        "## Generated part",
        "",
        f"`generate_world(FIXTURE_SPEC, seed={FIXTURE_SEED})`: accounts {accounts},"
        f" {spec.definitions_per_account} alert definitions each plus {spec.cold_start_per_account}"
        " cold-start near-duplicate, "
        f"{spec.users_per_account} users each ({spec.novice_share:.0%} novices),"
        f" {len(generated)} action rows and {len(generated_alerts)} alert rows, drift on, dirt"
        f" {spec.dirt:.0%}. Its planted structure (failure modes, effective steps) is"
        " `fixture_world().truth`; the expected sessions are not listed, only the kinds of dirt it has:"
        " duplicates (same and later dt, differing payloads), malformed and truncated JSON, missing payload"
        " fields, unknown actions, orphan alert_opened (unknown firing or another account's), null"
        " user_id, null required fields, late rows, rows out of ts order, events before the window"
        " and on D, duplicated alert rows and null alert_id.",
        "",
        "## Planted cases",
        "",
        f"Account {FIXTURE_ACCOUNT} (and {FIXTURE_OTHER_ACCOUNT} for C15). Users are `fx-uNN`, firings"
        " `fx-ae-*`, events `fx-cNN-*`: every planted case has its own user, so cases never interact.",
        "Definitions: "
        + "; ".join(f"`{k}` '{v}'" for k, v in _FX_TITLES.items())
        + f". `{_FX_LAG}` was titled '{_FX_OLD_LAG_TITLE}' on its first two firings: its latest title in"
        " the window is the new one.",
        "",
        "| case | what | ids | expected outcome |",
        "|---|---|---|---|",
    ]
    for case in planter.cases:
        ids = ", ".join(f"`{i}`" for i in [*case.alert_event_ids, *case.event_ids])
        lines.append(f"| {case.key} | {case.title} | {ids} | {case.expected} |")
    lines += [
        "",
        "Expected `fired` rows of the planted accounts (window only):",
        "",
        "| account_id | alert_id | alert_title | n_firings | last_fired_at |",
        "|---|---|---|---|---|",
    ]
    for account, alert_id, title, n, last in _FX_FIRED:
        lines.append(f"| {account} | `{alert_id}` | {title} | {n} | {last} |")
    lines += [
        "",
        "Expected sessions of the planted accounts:",
        "",
        "| session_id | alert_id | end_reason | duration_s | items |",
        "|---|---|---|---|---|",
    ]
    for s in planter.sessions:
        duration = f"{s[schema.DURATION_S]:.6f}".rstrip("0").rstrip(".")
        lines.append(f"| `{s[schema.SESSION_ID]}` | `{s[schema.ALERT_ID]}` | {s[schema.END_REASON]} |"
                     f" {duration} | {s[schema.N_ITEMS]} |")
    lines += [
        "",
        "`planted.json` has the same in machine-readable form: per planted event id one `{dt, reason}`",
        "per row (the accounting reason of `schema.ACTION_REASONS`, or `not_read` for a partition the",
        "run for D does not read), per alert event id the same, the reason counts, every expected",
        "session with its items in order, and the expected `fired` rows.",
        "",
        "Regenerate with `python -m alertrec.generate fixtures --out data/fixtures`"
        " (or `python scripts/make_fixtures.py`).",
        "",
    ]
    return "\n".join(lines)


# ==========================================================================
# Command line
# ==========================================================================
def main(argv: Sequence[str] | None = None) -> int:
    """``python -m alertrec.generate world|fixtures ...``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m alertrec.generate", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    world = sub.add_parser("world", help="generate a world and write its alerts/ and actions/")
    world.add_argument("--out", required=True, help="folder receiving alerts/ and actions/")
    world.add_argument("--actions", type=int, default=20_000, help="approximate number of action rows")
    world.add_argument("--seed", type=int, default=0)
    world.add_argument("--end-date", default=FIXTURE_DAY.isoformat(), help="the day D, YYYY-MM-DD")
    world.add_argument("--days", type=int, default=28)
    world.add_argument("--dirt", type=float, default=0.02)
    world.add_argument("--novice-share", type=float, default=0.35)
    world.add_argument("--no-drift", action="store_true")
    fixtures = sub.add_parser("fixtures", help="write the bundled fixtures (data/fixtures)")
    fixtures.add_argument("--out", default="data/fixtures")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    started = time.perf_counter()
    try:
        if args.command == "fixtures":
            make_fixtures(args.out)
            log.info("fixtures written to %s in %.1f s", args.out, time.perf_counter() - started)
            return 0
        try:
            end_date = parse_date(args.end_date)
        except ConfigError as exc:
            raise ConfigError(str(exc).replace("--date", "--end-date", 1)) from None
        spec = WorldSpec.for_actions(args.actions, end_date, days=args.days, dirt=args.dirt,
                                     novice_share=args.novice_share, drift=not args.no_drift)
        generated = generate_world(spec, args.seed)
        write_world(generated, args.out)
    except ConfigError as exc:
        log.error("%s", exc)
        return exc.exit_code
    log.info(
        "%d action rows, %d alert rows (%d accounts) written to %s in %.1f s",
        len(generated.actions), len(generated.alerts), spec.accounts, args.out, time.perf_counter() - started,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
