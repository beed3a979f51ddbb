"""One small test per session rule of the contract, each with its answer written by hand.

Inputs are built as Spark DataFrames with the contract's types (plus ``dt``); the run is for
``D = 2026-02-01`` with the default 28-day window, so the window is
[2026-01-04 00:00, 2026-02-01 00:00) UTC, idle_timeout 30 min and max_duration 4 h.
"""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from alertrec import schema as s
from alertrec.config import Config
from alertrec.io.extract import Extraction, extract_sessions

pytestmark = pytest.mark.spark

UTC = dt.UTC
D = "2026-02-01"
CONFIG = Config(input_root="unused", output_root="unused", date=D)
T0 = dt.datetime(2026, 1, 20, 10, 0, tzinfo=UTC)  # a Tuesday morning inside the window
DAY = "2026-01-20"


# --------------------------------------------------------------------------
# builders
# --------------------------------------------------------------------------
def at(minutes: float = 0, us: int = 0, base: dt.datetime = T0) -> dt.datetime:
    return base + dt.timedelta(minutes=minutes, microseconds=us)


def firing(fid, *, account=1, alert_id="cpu", title="CPU high", severity="HIGH", fired_at=None, day=DAY):
    return (account, fid, alert_id, title, severity, fired_at or at(-5), day)


def opened(fid):
    return json.dumps({"alert_event_id": fid, "alert_id": "whatever", "source": "slack"})


def resolved(fid):
    return json.dumps({"alert_event_id": fid})


def dash(did, title=None):
    return json.dumps({"dashboard": {"id": did, "title": title or f"Dashboard {did}"}, "panels": []})


def query(text, language="dql"):
    return json.dumps({"query": {"text": text, "language": language}, "filters": []})


def ev(eid, action, ts, payload, *, user="u1", account=1, day=DAY):
    return (eid, account, user, ts, action, payload, day)


FIRINGS = [firing("f1"), firing("f2", alert_id="disk", title="Disk full")]


def arrow_table(arrow_schema: pa.Schema, rows: list[tuple], with_dt: bool = True) -> pa.Table:
    """Rows as built above (the contract's columns, then dt) as an Arrow table of the contract."""
    if with_dt:
        arrow_schema = arrow_schema.append(pa.field(s.DT, pa.string()))
    else:
        rows = [r[:-1] for r in rows]
    return pa.Table.from_pylist([dict(zip(arrow_schema.names, r)) for r in rows], schema=arrow_schema)


def run(spark, actions, alerts=FIRINGS, config=CONFIG) -> Extraction:
    alerts_df = spark.createDataFrame(arrow_table(s.ALERTS_ARROW, alerts))
    actions_df = spark.createDataFrame(arrow_table(s.ACTIONS_ARROW, actions))
    return extract_sessions(spark, alerts_df, actions_df, config)


def action_reasons(ex: Extraction) -> dict[str, int]:
    acc = ex.accounting
    rows = acc[(acc[s.DATASET] == s.DATASET_ACTIONS) & (acc[s.ROWS] > 0)]
    return dict(zip(rows[s.REASON], rows[s.ROWS]))


def alert_reasons(ex: Extraction) -> dict[str, int]:
    acc = ex.accounting
    rows = acc[(acc[s.DATASET] == s.DATASET_ALERTS) & (acc[s.ROWS] > 0)]
    return dict(zip(rows[s.REASON], rows[s.ROWS]))


def sessions_view(ex: Extraction) -> list[tuple]:
    """(session_id, user_id, ended_at, end_reason, n_events, n_items) per session, in order."""
    cols = [s.SESSION_ID, s.USER_ID, s.ENDED_AT, s.END_REASON, s.N_EVENTS, s.N_ITEMS]
    return [
        (sid, user, ended.to_pydatetime(), reason, int(n_ev), int(n_it))
        for sid, user, ended, reason, n_ev, n_it in ex.sessions[cols].itertuples(index=False)
    ]


