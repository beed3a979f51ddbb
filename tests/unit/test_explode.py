"""Exploding payloads into tidy columns; bad payloads quarantined with a reason, rows kept.

``explode_payloads`` explodes raw JSON texts (the serving code's events); ``explode_items`` the
payload fields that the extraction's one parse gave the nightly job's items.
"""

from __future__ import annotations

import pandas as pd

from alertrec import schema as S
from alertrec.stages import explode as E


def _items(rows):
    return pd.DataFrame(rows, columns=[S.EVENT_ID, S.ITEM_TYPE, S.PAYLOAD])


def test_dashboards_and_queries_explode_into_columns():
    items = _items(
        [
            (
                "e1",
                S.ITEM_DASHBOARD,
                '{"dashboard": {"id": "d1"}, "panels": [{"id": "p1", "type": "timeseries"}, '
                '{"id": "p2", "type": "table"}, {"id": "p3", "type": "timeseries"}], '
                '"time_range": {"from": "now-1h", "to": "now"}}',
            ),
            (
                "e2",
                S.ITEM_QUERY,
                '{"query": {"text": "level:error", "language": "lucene"}, '
                '"filters": [{"field": "service", "value": "api"}, {"field": "env", "value": "prod"}], '
                '"index": "logs-*"}',
            ),
            ("e3", S.ITEM_QUERY, '{"query": {"text": "x"}}'),
        ]
    )
    before = items.copy()
    out, quarantine = E.explode_payloads(items)
    pd.testing.assert_frame_equal(items, before)  # input untouched
    assert S.PAYLOAD not in out.columns and quarantine.empty
    d = out.iloc[0]
    assert (d[E.PANEL_COUNT], d[E.PANEL_TYPES], d[E.TIME_FROM], d[E.TIME_TO]) == (
        3,
        "table,timeseries",
        "now-1h",
        "now",
    )
    q = out.iloc[1]
    assert (q[E.FILTER_FIELDS], q[E.FILTER_COUNT], q[E.INDEX]) == ("env,service", 2, "logs-*")
    assert out.iloc[2][E.FILTER_COUNT] == 0 and out.iloc[2][E.INDEX] is None


def test_bad_payloads_are_quarantined_and_the_rows_kept():
    items = _items(
        [
            ("e1", S.ITEM_DASHBOARD, '{"dashboard": {"id": "d1"}, "panels": [{"id": "p1"'),  # truncated
            ("e2", S.ITEM_QUERY, "[1, 2]"),
            ("e3", S.ITEM_DASHBOARD, '{"dashboard": {"id": "d1"}, "panels": "not a list"}'),
            ("e4", S.ITEM_QUERY, None),
            ("e5", S.ITEM_QUERY, '{"query": {"text": "x"}, "index": "logs"}'),
        ]
    )
    out, quarantine = E.explode_payloads(items)
    assert len(out) == 5
    assert quarantine.values.tolist() == [
        ["e1", E.R_EXPLODE_MALFORMED],
        ["e2", E.R_EXPLODE_NOT_OBJECT],
        ["e3", E.R_EXPLODE_BAD_FIELD],
        ["e4", E.R_EXPLODE_MALFORMED],
    ]
    assert out.iloc[4][E.INDEX] == "logs"


def test_items_payload_fields_explode_into_columns():
    items = pd.DataFrame(
        {
            S.EVENT_ID: ["e1", "e2", "e3", "e4"],
            S.ITEM_TYPE: [S.ITEM_DASHBOARD, S.ITEM_QUERY, S.ITEM_DASHBOARD, S.ITEM_QUERY],
            S.PANEL_TYPES: [["timeseries", "table", None, "timeseries"], None, ["x"], None],
            S.TIME_FROM: ["now-1h", None, "now-2h", None],
            S.TIME_TO: ["now", None, "now", None],
            S.FILTER_FIELDS: [None, ["service", "env"], None, None],
            S.INDEX: [None, "logs-*", None, None],
            S.PAYLOAD_SHAPE: [None, None, "time_range", None],
        }
    )
    before = items.copy()
    out, quarantine = E.explode_items(items)
    pd.testing.assert_frame_equal(items, before)
    assert not set(S.ITEM_PAYLOAD_COLUMNS) - {S.PANEL_TYPES, S.TIME_FROM, S.TIME_TO, S.FILTER_FIELDS, S.INDEX} & set(
        out.columns
    )
    d = out.iloc[0]
    assert (d[E.PANEL_COUNT], d[E.PANEL_TYPES], d[E.TIME_FROM], d[E.TIME_TO]) == (
        4,
        "table,timeseries",
        "now-1h",
        "now",
    )
    q = out.iloc[1]
    assert (q[E.FILTER_FIELDS], q[E.FILTER_COUNT], q[E.INDEX]) == ("env,service", 2, "logs-*")
    assert out.iloc[3][E.FILTER_COUNT] == 0 and out.iloc[3][E.FILTER_FIELDS] == "" and out.iloc[3][E.INDEX] is None
    assert quarantine.values.tolist() == [["e3", E.R_EXPLODE_BAD_FIELD]]
    assert out.iloc[2][E.PANEL_TYPES] is None and pd.isna(out.iloc[2][E.PANEL_COUNT])
