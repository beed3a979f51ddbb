"""A plain-Python reference of the contract's "Investigation sessions" rules.

Written straight from ``../shared/contract.md`` and ``docs/frames.md`` with simple loops,
for clarity rather than speed: the Spark SQL of ``alertrec.io.extract`` must agree with
it row for row (``tests/spark/test_differential.py``). It shares nothing with the SQL but
the frame layout (``Extraction`` and its dtypes).

Payload parsing follows what Spark's ``try_parse_json`` accepts: one JSON value after
optional whitespace (text after that value is ignored), no NaN/Infinity, no duplicate keys,
no lone surrogates. A field is present when it is a non-empty JSON string.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass

import pandas as pd

from alertrec import schema as s
from alertrec.config import Config
from alertrec.io.extract import (
    ACCOUNTING_DTYPES,
    FIRED_DTYPES,
    FIRED_ORDER,
    ITEM_DTYPES,
    ITEM_ORDER,
    SESSION_DTYPES,
    SESSION_ORDER,
    Extraction,
)

_JSON_WS = " \t\n\r"
_MALFORMED = object()  # parse result of a payload that is not JSON


class _Reject(ValueError):
    pass


def _reject_constant(name: str) -> object:
    raise _Reject(f"not JSON: {name}")


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise _Reject("duplicate key")
    return dict(pairs)


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, object_pairs_hook=_no_duplicate_keys)


def _has_lone_surrogate(value: object) -> bool:
    if isinstance(value, str):
        return any(0xD800 <= ord(ch) <= 0xDFFF for ch in value)
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def parse_payload(text: object) -> object:
    """The parsed JSON value, or ``_MALFORMED`` when the text is not JSON (or is null)."""
    if not isinstance(text, str):
        return _MALFORMED
    try:
        value, _ = _DECODER.raw_decode(text.lstrip(_JSON_WS))
    except (ValueError, RecursionError):
        return _MALFORMED
    if _has_lone_surrogate(value):
        return _MALFORMED
    return value


def field(value: object, *path: str) -> str | None:
    """The non-empty JSON string at ``path`` of a parsed payload, else None."""
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value if isinstance(value, str) and value != "" else None


_REQUIRED_PATH = {
    s.ALERT_OPENED: (s.ALERT_EVENT_ID,),
    s.ALERT_RESOLVED: (s.ALERT_EVENT_ID,),
    s.DASHBOARD_OPENED: ("dashboard", "id"),
    s.QUERY_RUN: ("query", "text"),
}


def _micros(ts: pd.Timestamp) -> int:
    return ts.value // 1000  # ns -> us; inputs are microsecond timestamps


def _isnull(value: object) -> bool:
    return value is None or (not isinstance(value, str) and pd.isna(value))


def _none_last(value: object) -> tuple:
    """Sort key part: None after every value."""
    return (1, "") if _isnull(value) else (0, value)


# --------------------------------------------------------------------------
# alerts
# --------------------------------------------------------------------------
def _classify_alerts(alerts: pd.DataFrame, config: Config) -> list[dict]:
    rows = alerts.to_dict("records")
    for row in rows:
        row["reason"] = None
        if any(_isnull(row[c]) for c in (s.ACCOUNT_ID, s.ALERT_EVENT_ID, s.ALERT_ID, s.FIRED_AT)):
            row["reason"] = s.R_MISSING_REQUIRED
    copies = defaultdict(list)
    for row in rows:
        if row["reason"] is None:
            copies[row[s.ALERT_EVENT_ID]].append(row)
    for group in copies.values():
        group.sort(
            key=lambda r: (
                _none_last(r[s.DT]),
                r[s.ALERT_ID],
                _none_last(r[s.ALERT_TITLE]),
                r[s.ACCOUNT_ID],
                r[s.FIRED_AT],
                _none_last(r[s.SEVERITY]),
            )
        )
        for loser in group[1:]:
            loser["reason"] = s.R_DUPLICATE
    alerts_from = pd.Timestamp(config.alerts_from)
    start, end = pd.Timestamp(config.window_start), pd.Timestamp(config.window_end)
    for row in rows:
        if row["reason"] is not None:
            continue
        fired = row[s.FIRED_AT]
        if fired < alerts_from:
            row["reason"] = s.R_BEFORE_WINDOW
        elif fired >= end:
            row["reason"] = s.R_AFTER_WINDOW
        elif fired < start:
            row["reason"] = s.R_FIRED_IN_LOOKBACK
        else:
            row["reason"] = s.R_FIRED_IN_WINDOW
    return rows


# --------------------------------------------------------------------------
# actions
# --------------------------------------------------------------------------
def _screen_actions(actions: pd.DataFrame, config: Config) -> list[dict]:
    """Rows with the reasons decided before sessions: required, duplicate, window, user."""
    rows = actions.to_dict("records")
    for row in rows:
        row["reason"] = None
        if any(_isnull(row[c]) for c in (s.EVENT_ID, s.ACCOUNT_ID, s.TS, s.ACTION)):
            row["reason"] = s.R_MISSING_REQUIRED
    copies = defaultdict(list)
    for row in rows:
        if row["reason"] is None:
            copies[row[s.EVENT_ID]].append(row)
    for group in copies.values():
        group.sort(
            key=lambda r: (
                _none_last(r[s.DT]),
                _none_last(r[s.PAYLOAD]),
                r[s.TS],
                r[s.ACCOUNT_ID],
                _none_last(r[s.USER_ID]),
                r[s.ACTION],
            )
        )
        for loser in group[1:]:
            loser["reason"] = s.R_DUPLICATE
    start, end = pd.Timestamp(config.window_start), pd.Timestamp(config.window_end)
    for row in rows:
        if row["reason"] is not None:
            continue
        if row[s.TS] < start:
            row["reason"] = s.R_BEFORE_WINDOW
        elif row[s.TS] >= end:
            row["reason"] = s.R_AFTER_WINDOW
        elif _isnull(row[s.USER_ID]):
            row["reason"] = s.R_NULL_USER
    return rows


def _read_event(row: dict) -> None:
    """Set the event's own reason (action and payload) and the payload fields it needs."""
    row["ref"] = None
    row["item"] = None
    action = row[s.ACTION]
    if action not in s.KNOWN_ACTIONS:
        row["reason"] = s.R_UNKNOWN_ACTION
        return
    body = parse_payload(row[s.PAYLOAD])
    if body is _MALFORMED:
        row["reason"] = s.R_MALFORMED_PAYLOAD
        return
    required = field(body, *_REQUIRED_PATH[action])
    if required is None:
        row["reason"] = s.R_MISSING_PAYLOAD_FIELD
        return
    if action in (s.ALERT_OPENED, s.ALERT_RESOLVED):
        row["ref"] = required
    elif action == s.DASHBOARD_OPENED:
        row["item"] = (s.ITEM_DASHBOARD, required, field(body, "dashboard", "title"), None)
    else:
        row["item"] = (s.ITEM_QUERY, required, None, field(body, "query", "language"))