def item_keys(ex: Extraction) -> list[tuple]:
    return list(ex.items[[s.SESSION_ID, s.SEQ, s.ITEM_KEY]].itertuples(index=False, name=None))


# --------------------------------------------------------------------------
# rules
# --------------------------------------------------------------------------
def test_gap_of_exactly_idle_timeout_stays_one_microsecond_more_ends(spark):
    ex = run(
        spark,
        [
            ev("a-open", s.ALERT_OPENED, at(0), opened("f1"), user="ann"),
            ev("a-dash", s.DASHBOARD_OPENED, at(10), dash("d1"), user="ann"),
            ev("a-query", s.QUERY_RUN, at(40), query("level:error"), user="ann"),  # gap 30 min
            ev("b-open", s.ALERT_OPENED, at(0), opened("f1"), user="bob"),
            ev("b-dash", s.DASHBOARD_OPENED, at(10), dash("d1"), user="bob"),
            ev("b-query", s.QUERY_RUN, at(40, us=1), query("level:error"), user="bob"),
        ],
    )
    assert sessions_view(ex) == [
        ("a-open", "ann", at(40), s.END_IDLE, 3, 2),
        ("b-open", "bob", at(10), s.END_IDLE, 2, 1),
    ]
    assert ex.sessions[s.DURATION_S].tolist() == [2400.0, 600.0]
    assert action_reasons(ex) == {s.R_IN_SESSION: 5, s.R_OUTSIDE_SESSION: 1}


def test_next_alert_opened_ends_the_session_and_starts_the_next(spark):
    ex = run(
        spark,
        [
            ev("open1", s.ALERT_OPENED, at(0), opened("f1")),
            ev("dash1", s.DASHBOARD_OPENED, at(5), dash("d1")),
            ev("open2", s.ALERT_OPENED, at(10), opened("f2")),
            ev("dash2", s.DASHBOARD_OPENED, at(12), dash("d2")),
        ],
    )
    assert sessions_view(ex) == [
        ("open1", "u1", at(5), s.END_NEXT_OPEN, 2, 1),
        ("open2", "u1", at(12), s.END_IDLE, 2, 1),
    ]
    assert ex.sessions[s.ALERT_ID].tolist() == ["cpu", "disk"]
    assert item_keys(ex) == [("open1", 0, "d1"), ("open2", 0, "d2")]
    assert ex.items[s.ALERT_ID].tolist() == ["cpu", "disk"]
    assert ex.items[s.OFFSET_S].tolist() == [300.0, 120.0]


def test_orphan_alert_opened_inside_a_session_ends_it_and_starts_none(spark):
    ex = run(
        spark,
        [
            ev("open1", s.ALERT_OPENED, at(0), opened("f1")),
            ev("dash1", s.DASHBOARD_OPENED, at(5), dash("d1")),
            ev("orphan", s.ALERT_OPENED, at(10), opened("no-such-firing")),
            ev("dash2", s.DASHBOARD_OPENED, at(12), dash("d2")),
        ],
    )
    assert sessions_view(ex) == [("open1", "u1", at(5), s.END_NEXT_OPEN, 2, 1)]
    assert action_reasons(ex) == {
        s.R_IN_SESSION: 2,
        s.R_ORPHAN_OPEN: 1,
        s.R_OUTSIDE_SESSION: 1,
    }


def test_own_alert_resolved_closes_the_session_another_firings_does_not(spark):
    ex = run(
        spark,
        [
            ev("open1", s.ALERT_OPENED, at(0), opened("f1")),
            ev("res-other", s.ALERT_RESOLVED, at(5), resolved("f2")),
            ev("dash1", s.DASHBOARD_OPENED, at(6), dash("d1")),
            ev("res-own", s.ALERT_RESOLVED, at(8), resolved("f1")),
            ev("dash2", s.DASHBOARD_OPENED, at(9), dash("d2")),
        ],
    )
    assert sessions_view(ex) == [("open1", "u1", at(8), s.END_RESOLVED, 4, 1)]
    assert ex.sessions[s.RESOLVED].tolist() == [True]
    assert action_reasons(ex) == {s.R_IN_SESSION: 4, s.R_OUTSIDE_SESSION: 1}


