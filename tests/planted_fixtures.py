"""The bundled fixtures: a small generated world plus hand-planted rows and their expected outcomes.

``data/fixtures/`` is written from here, next to the tests that check it, and
not by the library: the planted cases (``_plant``) are the test suite's
hand-written answers, one case per session rule and kind of dirt of the
contract, with fixed, documented ids (see the README written next to them).
``make_fixtures`` writes the inputs, ``planted.json`` (the expected accounting
reason of every planted row and every expected session) and ``README.md``;
the same code always gives the same bytes, and a test compares the committed
folder with a fresh copy.

Regenerate with ``python -m tests.planted_fixtures --out data/fixtures`` from
the repository's root.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from alertrec import schema
from alertrec.generate import World, WorldSpec, generate_world, write_world
from alertrec.generate.kinds import _PANEL_TYPES

log = logging.getLogger(__name__)

FIXTURE_DAY = dt.date(2026, 2, 1)
FIXTURE_SEED = 20260201
FIXTURE_SPEC = WorldSpec(
    end_date=FIXTURE_DAY,
    days=28,
    accounts=2,
    definitions_per_account=5,
    users_per_account=5,
    target_actions=2500,
    novice_share=0.4,
    drift=True,
    dirt=0.03,
    cold_start_per_account=1,
)
FIXTURE_ACCOUNT = 900001  # the planted account
FIXTURE_OTHER_ACCOUNT = 900002  # a second planted account (foreign orphan)
NOT_READ = "not_read"  # planted expectation: the partition is outside what the run for D reads

_FX_5XX, _FX_LAG, _FX_5XX_V2, _FX_CERT, _FX_CPU = (
    "alr-fx-5xx",
    "alr-fx-lag",
    "alr-fx-5xx-v2",
    "alr-fx-cert",
    "alr-fx-cpu",
)
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

    def alert(
        self,
        aeid: str,
        alert_id: str | None,
        fired: str,
        expect: str,
        *,
        account: int = FIXTURE_ACCOUNT,
        title: str | None = None,
        severity: str = "HIGH",
    ) -> None:
        ts = pd.Timestamp(fired, tz="UTC")
        self.alerts.append(
            {
                schema.ACCOUNT_ID: account,
                schema.ALERT_EVENT_ID: aeid,
                schema.ALERT_ID: alert_id,
                schema.ALERT_TITLE: title or _FX_TITLES.get(alert_id or "", "Unnamed alert"),
                schema.SEVERITY: severity,
                schema.FIRED_AT: ts,
                schema.DT: ts.date().isoformat(),
                "expect": expect,
            }
        )
        if aeid not in self.cases[-1].alert_event_ids:
            self.cases[-1].alert_event_ids.append(aeid)

    def act(
        self,
        event_id: str | None,
        user: str | None,
        at: str | None,
        action: str | None,
        payload: str,
        expect: str,
        *,
        account: int = FIXTURE_ACCOUNT,
        dt_: str | None = None,
    ) -> None:
        ts = pd.Timestamp(at, tz="UTC") if at else pd.NaT
        day = dt_ or ts.date().isoformat()
        self.actions.append(
            {
                schema.EVENT_ID: event_id,
                schema.ACCOUNT_ID: account,
                schema.USER_ID: user,
                schema.TS: ts,
                schema.ACTION: action,
                schema.PAYLOAD: payload,
                schema.DT: day,
                "expect": expect,
            }
        )
        label = event_id if event_id is not None else f"(null event_id, {action}, {at})"
        if label not in self.cases[-1].event_ids:
            self.cases[-1].event_ids.append(label)

    def session(
        self,
        session_id: str,
        alert_event_id: str,
        alert_id: str,
        end_reason: str,
        items: Sequence[str],
        others: Sequence[str] = (),
        last: str | None = None,
        gap_events: Sequence[str] = (),
    ) -> None:
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
        self.sessions.append(
            {
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
                "in_session_event_ids": sorted([session_id, *items, *others], key=lambda e: (rows[e][schema.TS], e)),
                "gap_only_event_ids": list(gap_events),
                "item_event_ids": list(items),
                "item_keys": item_keys,
                "item_titles": item_titles,
                "query_languages": languages,
            }
        )


def _iso(ts: pd.Timestamp) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def _p_dash(
    dash_id: str | None, title: str | None = None, time_range: tuple[str, str] = ("now-1h", "now"), panels: int = 2
) -> str:
    board: dict[str, object] = {}
    if dash_id is not None:
        board["id"] = dash_id
        title = title if title is not None else _FX_DASHBOARDS[dash_id]
    if title:
        board["title"] = title
    return json.dumps(
        {
            "dashboard": board,
            "panels": [{"id": f"p{i + 1}", "type": _PANEL_TYPES[i]} for i in range(panels)],
            "time_range": {"from": time_range[0], "to": time_range[1]},
        }
    )


def _p_query(
    text: str | None, language: str | None = "lucene", index: str = "logs-*", service: str = "checkout"
) -> str:
    query: dict[str, object] = {}
    if text is not None:
        query["text"] = text
    if language is not None:
        query["language"] = language
    return json.dumps({"query": query, "filters": [{"field": "service", "value": service}], "index": index})


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


def _plant(p: _Planter) -> None:  # one long, flat list of cases
    """The hand-planted cases (account 900001, and 900002 for the foreign orphan)."""
    used, outside, orphan, before, fired, after = (
        schema.R_IN_SESSION,
        schema.R_OUTSIDE_SESSION,
        schema.R_ORPHAN_OPEN,
        schema.R_BEFORE_WINDOW,
        schema.R_FIRED_IN_WINDOW,
        schema.R_AFTER_WINDOW,
    )
    DASH, QUERY, OPEN, RES = (schema.DASHBOARD_OPENED, schema.QUERY_RUN, schema.ALERT_OPENED, schema.ALERT_RESOLVED)

    p.case(
        "C01",
        "idle gap of exactly 30 min stays in the session",
        """
        fx-c01-query comes exactly 30 min after fx-c01-dash: not more than idle_timeout, so it stays in
        the session, which is then resolved by fx-c01-resolve (duration 33 min, 2 items).""",
    )
    p.alert("fx-ae-01", _FX_5XX, "2026-01-10 09:00:00", fired)
    p.act("fx-c01-open", "fx-u01", "2026-01-10 09:02:00", OPEN, _p_open("fx-ae-01", _FX_5XX), used)
    p.act("fx-c01-dash", "fx-u01", "2026-01-10 09:03:00", DASH, _p_dash("dsh-fx-checkout"), used)
    p.act("fx-c01-query", "fx-u01", "2026-01-10 09:33:00", QUERY, _p_query(FX_QUERY_CHECKOUT[0]), used)
    p.act("fx-c01-resolve", "fx-u01", "2026-01-10 09:35:00", RES, _p_resolve("fx-ae-01"), used)
    p.session(
        "fx-c01-open",
        "fx-ae-01",
        _FX_5XX,
        schema.END_RESOLVED,
        items=("fx-c01-dash", "fx-c01-query"),
        others=("fx-c01-resolve",),
    )

    p.case(
        "C02",
        "idle gap of 30 min + 1 microsecond ends the session",
        """
        fx-c02-query comes 30 min + 1 us after fx-c02-dash: the session ends at fx-c02-dash
        (end_reason idle_timeout, duration 60 s, 1 item) and fx-c02-query is outside_session.""",
    )
    p.alert("fx-ae-02", _FX_5XX, "2026-01-11 10:00:00", fired)
    p.act("fx-c02-open", "fx-u02", "2026-01-11 10:01:00", OPEN, _p_open("fx-ae-02", _FX_5XX), used)
    p.act("fx-c02-dash", "fx-u02", "2026-01-11 10:02:00", DASH, _p_dash("dsh-fx-checkout"), used)
    p.act(
        "fx-c02-query",
        "fx-u02",
        "2026-01-11 10:32:00.000001",
        QUERY,
        _p_query("service:checkout AND level:error"),
        outside,
    )
    p.session("fx-c02-open", "fx-ae-02", _FX_5XX, schema.END_IDLE, items=("fx-c02-dash",))

    p.case(
        "C03",
        "the user's next alert_opened ends the session (rows written in reverse order)",
        """
        fx-c03-open-b (another firing, fx-ae-03b) ends session fx-c03-open-a at fx-c03-dash-a
        (end_reason next_alert_opened, 1 item) and starts session fx-c03-open-b, resolved by
        fx-c03-resolve-b. The five rows are written in reverse ts order in dt=2026-01-12. fx-ae-03b
        carries the definition's old title 'Consumer lag on orders'.""",
    )
    p.alert("fx-ae-03a", _FX_5XX, "2026-01-12 08:00:00", fired)
    p.alert("fx-ae-03b", _FX_LAG, "2026-01-12 08:10:00", fired, title=_FX_OLD_LAG_TITLE, severity="MEDIUM")
    p.act("fx-c03-open-a", "fx-u03", "2026-01-12 08:01:00", OPEN, _p_open("fx-ae-03a", _FX_5XX), used)
    p.act("fx-c03-dash-a", "fx-u03", "2026-01-12 08:02:00", DASH, _p_dash("dsh-fx-checkout"), used)
    p.act("fx-c03-open-b", "fx-u03", "2026-01-12 08:11:00", OPEN, _p_open("fx-ae-03b", _FX_LAG, "pagerduty"), used)
    p.act(
        "fx-c03-query-b",
        "fx-u03",
        "2026-01-12 08:12:00",
        QUERY,
        _p_query(FX_QUERY_SQL[0], "sql", "warehouse", "orders"),
        used,
    )
    p.act("fx-c03-resolve-b", "fx-u03", "2026-01-12 08:14:00", RES, _p_resolve("fx-ae-03b"), used)
    p.session("fx-c03-open-a", "fx-ae-03a", _FX_5XX, schema.END_NEXT_OPEN, items=("fx-c03-dash-a",))
    p.session(
        "fx-c03-open-b",
        "fx-ae-03b",
        _FX_LAG,
        schema.END_RESOLVED,
        items=("fx-c03-query-b",),
        others=("fx-c03-resolve-b",),
    )
    p.reverse_in_file.append(("fx-c03-open-a", "fx-c03-dash-a", "fx-c03-open-b", "fx-c03-query-b", "fx-c03-resolve-b"))

    p.case(
        "C04",
        "an orphan alert_opened ends the user's session",
        """
        fx-c04-orphan names the unknown firing ae-fx-unknown-1: it is an orphan_alert_opened, it ends
        session fx-c04-open at fx-c04-query (end_reason next_alert_opened, 1 item) and starts nothing,
        so fx-c04-dash is outside_session.""",
    )
    p.alert("fx-ae-04", _FX_LAG, "2026-01-13 14:00:00", fired, title=_FX_OLD_LAG_TITLE, severity="MEDIUM")
    p.act("fx-c04-open", "fx-u04", "2026-01-13 14:01:00", OPEN, _p_open("fx-ae-04", _FX_LAG), used)
    p.act("fx-c04-query", "fx-u04", "2026-01-13 14:03:00", QUERY, _p_query(FX_QUERY_PHRASES[0], service="orders"), used)
    p.act("fx-c04-orphan", "fx-u04", "2026-01-13 14:05:00", OPEN, _p_open("ae-fx-unknown-1", _FX_LAG), orphan)
    p.act("fx-c04-dash", "fx-u04", "2026-01-13 14:06:00", DASH, _p_dash("dsh-fx-orders"), outside)
    p.session("fx-c04-open", "fx-ae-04", _FX_LAG, schema.END_NEXT_OPEN, items=("fx-c04-query",))

    p.case(
        "C05",
        "resolved by its own firing; a resolve of another firing does not end it",
        """
        fx-c05-resolve-other resolves fx-ae-05x (another firing): it stays in the session (in_session,
        not an item) and does not end it. fx-c05-resolve resolves fx-ae-05 and ends the session
        (resolved, 2 items, duration 7 min); fx-c05-after is outside_session. The alert row of fx-ae-05
        is written twice (identical): one copy counts, the other is a duplicate.""",
    )
    p.alert("fx-ae-05x", _FX_LAG, "2026-01-14 15:50:00", fired, severity="MEDIUM")
    p.alert("fx-ae-05", _FX_5XX, "2026-01-14 16:00:00", fired)
    p.alert("fx-ae-05", _FX_5XX, "2026-01-14 16:00:00", schema.R_DUPLICATE)
    p.act("fx-c05-open", "fx-u05", "2026-01-14 16:02:00", OPEN, _p_open("fx-ae-05", _FX_5XX, "email"), used)
    p.act("fx-c05-dash", "fx-u05", "2026-01-14 16:03:00", DASH, _p_dash("dsh-fx-checkout"), used)
    p.act("fx-c05-resolve-other", "fx-u05", "2026-01-14 16:05:00", RES, _p_resolve("fx-ae-05x"), used)
    p.act("fx-c05-query", "fx-u05", "2026-01-14 16:07:00", QUERY, _p_query(FX_QUERY_CHECKOUT[1]), used)
    p.act("fx-c05-resolve", "fx-u05", "2026-01-14 16:09:00", RES, _p_resolve("fx-ae-05"), used)
    p.act("fx-c05-after", "fx-u05", "2026-01-14 16:10:00", DASH, _p_dash("dsh-fx-pg"), outside)
    p.session(
        "fx-c05-open",
        "fx-ae-05",
        _FX_5XX,
        schema.END_RESOLVED,
        items=("fx-c05-dash", "fx-c05-query"),
        others=("fx-c05-resolve-other", "fx-c05-resolve"),
    )

    p.case(
        "C06",
        "max_duration: an event at exactly 4 h belongs, the next one does not",
        """
        Events every 24 min after fx-c06-open (06:00:30); fx-c06-10 is exactly 4 h after the start and
        is the session's last event (end_reason max_duration, duration 14400 s, 10 items); fx-c06-11
        (4 h 20 min after the start, 20 min after fx-c06-10) is outside_session.""",
    )
    p.alert("fx-ae-06", _FX_LAG, "2026-01-15 06:00:00", fired, severity="MEDIUM")
    p.act("fx-c06-open", "fx-u06", "2026-01-15 06:00:30", OPEN, _p_open("fx-ae-06", _FX_LAG), used)
    start = pd.Timestamp("2026-01-15 06:00:30")
    c06_items = []
    for k in range(1, 12):
        at = (start + pd.Timedelta(minutes=24 * k if k <= 10 else 260)).isoformat(sep=" ")
        event_id = f"fx-c06-{k:02d}"
        payload = (
            _p_dash("dsh-fx-kafka")
            if k % 2
            else _p_query(f"service:orders AND kafka.offset:{1000 + 37 * k}", service="orders")
        )
        p.act(event_id, "fx-u06", at, DASH if k % 2 else QUERY, payload, used if k <= 10 else outside)
        if k <= 10:
            c06_items.append(event_id)
    p.session("fx-c06-open", "fx-ae-06", _FX_LAG, schema.END_MAX_DURATION, items=c06_items)

    p.case(
        "C07",
        "a session still open at D 00:00 is cut at the window end",
        """
        fx-c07-query (23:59:59.999999, received in dt=2026-02-01) is the last event in the window;
        fx-c07-at-d (exactly 2026-02-01 00:00:00, dt=2026-02-01) and fx-c07-resolve (00:05) are
        after_window and ignored. The session ends at fx-c07-query, not resolved (end_reason
        window_end, 2 items).""",
    )
    p.alert("fx-ae-07", _FX_5XX, "2026-01-31 23:40:00", fired)
    p.act("fx-c07-open", "fx-u07", "2026-01-31 23:41:00", OPEN, _p_open("fx-ae-07", _FX_5XX), used)
    p.act("fx-c07-dash", "fx-u07", "2026-01-31 23:50:00", DASH, _p_dash("dsh-fx-checkout"), used)
    p.act(
        "fx-c07-query",
        "fx-u07",
        "2026-01-31 23:59:59.999999",
        QUERY,
        _p_query("service:checkout AND level:error AND status:502"),
        used,
        dt_="2026-02-01",
    )
    p.act("fx-c07-at-d", "fx-u07", "2026-02-01 00:00:00", DASH, _p_dash("dsh-fx-deploys"), after)
    p.act("fx-c07-resolve", "fx-u07", "2026-02-01 00:05:00", RES, _p_resolve("fx-ae-07"), after)
    p.session("fx-c07-open", "fx-ae-07", _FX_5XX, schema.END_WINDOW, items=("fx-c07-dash", "fx-c07-query"))

    p.case(
        "C08",
        "two items with the same ts are ordered by event_id",
        """
        fx-c08-tie-a (dashboard) and fx-c08-tie-b (query) share ts 11:02:00 and are written b first;
        ordered by (ts, event_id) the dashboard is seq 0 and the query seq 1. Resolved, 2 items.""",
    )
    p.alert("fx-ae-08", _FX_LAG, "2026-01-16 11:00:00", fired, severity="MEDIUM")
    p.act("fx-c08-open", "fx-u08", "2026-01-16 11:01:00", OPEN, _p_open("fx-ae-08", _FX_LAG), used)
    p.act("fx-c08-tie-a", "fx-u08", "2026-01-16 11:02:00", DASH, _p_dash("dsh-fx-kafka"), used)
    p.act(
        "fx-c08-tie-b", "fx-u08", "2026-01-16 11:02:00", QUERY, _p_query(FX_QUERY_DQL[0], "dql", "logs", "orders"), used
    )
    p.act("fx-c08-resolve", "fx-u08", "2026-01-16 11:04:00", RES, _p_resolve("fx-ae-08"), used)
    p.session(
        "fx-c08-open",
        "fx-ae-08",
        _FX_LAG,
        schema.END_RESOLVED,
        items=("fx-c08-tie-a", "fx-c08-tie-b"),
        others=("fx-c08-resolve",),
    )
    p.reverse_in_file.append(("fx-c08-tie-a", "fx-c08-tie-b"))

    p.case(
        "C09",
        "a firing of the lookback day opened just after the window start",
        """
        fx-ae-09 fired 2026-01-03 23:50 (dt=2026-01-03, the lookback day): fired_in_lookback.
        fx-c09-pre-open (dt=2026-01-03) is in a partition the run does not read; fx-c09-pre-dash
        (ts 2026-01-03 23:58, received in dt=2026-01-04) is before_window. Session fx-c09-open
        (2026-01-04 00:01) belongs to alr-fx-5xx through the lookback firing; resolved, 1 item.""",
    )
    p.alert("fx-ae-09", _FX_5XX, "2026-01-03 23:50:00", schema.R_FIRED_IN_LOOKBACK)
    p.act("fx-c09-pre-open", "fx-u09", "2026-01-03 23:52:00", OPEN, _p_open("fx-ae-09", _FX_5XX), NOT_READ)
    p.act(
        "fx-c09-pre-dash", "fx-u09", "2026-01-03 23:58:00", DASH, _p_dash("dsh-fx-checkout"), before, dt_="2026-01-04"
    )
    p.act("fx-c09-open", "fx-u09", "2026-01-04 00:01:00", OPEN, _p_open("fx-ae-09", _FX_5XX), used)
    p.act("fx-c09-query", "fx-u09", "2026-01-04 00:03:00", QUERY, _p_query(FX_QUERY_CHECKOUT[2]), used)
    p.act("fx-c09-resolve", "fx-u09", "2026-01-04 00:06:00", RES, _p_resolve("fx-ae-09"), used)
    p.session(
        "fx-c09-open", "fx-ae-09", _FX_5XX, schema.END_RESOLVED, items=("fx-c09-query",), others=("fx-c09-resolve",)
    )

    p.case(
        "C10",
        "late events (received 1 and 2 days after their ts)",
        """
        fx-c10-dash is in dt=2026-01-21 and fx-c10-query in dt=2026-01-22 although both happened on
        2026-01-20: they belong to the session like the others. fx-c10-open has no alert_id in its
        payload (informational only). Resolved, 2 items.""",
    )
    p.alert("fx-ae-10", _FX_LAG, "2026-01-20 12:00:00", fired, severity="MEDIUM")
    p.act("fx-c10-open", "fx-u10", "2026-01-20 12:01:00", OPEN, _p_open("fx-ae-10", None, "ui"), used)
    p.act("fx-c10-dash", "fx-u10", "2026-01-20 12:03:00", DASH, _p_dash("dsh-fx-orders"), used, dt_="2026-01-21")
    p.act(
        "fx-c10-query",
        "fx-u10",
        "2026-01-20 12:05:00",
        QUERY,
        _p_query(FX_QUERY_SQL[1], "sql", "warehouse", "orders"),
        used,
        dt_="2026-01-22",
    )
    p.act("fx-c10-resolve", "fx-u10", "2026-01-20 12:07:00", RES, _p_resolve("fx-ae-10"), used)
    p.session(
        "fx-c10-open",
        "fx-ae-10",
        _FX_LAG,
        schema.END_RESOLVED,
        items=("fx-c10-dash", "fx-c10-query"),
        others=("fx-c10-resolve",),
    )

    p.case(
        "C11",
        "duplicate event_ids: same partition, across partitions, differing copies",
        """
        fx-c11-dup-same: two identical rows in dt=2026-01-21 (one in_session, one duplicate).
        fx-c11-dup-cross: identical rows in dt=2026-01-21 and dt=2026-01-22 (the 01-21 one counts).
        fx-c11-dup-dt: the copy in dt=2026-01-21 (dsh-fx-deploys) wins over the copy in dt=2026-01-23
        (dsh-fx-aaa-stale) although its payload text is larger: earliest dt first.
        fx-c11-dup-text: two differing copies in dt=2026-01-21; the one with the smaller payload text
        (level:error) wins over the one written first (level:warn). The alert row fx-ae-11 also has a
        copy titled 'High 5xx rate on checkout (copy)', which loses (smaller alert_title wins).
        Resolved, 4 items: dsh-fx-checkout, the level:error query, dsh-fx-deploys, the level:error
        http.route query.""",
    )
    p.alert("fx-ae-11", _FX_5XX, "2026-01-21 09:00:00", fired)
    p.alert("fx-ae-11", _FX_5XX, "2026-01-21 09:00:00", schema.R_DUPLICATE, title=_FX_TITLES[_FX_5XX] + " (copy)")
    p.act("fx-c11-open", "fx-u11", "2026-01-21 09:01:00", OPEN, _p_open("fx-ae-11", _FX_5XX), used)
    for expect in (used, schema.R_DUPLICATE):
        p.act("fx-c11-dup-same", "fx-u11", "2026-01-21 09:02:00", DASH, _p_dash("dsh-fx-checkout"), expect)
    p.act(
        "fx-c11-dup-cross", "fx-u11", "2026-01-21 09:04:00", QUERY, _p_query("service:checkout AND level:error"), used
    )
    p.act(
        "fx-c11-dup-cross",
        "fx-u11",
        "2026-01-21 09:04:00",
        QUERY,
        _p_query("service:checkout AND level:error"),
        schema.R_DUPLICATE,
        dt_="2026-01-22",
    )
    p.act("fx-c11-dup-dt", "fx-u11", "2026-01-21 09:06:00", DASH, _p_dash("dsh-fx-deploys"), used)
    p.act(
        "fx-c11-dup-dt",
        "fx-u11",
        "2026-01-21 09:06:00",
        DASH,
        _p_dash("dsh-fx-aaa-stale"),
        schema.R_DUPLICATE,
        dt_="2026-01-23",
    )
    p.act(
        "fx-c11-dup-text",
        "fx-u11",
        "2026-01-21 09:07:00",
        QUERY,
        _p_query('service:checkout AND level:warn AND http.route:"/api/cart"'),
        schema.R_DUPLICATE,
    )
    p.act(
        "fx-c11-dup-text",
        "fx-u11",
        "2026-01-21 09:07:00",
        QUERY,
        _p_query('service:checkout AND level:error AND http.route:"/api/cart"'),
        used,
    )
    p.act("fx-c11-resolve", "fx-u11", "2026-01-21 09:09:00", RES, _p_resolve("fx-ae-11"), used)
    p.session(
        "fx-c11-open",
        "fx-ae-11",
        _FX_5XX,
        schema.END_RESOLVED,
        items=("fx-c11-dup-same", "fx-c11-dup-cross", "fx-c11-dup-dt", "fx-c11-dup-text"),
        others=("fx-c11-resolve",),
    )

    p.case(
        "C12",
        "malformed, truncated and incomplete payloads inside a session count for the gaps",
        """
        Between fx-c12-open (15:01) and fx-c12-query (17:06) there are only quarantined rows, 25 min
        apart: fx-c12-malformed (not JSON) and fx-c12-truncated (cut JSON) are malformed_payload,
        fx-c12-dash-noid (dashboard without id) and fx-c12-query-notext (query without text) are
        missing_payload_field. They keep the session alive: resolved at 17:08 (duration 7620 s) with
        1 item, fx-c12-query.""",
    )
    p.alert("fx-ae-12", _FX_LAG, "2026-01-22 15:00:00", fired, severity="MEDIUM")
    truncated = _p_query("service:orders AND level:error", service="orders")
    p.act("fx-c12-open", "fx-u12", "2026-01-22 15:01:00", OPEN, _p_open("fx-ae-12", _FX_LAG), used)
    p.act(
        "fx-c12-malformed",
        "fx-u12",
        "2026-01-22 15:26:00",
        DASH,
        "not json {dashboard: dsh-fx-orders",
        schema.R_MALFORMED_PAYLOAD,
    )
    p.act("fx-c12-truncated", "fx-u12", "2026-01-22 15:51:00", QUERY, truncated[:48], schema.R_MALFORMED_PAYLOAD)
    p.act(
        "fx-c12-dash-noid",
        "fx-u12",
        "2026-01-22 16:16:00",
        DASH,
        _p_dash(None, "Service overview: orders"),
        schema.R_MISSING_PAYLOAD_FIELD,
    )
    p.act(
        "fx-c12-query-notext",
        "fx-u12",
        "2026-01-22 16:41:00",
        QUERY,
        _p_query(None, service="orders"),
        schema.R_MISSING_PAYLOAD_FIELD,
    )
    p.act("fx-c12-query", "fx-u12", "2026-01-22 17:06:00", QUERY, _p_query(FX_QUERY_PHRASES[1], service="orders"), used)
    p.act("fx-c12-resolve", "fx-u12", "2026-01-22 17:08:00", RES, _p_resolve("fx-ae-12"), used)
    p.session(
        "fx-c12-open",
        "fx-ae-12",
        _FX_LAG,
        schema.END_RESOLVED,
        items=("fx-c12-query",),
        others=("fx-c12-resolve",),
        gap_events=("fx-c12-malformed", "fx-c12-truncated", "fx-c12-dash-noid", "fx-c12-query-notext"),
    )

    p.case(
        "C13",
        "alert_opened without alert_event_id",
        """
        fx-c13-open-noaeid has no alert_event_id: missing_payload_field; it starts no session (the user
        has none open), so fx-c13-dash is outside_session.""",
    )
    p.act(
        "fx-c13-open-noaeid",
        "fx-u13",
        "2026-01-23 10:00:00",
        OPEN,
        _p_open(None, _FX_5XX, "ui"),
        schema.R_MISSING_PAYLOAD_FIELD,
    )
    p.act("fx-c13-dash", "fx-u13", "2026-01-23 10:02:00", DASH, _p_dash("dsh-fx-checkout"), outside)

    p.case(
        "C14",
        "unknown actions inside a session; optional payload fields missing",
        """
        fx-c14-pageview (page_view) and fx-c14-settings (settings_changed) are unknown_action, never
        items, but they count for the gaps: without them fx-c14-dash-notitle would come 74 min after
        the start. fx-c14-open's payload names alert_id alr-fx-stale: the session still belongs to
        alr-fx-5xx (the alerts table decides). fx-c14-dash-notitle has no title (item_title null) and
        fx-c14-query-nolang no language (query_language null); both are items. Resolved, duration 77
        min.""",
    )
    p.alert("fx-ae-14", _FX_5XX, "2026-01-24 13:00:00", fired)
    p.act("fx-c14-open", "fx-u14", "2026-01-24 13:01:00", OPEN, _p_open("fx-ae-14", "alr-fx-stale"), used)
    p.act(
        "fx-c14-pageview",
        "fx-u14",
        "2026-01-24 13:25:00",
        "page_view",
        '{"path": "/app/alerts"}',
        schema.R_UNKNOWN_ACTION,
    )
    p.act(
        "fx-c14-settings",
        "fx-u14",
        "2026-01-24 13:50:00",
        "settings_changed",
        '{"setting": "theme", "value": "dark"}',
        schema.R_UNKNOWN_ACTION,
    )
    p.act("fx-c14-dash-notitle", "fx-u14", "2026-01-24 14:15:00", DASH, _p_dash("dsh-fx-checkout", ""), used)
    p.act(
        "fx-c14-query-nolang",
        "fx-u14",
        "2026-01-24 14:16:00",
        QUERY,
        _p_query("service:checkout AND level:error AND status:503", None),
        used,
    )
    p.act("fx-c14-resolve", "fx-u14", "2026-01-24 14:18:00", RES, _p_resolve("fx-ae-14"), used)
    p.session(
        "fx-c14-open",
        "fx-ae-14",
        _FX_5XX,
        schema.END_RESOLVED,
        items=("fx-c14-dash-notitle", "fx-c14-query-nolang"),
        others=("fx-c14-resolve",),
        gap_events=("fx-c14-pageview", "fx-c14-settings"),
    )

    p.case(
        "C15",
        "orphan alert_opened: unknown firing, and a firing of another account",
        """
        fx-c15-orphan names ae-fx-unknown-2, which exists nowhere; fx-c15-foreign (user of account
        900002) names fx-ae-01, a firing of account 900001. Both are orphan_alert_opened and start no
        session; fx-c15-dash and fx-c15-foreign-query are outside_session. fx-ae-b1 is the only firing
        of account 900002 (alr-fx-cpu, never opened).""",
    )
    p.alert("fx-ae-b1", _FX_CPU, "2026-01-25 08:30:00", fired, account=FIXTURE_OTHER_ACCOUNT, severity="LOW")
    p.act("fx-c15-orphan", "fx-u15", "2026-01-25 08:00:00", OPEN, _p_open("ae-fx-unknown-2", _FX_5XX), orphan)
    p.act("fx-c15-dash", "fx-u15", "2026-01-25 08:02:00", DASH, _p_dash("dsh-fx-checkout"), outside)
    p.act(
        "fx-c15-foreign",
        "fx-u16",
        "2026-01-25 09:00:00",
        OPEN,
        _p_open("fx-ae-01", _FX_5XX),
        orphan,
        account=FIXTURE_OTHER_ACCOUNT,
    )
    p.act(
        "fx-c15-foreign-query",
        "fx-u16",
        "2026-01-25 09:02:00",
        QUERY,
        _p_query("service:search AND level:error", service="search"),
        outside,
        account=FIXTURE_OTHER_ACCOUNT,
    )

    p.case(
        "C16",
        "null user_id",
        """
        fx-c16-null-dash and fx-c16-null-open have a null user_id: quarantined as null_user_id; no
        session starts.""",
    )
    p.act("fx-c16-null-dash", None, "2026-01-26 10:00:00", DASH, _p_dash("dsh-fx-orders"), schema.R_NULL_USER)
    p.act("fx-c16-null-open", None, "2026-01-26 10:01:00", OPEN, _p_open("fx-ae-12", _FX_LAG), schema.R_NULL_USER)

    p.case(
        "C17",
        "rows out of ts order within a file",
        """
        The rows of C03 are written in reverse ts order in dt=2026-01-12 and fx-c08-tie-b comes
        before fx-c08-tie-a in dt=2026-01-16; the generated part has more (rows moved by 1 min to 2
        h). Outcomes are those of C03 and C08: order comes from (ts,
        event_id), never from the file.""",
    )
    p.cases[-1].event_ids.extend(["fx-c03-*", "fx-c08-tie-a", "fx-c08-tie-b"])

    p.case(
        "C18",
        "10 KB query texts",
        """
        fx-c18-big-sql (SQL with 300 trace ids in an IN list) and fx-c18-big-lucene (Lucene with 260
        trace.id terms) are each longer than 10,240 characters; both are items of the resolved
        session fx-c18-open.""",
    )
    p.alert("fx-ae-18", _FX_LAG, "2026-01-27 07:00:00", fired, severity="MEDIUM")
    ids_sql = ", ".join(f"'{t}'" for t in _fx_trace_ids(300, "sql"))
    big_sql = "SELECT ts, trace_id, status FROM spans WHERE service = 'orders' AND trace_id IN (" + ids_sql + ")"
    big_lucene = "service:orders AND (" + " OR ".join(f"trace.id:{t}" for t in _fx_trace_ids(260, "lq")) + ")"
    p.act("fx-c18-open", "fx-u17", "2026-01-27 07:01:00", OPEN, _p_open("fx-ae-18", _FX_LAG), used)
    p.act(
        "fx-c18-big-sql", "fx-u17", "2026-01-27 07:03:00", QUERY, _p_query(big_sql, "sql", "warehouse", "orders"), used
    )
    p.act("fx-c18-big-lucene", "fx-u17", "2026-01-27 07:05:00", QUERY, _p_query(big_lucene, service="orders"), used)
    p.act("fx-c18-resolve", "fx-u17", "2026-01-27 07:07:00", RES, _p_resolve("fx-ae-18"), used)
    p.session(
        "fx-c18-open",
        "fx-ae-18",
        _FX_LAG,
        schema.END_RESOLVED,
        items=("fx-c18-big-sql", "fx-c18-big-lucene"),
        others=("fx-c18-resolve",),
    )

    p.case(
        "C19",
        "one canonical query, used with other literals and term order",
        """
        fx-c01-query, fx-c05-query and fx-c09-query are the same Lucene query (host literal and term
        order differ); fx-c03-query-b and fx-c10-query the same SQL query (pod and number literals,
        term order); fx-c08-tie-b and fx-c24-query the same DQL query (trace id, term order): each
        group must get one item_id. fx-c04-query and fx-c12-query differ only in a quoted phrase
        ("timeout exceeded" vs "connection refused"): two different queries, as are the level:warn /
        level:error copies of C11.""",
    )
    p.cases[-1].event_ids.extend(
        [
            "fx-c01-query",
            "fx-c05-query",
            "fx-c09-query",
            "fx-c03-query-b",
            "fx-c10-query",
            "fx-c08-tie-b",
            "fx-c24-query",
            "fx-c04-query",
            "fx-c12-query",
        ]
    )

    p.case(
        "C20",
        "a definition that fired in the window but was never investigated (borrowing)",
        """
        alr-fx-5xx-v2 'High 5xx rate on checkout-v2' fired twice in the window and nobody opened it; it
        must still get recommendations, borrowed from the similar alr-fx-5xx 'High 5xx rate on
        checkout' of the same account.""",
    )
    p.alert("fx-ae-20a", _FX_5XX_V2, "2026-01-30 03:00:00", fired)
    p.alert("fx-ae-20b", _FX_5XX_V2, "2026-01-31 18:00:00", fired)

    p.case(
        "C21",
        "alert rows: null alert_id; an alert_opened naming that firing",
        """
        The alert row fx-ae-nullid has a null alert_id: missing_required_field. The firing is therefore
        unknown and fx-c21-open, which names it, is an orphan_alert_opened; fx-c21-dash is
        outside_session. (Duplicated alert rows: fx-ae-05 in C05, fx-ae-11 in C11.)""",
    )
    p.alert("fx-ae-nullid", None, "2026-01-18 12:00:00", schema.R_MISSING_REQUIRED, title=_FX_TITLES[_FX_5XX])
    p.act("fx-c21-open", "fx-u18", "2026-01-18 12:05:00", OPEN, _p_open("fx-ae-nullid", _FX_5XX), orphan)
    p.act("fx-c21-dash", "fx-u18", "2026-01-18 12:06:00", DASH, _p_dash("dsh-fx-checkout"), outside)

    p.case(
        "C22",
        "action rows with a null required field",
        """
        fx-c22-null-action (null action), fx-c22-null-ts (null ts, in dt=2026-01-19) and a dashboard row
        with a null event_id (user fx-u19, 2026-01-19 09:05) are missing_required_field.""",
    )
    p.act(
        "fx-c22-null-action", "fx-u19", "2026-01-19 09:00:00", None, _p_dash("dsh-fx-orders"), schema.R_MISSING_REQUIRED
    )
    p.act(
        "fx-c22-null-ts",
        "fx-u19",
        None,
        QUERY,
        _p_query("service:orders AND level:error"),
        schema.R_MISSING_REQUIRED,
        dt_="2026-01-19",
    )
    p.act(None, "fx-u19", "2026-01-19 09:05:00", DASH, _p_dash("dsh-fx-orders"), schema.R_MISSING_REQUIRED)

    p.case(
        "C23",
        "partitions the run for D does not read; firings outside the window",
        """
        fx-c23-unread (ts 2026-01-31 12:00, received in dt=2026-02-02 > D) and the alert row fx-ae-old
        (dt=2026-01-02, before the lookback day) are not read and not counted. fx-ae-cert
        (alr-fx-cert, fired 2026-02-01 01:00, dt=2026-02-01) is after_window: alr-fx-cert did not fire
        in the window and gets no rows.""",
    )
    p.alert("fx-ae-old", _FX_LAG, "2026-01-02 12:00:00", NOT_READ, severity="MEDIUM")
    p.alert("fx-ae-cert", _FX_CERT, "2026-02-01 01:00:00", after, severity="LOW")
    p.act(
        "fx-c23-unread", "fx-u20", "2026-01-31 12:00:00", DASH, _p_dash("dsh-fx-checkout"), NOT_READ, dt_="2026-02-02"
    )

    p.case(
        "C24",
        "late events received in the partition of D",
        """
        fx-c24-query (ts 2026-01-30 20:03) arrives 2 days late in dt=2026-02-01 and fx-c24-dash
        (20:05) 1 day late in dt=2026-01-31; both belong to the resolved session fx-c24-open (items
        in ts order: the query, then the dashboard).""",
    )
    p.alert("fx-ae-24", _FX_LAG, "2026-01-30 20:00:00", fired, severity="MEDIUM")
    p.act("fx-c24-open", "fx-u21", "2026-01-30 20:01:00", OPEN, _p_open("fx-ae-24", _FX_LAG), used)
    p.act(
        "fx-c24-query",
        "fx-u21",
        "2026-01-30 20:03:00",
        QUERY,
        _p_query(FX_QUERY_DQL[1], "dql", "logs", "orders"),
        used,
        dt_="2026-02-01",
    )
    p.act("fx-c24-dash", "fx-u21", "2026-01-30 20:05:00", DASH, _p_dash("dsh-fx-kafka"), used, dt_="2026-01-31")
    p.act("fx-c24-resolve", "fx-u21", "2026-01-30 20:07:00", RES, _p_resolve("fx-ae-24"), used)
    p.session(
        "fx-c24-open",
        "fx-ae-24",
        _FX_LAG,
        schema.END_RESOLVED,
        items=("fx-c24-query", "fx-c24-dash"),
        others=("fx-c24-resolve",),
    )


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
    actions = actions.sort_values(
        [schema.DT, schema.TS, schema.EVENT_ID], kind="stable", na_position="last"
    ).reset_index(drop=True)
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
    depends on nothing but this module and the generator, so running it again gives the same
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
            without_id.append(
                {
                    schema.USER_ID: row[schema.USER_ID],
                    schema.TS: _iso(row[schema.TS]),
                    schema.DT: row[schema.DT],
                    "reason": row["expect"],
                }
            )
            continue
        actions.setdefault(str(row[schema.EVENT_ID]), []).append({schema.DT: row[schema.DT], "reason": row["expect"]})
    alerts: dict[str, list[dict[str, str]]] = {}
    for row in planter.alerts:
        alerts.setdefault(str(row[schema.ALERT_EVENT_ID]), []).append(
            {schema.DT: row[schema.DT], "reason": row["expect"]}
        )
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
        "note": (
            "Expected outcomes for the planted accounts only. actions/alerts: per id, one "
            "{dt, reason} per row (reasons of schema.ACTION_REASONS / ALERT_REASONS, or "
            "'not_read' for partitions outside what the run for day reads). sessions: "
            "in_session_event_ids are the rows accounted in_session; gap_only_event_ids are "
            "quarantined/ignored rows of the user that fall inside the session and keep it alive."
        ),
        "action_reason_counts": dict(sorted(action_counts.items())),
        "alert_reason_counts": dict(sorted(alert_counts.items())),
        "actions": actions,
        "actions_without_event_id": without_id,
        "alerts": alerts,
        "sessions": planter.sessions,
        "fired": [
            {
                schema.ACCOUNT_ID: a,
                schema.ALERT_ID: i,
                schema.ALERT_TITLE: t,
                schema.N_FIRINGS: n,
                schema.LAST_FIRED_AT: last,
            }
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
    return "\n".join([*lines, "}", ""])


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
        "<!-- Written by `python -m tests.planted_fixtures --out data/fixtures`"
        " (tests/planted_fixtures.py, make_fixtures). Do not edit by hand: a test regenerates"
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
        lines.append(
            f"| `{s[schema.SESSION_ID]}` | `{s[schema.ALERT_ID]}` | {s[schema.END_REASON]} |"
            f" {duration} | {s[schema.N_ITEMS]} |"
        )
    lines += [
        "",
        "`planted.json` has the same in machine-readable form: per planted event id one `{dt, reason}`",
        "per row (the accounting reason of `schema.ACTION_REASONS`, or `not_read` for a partition the",
        "run for D does not read), per alert event id the same, the reason counts, every expected",
        "session with its items in order, and the expected `fired` rows.",
        "",
        "Regenerate with `python -m tests.planted_fixtures --out data/fixtures`"
        " (or `python scripts/make_fixtures.py`) from the repository's root.",
        "",
    ]
    return "\n".join(lines)


def _ts(day: dt.date) -> pd.Timestamp:
    return pd.Timestamp(day.isoformat(), tz="UTC")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tests.planted_fixtures [--out data/fixtures]``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m tests.planted_fixtures", description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="data/fixtures", help="folder receiving the fixtures (data/fixtures)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    started = time.perf_counter()
    make_fixtures(args.out)
    log.info("fixtures written to %s in %.1f s", args.out, time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