def _end_reason_by_limits(start_us: int, last_us: int, next_us: int, config_us: tuple) -> str:
    """Which limit a session whose next moment is ``next_us`` hit first (None: neither)."""
    idle_us, max_us = config_us
    over_idle = next_us - last_us > idle_us
    over_max = next_us - start_us > max_us
    if not over_idle and not over_max:
        return None
    return s.END_IDLE if last_us + idle_us <= start_us + max_us else s.END_MAX_DURATION


def _sessionize_user(timeline: list[dict], known: dict, window_end_us: int, limits: tuple):
    """Walk one user's timeline in (ts, event_id) order; yield finished sessions."""
    open_session = None
    finished = []

    def close(end_reason: str) -> None:
        nonlocal open_session
        open_session["end_reason"] = end_reason
        finished.append(open_session)
        open_session = None

    for event in timeline:
        t_us = _micros(event[s.TS])
        is_open = event[s.ACTION] == s.ALERT_OPENED
        if open_session is not None:
            by_limits = _end_reason_by_limits(open_session["start_us"], open_session["last_us"], t_us, limits)
            if by_limits is not None:
                close(by_limits)
            elif is_open:
                close(s.END_NEXT_OPEN)
        if is_open:
            firing = known.get((event[s.ACCOUNT_ID], event["ref"])) if event["reason"] is None else None
            if firing is None:
                if event["reason"] is None:
                    event["reason"] = s.R_ORPHAN_OPEN
                continue
            event["reason"] = s.R_IN_SESSION
            open_session = {
                "open": event,
                "firing": firing,
                "start_us": t_us,
                "last_us": t_us,
                "events": [event],
            }
            continue
        if open_session is None:
            if event["reason"] is None:
                event["reason"] = s.R_OUTSIDE_SESSION
            continue
        open_session["events"].append(event)
        open_session["last_us"] = t_us
        if event["reason"] is None:
            event["reason"] = s.R_IN_SESSION
        if (
            event[s.ACTION] == s.ALERT_RESOLVED
            and event["ref"] is not None
            and event["ref"] == open_session["firing"][s.ALERT_EVENT_ID]
        ):
            close(s.END_RESOLVED)
    if open_session is not None:
        by_limits = _end_reason_by_limits(open_session["start_us"], open_session["last_us"], window_end_us, limits)
        close(by_limits or s.END_WINDOW)
    return finished