def test_max_duration_boundary(spark):
    # every 20 min from the start: no idle gap; the event at exactly start + 4 h is in,
    # one a microsecond later is out
    ann = [ev("a-open", s.ALERT_OPENED, at(0), opened("f1"), user="ann")]
    ann += [ev(f"a-q{m:03d}", s.QUERY_RUN, at(m), query(f"q{m}"), user="ann") for m in range(20, 241, 20)]
    ann += [ev("a-late", s.QUERY_RUN, at(240, us=1), query("late"), user="ann")]
    # bob's last event is at start + 3.5 h: his idle limit (+4 h) and max (+4 h) coincide,
    # and the idle timeout wins the tie; cid's last event at start + 4 h: max comes first
    bob = [ev("b-open", s.ALERT_OPENED, at(0), opened("f1"), user="bob")]
    bob += [ev(f"b-q{m:03d}", s.QUERY_RUN, at(m), query(f"q{m}"), user="bob") for m in range(30, 211, 30)]
    cid = [ev("c-open", s.ALERT_OPENED, at(0), opened("f1"), user="cid")]
    cid += [ev(f"c-q{m:03d}", s.QUERY_RUN, at(m), query(f"q{m}"), user="cid") for m in range(20, 241, 20)]
    ex = run(spark, ann + bob + cid)
    assert sessions_view(ex) == [
        ("a-open", "ann", at(240), s.END_MAX_DURATION, 13, 12),
        ("b-open", "bob", at(210), s.END_IDLE, 8, 7),
        ("c-open", "cid", at(240), s.END_MAX_DURATION, 13, 12),
    ]
    assert ex.sessions[s.DURATION_S].tolist() == [14400.0, 12600.0, 14400.0]
    assert action_reasons(ex) == {s.R_IN_SESSION: 34, s.R_OUTSIDE_SESSION: 1}


def test_event_at_window_end_is_ignored_and_the_session_is_cut_there(spark):
    end = CONFIG.window_end  # 2026-02-01 00:00 UTC
    late_firing = firing("f9", fired_at=at(-15, base=end), day="2026-01-31")
    ex = run(
        spark,
        [
            ev("ann-open", s.ALERT_OPENED, at(-10, base=end), opened("f9"), user="ann", day="2026-01-31"),
            ev("ann-dash", s.DASHBOARD_OPENED, at(0, us=-1, base=end), dash("d1"), user="ann", day=D),
            ev("ann-at-D", s.DASHBOARD_OPENED, end, dash("d2"), user="ann", day=D),
            # bob's last event is 40 min before the window end: idle before the end
            ev("bob-open", s.ALERT_OPENED, at(-50, base=end), opened("f9"), user="bob", day="2026-01-31"),
            ev("bob-dash", s.DASHBOARD_OPENED, at(-40, base=end), dash("d1"), user="bob", day="2026-01-31"),
            ev("before", s.DASHBOARD_OPENED, at(-1, base=CONFIG.window_start), dash("d1"), day="2026-01-03"),
        ],
        alerts=[late_firing],
    )
    assert sessions_view(ex) == [
        ("ann-open", "ann", at(0, us=-1, base=end), s.END_WINDOW, 2, 1),
        ("bob-open", "bob", at(-40, base=end), s.END_IDLE, 2, 1),
    ]
    assert action_reasons(ex) == {
        s.R_IN_SESSION: 4,
        s.R_AFTER_WINDOW: 1,
        s.R_BEFORE_WINDOW: 1,
    }


def test_duplicates_earliest_dt_wins_then_smallest_payload(spark):
    small, big = dash("d-a"), dash("d-b")
    assert small < big
    ex = run(
        spark,
        [
            ev("open1", s.ALERT_OPENED, at(0), opened("f1")),
            ev("open1", s.ALERT_OPENED, at(0), opened("f1"), day="2026-01-21"),  # same copy, later dt
            # copies that differ: the one received first wins even with the larger payload
            ev("dash-dt", s.DASHBOARD_OPENED, at(2), dash("late"), day="2026-01-22"),
            ev("dash-dt", s.DASHBOARD_OPENED, at(2), dash("early"), day="2026-01-21"),
            # same dt: the smallest payload text wins; a NULL payload sorts last
            ev("dash-pl", s.DASHBOARD_OPENED, at(3), big),
            ev("dash-pl", s.DASHBOARD_OPENED, at(3), None),
            ev("dash-pl", s.DASHBOARD_OPENED, at(3), small),
        ],
    )
    assert sessions_view(ex) == [("open1", "u1", at(3), s.END_IDLE, 3, 2)]
    assert item_keys(ex) == [("open1", 0, "early"), ("open1", 1, "d-a")]
    assert action_reasons(ex) == {s.R_IN_SESSION: 3, s.R_DUPLICATE: 4}


def test_null_user_id_is_quarantined_and_bridges_no_gap(spark):
    ex = run(
        spark,
        [
            ev("open1", s.ALERT_OPENED, at(0), opened("f1")),
            ev("anon", s.DASHBOARD_OPENED, at(20), dash("d1"), user=None),
            ev("dash1", s.DASHBOARD_OPENED, at(40), dash("d2")),  # 40 min after open1
        ],
    )
    assert sessions_view(ex) == [("open1", "u1", at(0), s.END_IDLE, 1, 0)]
    assert action_reasons(ex) == {
        s.R_IN_SESSION: 1,
        s.R_NULL_USER: 1,
        s.R_OUTSIDE_SESSION: 1,
    }


def test_malformed_and_fieldless_payloads_still_count_for_the_idle_gap(spark):
    ex = run(
        spark,
        [
            ev("open1", s.ALERT_OPENED, at(0), opened("f1")),
            ev("truncated", s.DASHBOARD_OPENED, at(25), dash("d1")[:-7]),
            ev("no-text", s.QUERY_RUN, at(50), json.dumps({"query": {"language": "dql"}})),
            ev("dash1", s.DASHBOARD_OPENED, at(75), dash("d2")),
            # a malformed alert_opened still ends the session and starts none
            ev("bad-open", s.ALERT_OPENED, at(80), "{not json"),
            ev("dash2", s.DASHBOARD_OPENED, at(81), dash("d3")),
            ev("not-object", s.QUERY_RUN, at(82), json.dumps(["query", "text"])),
        ],
    )
    assert sessions_view(ex) == [("open1", "u1", at(75), s.END_NEXT_OPEN, 4, 1)]
    assert item_keys(ex) == [("open1", 0, "d2")]
    assert action_reasons(ex) == {
        s.R_IN_SESSION: 2,
        s.R_MALFORMED_PAYLOAD: 2,
        s.R_MISSING_PAYLOAD_FIELD: 2,
        s.R_OUTSIDE_SESSION: 1,
    }


def test_unknown_action_counts_for_the_gap_but_is_ignored(spark):
    ex = run(
        spark,
        [
            ev("open1", s.ALERT_OPENED, at(0), opened("f1")),
            ev("hover", "panel_hovered", at(25), "{}"),
            ev("dash1", s.DASHBOARD_OPENED, at(50), dash("d1")),
        ],
    )
    assert sessions_view(ex) == [("open1", "u1", at(50), s.END_IDLE, 3, 1)]
    assert action_reasons(ex) == {s.R_IN_SESSION: 2, s.R_UNKNOWN_ACTION: 1}