@dataclass(frozen=True)
class Classified:
    """The reference's verdict on every row read, before it is summed up into frames.

    Attributes
    ----------
    alerts, actions : list of dict
        One dict per row read, in input order: the row's columns plus ``reason``
        (the accounting reason of ``schema.ALERT_REASONS`` / ``ACTION_REASONS``).
    sessions : list of dict
        One dict per session: ``open`` (the ``alert_opened`` row), ``firing``
        (its alert row), ``events`` (every row of the user from the opener to
        the session's last event, in (ts, event_id) order: the ``in_session``
        rows and the quarantined or ignored ones that kept it alive) and
        ``end_reason``.
    """

    alerts: list[dict]
    actions: list[dict]
    sessions: list[dict]


def classify_rows(alerts: pd.DataFrame, actions: pd.DataFrame, config: Config) -> Classified:
    """Every row's accounting reason and every session, by the contract's rules.

    Parameters
    ----------
    alerts, actions : pandas.DataFrame
        The rows read (contract columns plus ``dt`` as a string); timestamps tz-aware UTC.
    config : Config

    Returns
    -------
    Classified
    """
    alert_rows = _classify_alerts(alerts, config)
    known = {
        (row[s.ACCOUNT_ID], row[s.ALERT_EVENT_ID]): row
        for row in alert_rows
        if row["reason"] in (s.R_FIRED_IN_LOOKBACK, s.R_FIRED_IN_WINDOW)
    }

    action_rows = _screen_actions(actions, config)
    timelines = defaultdict(list)
    for row in action_rows:
        if row["reason"] is None:
            _read_event(row)
            timelines[(row[s.ACCOUNT_ID], row[s.USER_ID])].append(row)

    limits = (
        int(round(config.idle_timeout_s * 1_000_000)),
        int(round(config.max_duration_s * 1_000_000)),
    )
    window_end_us = _micros(pd.Timestamp(config.window_end))
    sessions = []
    for key in timelines:
        timeline = sorted(timelines[key], key=lambda r: (r[s.TS], r[s.EVENT_ID]))
        sessions.extend(_sessionize_user(timeline, known, window_end_us, limits))
    return Classified(alerts=alert_rows, actions=action_rows, sessions=sessions)