def test_firing_of_another_account_is_an_orphan(spark):
    ex = run(
        spark,
        [
            ev("open-2", s.ALERT_OPENED, at(0), opened("f1"), account=2),
            ev("dash-2", s.DASHBOARD_OPENED, at(1), dash("d1"), account=2),
        ],
    )
    assert ex.sessions.empty and ex.items.empty
    assert list(ex.sessions.columns) == list(s.SESSION_COLUMNS)
    assert action_reasons(ex) == {s.R_ORPHAN_OPEN: 1, s.R_OUTSIDE_SESSION: 1}


def test_rows_out_of_order_are_sorted_by_ts_then_event_id(spark):
    rows = [
        ev("e5", s.QUERY_RUN, at(7), query("b")),
        ev("e3", s.DASHBOARD_OPENED, at(3), dash("d1")),
        ev("e1", s.ALERT_OPENED, at(0), opened("f1")),
        ev("e2", s.QUERY_RUN, at(3), query("a")),
        ev("e0", s.DASHBOARD_OPENED, at(0), dash("d0")),  # same ts as the open, smaller id: before it
    ]
    ex = run(spark, rows)
    assert sessions_view(ex) == [("e1", "u1", at(7), s.END_IDLE, 4, 3)]
    assert item_keys(ex) == [("e1", 0, "a"), ("e1", 1, "d1"), ("e1", 2, "b")]
    assert action_reasons(ex) == {s.R_IN_SESSION: 4, s.R_OUTSIDE_SESSION: 1}


def test_alerts_accounting_and_fired(spark):
    start = CONFIG.window_start
    alerts = [
        firing("f1", fired_at=at(0), title="CPU old title"),
        firing("f2", fired_at=at(60), title="CPU new title"),
        firing("f3", fired_at=at(60), title="CPU tie title"),  # same instant, greater id: its title
        firing("f3", fired_at=at(60), title="CPU tie title", day="2026-01-21"),  # duplicate
        firing("f4", alert_id="disk", fired_at=at(-60, base=start), day="2026-01-03"),  # lookback
        firing("f5", alert_id="disk", fired_at=at(-60 * 24 - 1, base=start), day="2026-01-02"),
        firing("f6", alert_id="disk", fired_at=CONFIG.window_end, day=D),  # after the window
        (1, "f7", None, "no alert_id", "LOW", at(0), DAY),
        firing("f8", account=2, alert_id="mem", title=None, fired_at=at(1)),
    ]
    ex = run(spark, [ev("open4", s.ALERT_OPENED, at(0, base=start), opened("f4"))], alerts=alerts)
    assert alert_reasons(ex) == {
        s.R_FIRED_IN_WINDOW: 4,
        s.R_DUPLICATE: 1,
        s.R_FIRED_IN_LOOKBACK: 1,
        s.R_BEFORE_WINDOW: 1,
        s.R_AFTER_WINDOW: 1,
        s.R_MISSING_REQUIRED: 1,
    }
    fired = ex.fired
    assert fired[[s.ACCOUNT_ID, s.ALERT_ID, s.ALERT_TITLE, s.N_FIRINGS]].values.tolist() == [
        [1, "cpu", "CPU tie title", 3],
        [2, "mem", None, 1],
    ]
    assert fired[s.LAST_FIRED_AT].tolist() == [at(60), at(1)]
    # a firing of the lookback still opens a session; it is not a fired definition
    assert ex.sessions[[s.SESSION_ID, s.ALERT_ID, s.ALERT_EVENT_ID]].values.tolist() == [["open4", "disk", "f4"]]


def test_every_row_read_is_accounted_once(spark):
    actions = [
        ev("open1", s.ALERT_OPENED, at(0), opened("f1")),
        ev("open1", s.ALERT_OPENED, at(0), opened("f1")),  # duplicate
        ev(None, s.DASHBOARD_OPENED, at(1), dash("d1")),  # missing required: event_id
        ev("no-ts", s.DASHBOARD_OPENED, None, dash("d1")),
        ev("no-action", None, at(1), dash("d1")),
        (None, None, None, None, None, None, DAY),
        ev("dash1", s.DASHBOARD_OPENED, at(2), dash("d1")),
        ev("anon", s.DASHBOARD_OPENED, at(3), dash("d1"), user=None),
        ev("orphan", s.ALERT_OPENED, at(4), opened("nope")),
        ev("hover", "hover", at(5), None),
        ev("bad", s.QUERY_RUN, at(6), "{"),
        ev("empty", s.QUERY_RUN, at(7), json.dumps({"query": {"text": ""}})),
        ev("future", s.QUERY_RUN, at(0, base=CONFIG.window_end), query("x"), day=D),
    ]
    ex = run(spark, actions)
    acc = ex.accounting
    per_dataset = acc.groupby(s.DATASET)[s.ROWS].sum().to_dict()
    assert per_dataset == {s.DATASET_ACTIONS: len(actions), s.DATASET_ALERTS: len(FIRINGS)}
    assert action_reasons(ex) == {
        s.R_MISSING_REQUIRED: 4,
        s.R_DUPLICATE: 1,
        s.R_AFTER_WINDOW: 1,
        s.R_NULL_USER: 1,
        s.R_UNKNOWN_ACTION: 1,
        s.R_MALFORMED_PAYLOAD: 1,
        s.R_MISSING_PAYLOAD_FIELD: 1,
        s.R_ORPHAN_OPEN: 1,
        s.R_IN_SESSION: 2,  # hover, bad and empty come after the orphan, but an earlier reason wins
    }
    # every contract reason is listed once, with its bucket
    assert len(acc) == len(s.ALERT_REASONS) + len(s.ACTION_REASONS)
    buckets = {(d, r): b for d, b, r in acc[[s.DATASET, s.BUCKET, s.REASON]].itertuples(index=False)}
    assert all(buckets[(s.DATASET_ACTIONS, r)] == b for r, b in s.ACTION_REASONS.items())
    assert all(buckets[(s.DATASET_ALERTS, r)] == b for r, b in s.ALERT_REASONS.items())


def test_late_events_from_partition_D_are_read_and_later_partitions_are_not(spark, tmp_path):
    from alertrec.io.inputs import read_inputs

    def write(dataset, arrow_schema, rows, day):
        folder = tmp_path / "in" / dataset / f"dt={day}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(arrow_table(arrow_schema, rows, with_dt=False), folder / "part-0.parquet")

    end = CONFIG.window_end
    write(s.DATASET_ALERTS, s.ALERTS_ARROW, [firing("f1", fired_at=at(-120, base=end), day="2026-01-31")], "2026-01-31")
    write(
        s.DATASET_ACTIONS, s.ACTIONS_ARROW, [ev("open1", s.ALERT_OPENED, at(-60, base=end), opened("f1"))], "2026-01-31"
    )
    # received on D, happened before D: part of the session
    write(s.DATASET_ACTIONS, s.ACTIONS_ARROW, [ev("late", s.DASHBOARD_OPENED, at(-50, base=end), dash("d1"))], D)
    # received the day after D: not read at all, not counted
    write(
        s.DATASET_ACTIONS,
        s.ACTIONS_ARROW,
        [ev("later", s.DASHBOARD_OPENED, at(-45, base=end), dash("d2"))],
        "2026-02-02",
    )

    config = Config(input_root=str(tmp_path / "in"), output_root=str(tmp_path / "out"), date=D)
    alerts_df, actions_df, read = read_inputs(spark, config)
    assert read[s.DATASET_ACTIONS]["partitions"] == ["2026-01-31", D]
    ex = extract_sessions(spark, alerts_df, actions_df, config)
    assert sessions_view(ex) == [("open1", "u1", at(-50, base=end), s.END_IDLE, 2, 1)]
    assert action_reasons(ex) == {s.R_IN_SESSION: 2}