def reference_extract(alerts: pd.DataFrame, actions: pd.DataFrame, config: Config) -> Extraction:
    """The contract's sessions, items, fired definitions and row accounting, in plain Python.

    Parameters
    ----------
    alerts, actions : pandas.DataFrame
        The rows read (contract columns plus ``dt`` as a string); timestamps tz-aware UTC.
    config : Config

    Returns
    -------
    Extraction
        The same frames as :func:`alertrec.io.extract.extract_sessions`.
    """
    classified = classify_rows(alerts, actions, config)
    alert_rows, action_rows = classified.alerts, classified.actions
    session_rows, item_rows = [], []
    for session in classified.sessions:
        opener, firing = session["open"], session["firing"]
        items = [e for e in session["events"] if e["item"] is not None]
        started, ended = opener[s.TS], session["events"][-1][s.TS]
        session_rows.append(
            {
                s.SESSION_ID: opener[s.EVENT_ID],
                s.ACCOUNT_ID: opener[s.ACCOUNT_ID],
                s.USER_ID: opener[s.USER_ID],
                s.ALERT_EVENT_ID: firing[s.ALERT_EVENT_ID],
                s.ALERT_ID: firing[s.ALERT_ID],
                s.ALERT_TITLE: firing[s.ALERT_TITLE],
                s.SEVERITY: firing[s.SEVERITY],
                s.FIRED_AT: firing[s.FIRED_AT],
                s.STARTED_AT: started,
                s.ENDED_AT: ended,
                s.DURATION_S: (_micros(ended) - _micros(started)) / 1_000_000,
                s.RESOLVED: session["end_reason"] == s.END_RESOLVED,
                s.END_REASON: session["end_reason"],
                s.N_EVENTS: len(session["events"]),
                s.N_ITEMS: len(items),
            }
        )
        for seq, event in enumerate(items):
            item_type, key, title, language = event["item"]
            item_rows.append(
                {
                    s.SESSION_ID: opener[s.EVENT_ID],
                    s.ACCOUNT_ID: opener[s.ACCOUNT_ID],
                    s.USER_ID: opener[s.USER_ID],
                    s.ALERT_ID: firing[s.ALERT_ID],
                    s.SEQ: seq,
                    s.EVENT_ID: event[s.EVENT_ID],
                    s.TS: event[s.TS],
                    s.OFFSET_S: (_micros(event[s.TS]) - _micros(started)) / 1_000_000,
                    s.ITEM_TYPE: item_type,
                    s.ITEM_KEY: key,
                    s.ITEM_TITLE: title,
                    s.QUERY_LANGUAGE: language,
                }
            )

    fired = {}
    for row in alert_rows:
        if row["reason"] != s.R_FIRED_IN_WINDOW:
            continue
        key = (row[s.ACCOUNT_ID], row[s.ALERT_ID])
        entry = fired.setdefault(key, {"n": 0, "latest": None})
        entry["n"] += 1
        latest = entry["latest"]
        if latest is None or (row[s.FIRED_AT], row[s.ALERT_EVENT_ID]) > (
            latest[s.FIRED_AT],
            latest[s.ALERT_EVENT_ID],
        ):
            entry["latest"] = row
    fired_rows = [
        {
            s.ACCOUNT_ID: account_id,
            s.ALERT_ID: alert_id,
            s.ALERT_TITLE: entry["latest"][s.ALERT_TITLE],
            s.N_FIRINGS: entry["n"],
            s.LAST_FIRED_AT: entry["latest"][s.FIRED_AT],
        }
        for (account_id, alert_id), entry in fired.items()
    ]

    accounting = []
    for dataset, reasons, rows in (
        (s.DATASET_ALERTS, s.ALERT_REASONS, alert_rows),
        (s.DATASET_ACTIONS, s.ACTION_REASONS, action_rows),
    ):
        counts = defaultdict(int)
        for row in rows:
            counts[row["reason"]] += 1
        assert set(counts) <= set(reasons), set(counts) - set(reasons)
        for reason, bucket in reasons.items():
            accounting.append({s.DATASET: dataset, s.BUCKET: bucket, s.REASON: reason, s.ROWS: counts[reason]})

    return Extraction(
        sessions=_frame(session_rows, SESSION_DTYPES, SESSION_ORDER),
        items=_frame(item_rows, ITEM_DTYPES, ITEM_ORDER),
        fired=_frame(fired_rows, FIRED_DTYPES, FIRED_ORDER),
        accounting=_frame(accounting, ACCOUNTING_DTYPES, None),
    )


def _frame(records: list[dict], dtypes: dict[str, str], order: list[str] | None) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(records, columns=list(dtypes))
    for column, dtype in dtypes.items():
        if dtype.startswith("datetime64"):
            frame[column] = pd.to_datetime(frame[column], utc=True).astype(dtype)
        else:
            frame[column] = frame[column].astype(dtype)
    if order:
        frame = frame.sort_values(order, kind="mergesort")
    return frame.reset_index(drop=True)