def test_statements_after_the_sessionization_read_the_cached_frames(spark, monkeypatch):
    """The classified alerts and actions are computed once: every later statement reads them
    from the cache. (Spark does not match a cached plan holding a CTE when the reading
    statement has its own WITH; this guards the SQL files against that silent recomputation.)
    """
    leaves: dict[str, list[str]] = {}
    real_sql = spark.sql

    def recording_sql(text, args=None, **kwargs):
        frame = real_sql(text, args=args, **kwargs)
        statement = text.split(":", 1)[0].lstrip("- ")  # each file starts "-- <name>: ..."
        plan_leaves = frame._jdf.queryExecution().optimizedPlan().collectLeaves()
        leaves[statement] = sorted({plan_leaves.apply(i).nodeName() for i in range(plan_leaves.size())})
        return frame

    monkeypatch.setattr(spark, "sql", recording_sql)
    run(spark, [ev("open1", s.ALERT_OPENED, at(0), opened("f1")), ev("dash1", s.DASHBOARD_OPENED, at(1), dash("d1"))])
    assert "InMemoryRelation" in leaves["actions_classified"]  # the alerts, read from the cache
    for statement in ("sessions", "session_items", "fired", "accounting"):
        assert leaves[statement] == ["InMemoryRelation"], (statement, leaves[statement])


def _one_user_world(payloads):
    import pandas as pd

    t = pd.Timestamp("2026-01-20 10:00", tz="UTC")
    alerts = pd.DataFrame(
        [
            {
                s.ACCOUNT_ID: 1,
                s.ALERT_EVENT_ID: "ae1",
                s.ALERT_ID: "a1",
                s.ALERT_TITLE: "t",
                s.SEVERITY: "HIGH",
                s.FIRED_AT: t - pd.Timedelta(minutes=5),
                s.DT: "2026-01-20",
            }
        ]
    )
    rows = [
        {
            s.EVENT_ID: "o1",
            s.ACCOUNT_ID: 1,
            s.USER_ID: "u",
            s.TS: t,
            s.ACTION: s.ALERT_OPENED,
            s.PAYLOAD: '{"alert_event_id": "ae1"}',
            s.DT: "2026-01-20",
        }
    ]
    for n, (event_id, action, payload, dt_) in enumerate(payloads):
        rows.append(
            {
                s.EVENT_ID: event_id,
                s.ACCOUNT_ID: 1,
                s.USER_ID: "u",
                s.TS: t + pd.Timedelta(seconds=10 * (n + 1)),
                s.ACTION: action,
                s.PAYLOAD: payload,
                s.DT: dt_,
            }
        )
    return alerts, pd.DataFrame(rows)


def test_items_carry_the_payload_fields_of_the_winning_copy(spark):
    """Each payload is parsed once, in the SQL: the items carry the fields the explode stage
    needs, taken from the copy that won the dedup (earliest dt); no raw payload is kept."""
    from alertrec.stages.explode import explode_items

    dash_late = '{"dashboard": {"id": "d1", "title": "late copy"}, "panels": [{"id": "p", "type": "table"}]}'
    dash_early = '{"dashboard": {"id": "d1", "title": "early copy"}, "panels": [{"id": "p", "type": "stat"}]}'
    query = '{"query": {"text": "level:error", "language": "lucene"}, "index": "logs-*", "filters": [{"field": "env"}]}'
    alerts, actions = _one_user_world(
        [
            ("d1", s.DASHBOARD_OPENED, dash_late, "2026-01-21"),
            ("q1", s.QUERY_RUN, query, "2026-01-20"),
        ]
    )
    actions = pd_concat_copy(actions, "d1", dash_early, "2026-01-20")
    config = Config(input_root="unused", date="2026-02-01")
    alerts_df = spark.createDataFrame(alerts.astype({s.FIRED_AT: "datetime64[us, UTC]"}))
    actions_df = spark.createDataFrame(actions.astype({s.TS: "datetime64[us, UTC]"}))
    ex = extract_sessions(spark, alerts_df, actions_df, config)
    assert s.PAYLOAD not in ex.items.columns
    items = ex.items.set_index(s.EVENT_ID)
    assert items.loc["d1", s.ITEM_TITLE] == "early copy" and list(items.loc["d1", s.PANEL_TYPES]) == ["stat"]
    exploded, quarantine = explode_items(ex.items)
    q = exploded.set_index(s.EVENT_ID).loc["q1"]
    assert (q["index"], q["filter_fields"], q["filter_count"]) == ("logs-*", "env", 1) and quarantine.empty


def pd_concat_copy(actions, event_id, payload, dt_):
    import pandas as pd

    row = actions[actions[s.EVENT_ID] == event_id].iloc[[0]].assign(**{s.PAYLOAD: payload, s.DT: dt_})
    return pd.concat([actions, row], ignore_index=True)


def test_the_sql_fields_explode_as_the_raw_payloads_do(spark):
    """The one parse in Spark SQL gives the explode stage what orjson gives from the raw text
    (explode_one, which serving uses): the same tidy values and the same quarantine."""
    from alertrec.stages.explode import EXPLODED_COLUMNS, explode_items, explode_one

    cases = [
        (
            s.DASHBOARD_OPENED,
            '{"dashboard": {"id": "d"}, "panels": [{"type": "b"}, {"type": "a"}, {"type": "b"}], '
            '"time_range": {"from": "now-6h", "to": "now"}}',
        ),
        (s.DASHBOARD_OPENED, '{"dashboard": {"id": "d"}}'),
        (s.DASHBOARD_OPENED, '{"dashboard": {"id": "d"}, "panels": null, "time_range": null}'),
        (s.DASHBOARD_OPENED, '{"dashboard": {"id": "d"}, "panels": "not a list"}'),
        (s.DASHBOARD_OPENED, '{"dashboard": {"id": "d"}, "panels": [1, 2]}'),
        (s.DASHBOARD_OPENED, '{"dashboard": {"id": "d"}, "panels": [{"id": "x"}]}'),
        (s.DASHBOARD_OPENED, '{"dashboard": {"id": "d"}, "time_range": "last hour"}'),
        (s.QUERY_RUN, '{"query": {"text": "x"}, "filters": [{"field": "b"}, {"field": "a"}], "index": "i"}'),
        (s.QUERY_RUN, '{"query": {"text": "x"}, "filters": {"field": "a"}}'),
        (s.QUERY_RUN, '{"query": {"text": "x"}, "index": 7}'),
        (s.QUERY_RUN, '{"query": {"text": "x"}, "index": null, "filters": []}'),
    ]
    alerts, actions = _one_user_world([(f"e{i:02d}", a, p, "2026-01-20") for i, (a, p) in enumerate(cases)])
    config = Config(input_root="unused", date="2026-02-01")
    ex = extract_sessions(
        spark,
        spark.createDataFrame(alerts.astype({s.FIRED_AT: "datetime64[us, UTC]"})),
        spark.createDataFrame(actions.astype({s.TS: "datetime64[us, UTC]"})),
        config,
    )
    exploded, quarantine = explode_items(ex.items)
    assert len(exploded) == len(cases)
    bad = set(quarantine[s.EVENT_ID])
    for i, (action, payload) in enumerate(cases):
        item_type = s.ITEM_DASHBOARD if action == s.DASHBOARD_OPENED else s.ITEM_QUERY
        want, reason = explode_one(item_type, payload)
        row = exploded.set_index(s.EVENT_ID).loc[f"e{i:02d}"]
        assert (f"e{i:02d}" in bad) == (reason is not None), payload
        if reason is None:
            for column in EXPLODED_COLUMNS:
                if column in want:
                    assert row[column] == want[column], (payload, column)
