"""The Spark SQL extraction and the plain-Python reference agree row for row.

Both read the same input independently (Spark through ``read_inputs``, the reference through
pyarrow with the same partition range) and must give identical ``sessions``, ``items``,
``fired`` and ``accounting`` frames, on the bundled fixtures and on a generated world. On the
fixtures, the hand-written expectations of ``data/fixtures/planted.json`` are checked too.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pytest

from alertrec import schema as s
from alertrec.config import Config
from alertrec.generate import WorldSpec, generate_world, write_world
from alertrec.io.extract import Extraction, extract_sessions
from alertrec.io.inputs import read_inputs
from tests.conftest import FIXTURE_DAY, FIXTURES
from tests.reference_sessionize import reference_extract

pytestmark = pytest.mark.spark


def read_with_pyarrow(root: Path, dataset: str, dt_from: str, dt_to: str) -> pd.DataFrame:
    """The rows of ``root/dataset`` with dt in [dt_from, dt_to], read without Spark."""
    partitioning = pads.partitioning(pa.schema([(s.DT, pa.string())]), flavor="hive")
    data = pads.dataset(root / dataset, format="parquet", partitioning=partitioning)
    table = data.to_table(filter=(pads.field(s.DT) >= dt_from) & (pads.field(s.DT) <= dt_to))
    # nullable integers stay integers (a null account_id must not turn the column into floats)
    return table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)


def both(spark, root: Path, config: Config) -> tuple[Extraction, Extraction]:
    alerts_df, actions_df, read = read_inputs(spark, config)
    got = extract_sessions(spark, alerts_df, actions_df, config)
    alerts = read_with_pyarrow(
        root, s.DATASET_ALERTS, read[s.DATASET_ALERTS]["dt_from"], read[s.DATASET_ALERTS]["dt_to"]
    )
    actions = read_with_pyarrow(
        root, s.DATASET_ACTIONS, read[s.DATASET_ACTIONS]["dt_from"], read[s.DATASET_ACTIONS]["dt_to"]
    )
    want = reference_extract(alerts, actions, config)
    return got, want


def assert_same(got: Extraction, want: Extraction) -> None:
    """Row for row; the items' payload fields for the explode stage are not part of the
    contract's sessions (the reference has none): test_extract_rules checks them against
    the raw payloads, exploded by explode_one."""
    for name in ("sessions", "items", "fired", "accounting"):
        frame, expected = getattr(got, name), getattr(want, name)
        if name == "items":
            frame = frame.drop(columns=list(s.ITEM_PAYLOAD_COLUMNS))
            expected = expected.drop(columns=list(s.ITEM_PAYLOAD_COLUMNS), errors="ignore")
        pd.testing.assert_frame_equal(frame, expected, check_exact=True, obj=name)


def check_accounting_identity(ex: Extraction, alerts_read: int, actions_read: int) -> None:
    per_dataset = ex.accounting.groupby(s.DATASET)[s.ROWS].sum().to_dict()
    assert per_dataset == {s.DATASET_ALERTS: alerts_read, s.DATASET_ACTIONS: actions_read}


@pytest.fixture(scope="module")
def fixture_run(spark):
    config = Config(input_root=str(FIXTURES), output_root="unused", date=FIXTURE_DAY)
    return both(spark, FIXTURES, config)


def test_fixtures_spark_and_reference_agree(fixture_run):
    got, want = fixture_run
    assert len(got.sessions) > 0 and len(got.items) > 0
    assert_same(got, want)


def test_fixtures_planted_expectations(fixture_run):
    got, _ = fixture_run
    planted = json.loads((FIXTURES / "planted.json").read_text())
    sessions = got.sessions.set_index(s.SESSION_ID)
    for expected in planted["sessions"]:
        row = sessions.loc[expected[s.SESSION_ID]]
        assert row[s.ALERT_ID] == expected[s.ALERT_ID], expected[s.SESSION_ID]
        assert row[s.END_REASON] == expected[s.END_REASON], expected[s.SESSION_ID]
        assert row[s.DURATION_S] == pytest.approx(expected[s.DURATION_S], abs=1e-6), expected[s.SESSION_ID]
        assert bool(row[s.RESOLVED]) == expected[s.RESOLVED], expected[s.SESSION_ID]
        assert row[s.N_ITEMS] == expected[s.N_ITEMS], expected[s.SESSION_ID]
        assert row[s.STARTED_AT] == pd.Timestamp(expected[s.STARTED_AT]), expected[s.SESSION_ID]
        assert row[s.ENDED_AT] == pd.Timestamp(expected[s.ENDED_AT]), expected[s.SESSION_ID]
        items = got.items[got.items[s.SESSION_ID] == expected[s.SESSION_ID]]
        assert items[s.EVENT_ID].tolist() == expected["item_event_ids"]
        assert items[s.ITEM_KEY].tolist() == expected["item_keys"]
        assert items[s.ITEM_TITLE].tolist() == expected["item_titles"]
        assert items[s.QUERY_LANGUAGE].tolist() == expected["query_languages"]
    planted_accounts = set(planted["accounts"])
    fired = got.fired[got.fired[s.ACCOUNT_ID].isin(planted_accounts)]
    assert [
        {**row, s.LAST_FIRED_AT: row[s.LAST_FIRED_AT].strftime("%Y-%m-%dT%H:%M:%SZ")}
        for row in fired.to_dict("records")
    ] == planted["fired"]


def test_fixtures_accounting_identity(spark, fixture_run):
    got, _ = fixture_run
    config = Config(input_root=str(FIXTURES), output_root="unused", date=FIXTURE_DAY)
    alerts_df, actions_df, _ = read_inputs(spark, config)
    check_accounting_identity(got, alerts_df.count(), actions_df.count())


def test_generated_world_spark_and_reference_agree(spark, tmp_path):
    world = generate_world(WorldSpec.for_actions(20000, end_date=dt.date(2026, 2, 1)), seed=7)
    root = tmp_path / "in"
    write_world(world, root)
    config = Config(input_root=str(root), output_root=str(tmp_path / "out"), date="2026-02-01")
    got, want = both(spark, root, config)
    assert len(got.sessions) > 100
    assert_same(got, want)
    reasons = got.accounting.set_index([s.DATASET, s.REASON])[s.ROWS]
    # the generated world has every kind of dirt: a comparison of empty reasons proves little
    for reason in (s.R_DUPLICATE, s.R_MALFORMED_PAYLOAD, s.R_MISSING_PAYLOAD_FIELD, s.R_ORPHAN_OPEN):
        assert reasons[(s.DATASET_ACTIONS, reason)] > 0, reason


# --------------------------------------------------------------------------
# a random world made of edge cases
# --------------------------------------------------------------------------
_EDGE_PAYLOADS = (
    '{{"alert_event_id": "{fid}"}} trailing text',  # Spark reads the first JSON value only
    '{{"alert_event_id": "{fid}", "alert_event_id": "{fid}"}}',  # duplicate key: not JSON
    '{{"alert_event_id": "{fid}", "n": NaN}}',  # NaN: not JSON
    '{{"alert_event_id": "{fid}", "x": "\\ud800"}}',  # lone surrogate: not JSON
    '{{"alert_event_id": 12}}',  # not a string: missing field
    '{{"alert_event_id": ""}}',  # empty: missing field
    '{{"dashboard": {{"id": "{fid}", "title": 3}}, "query": {{"text": "{fid}", "language": ""}}}}',
    '  \n{{"dashboard": {{"id": "d-{fid}"}}, "query": {{"text": "q {fid}", "language": "sql"}}}}',
    "null",
    '["alert_event_id"]',
    '{{"alert_event_id": "{fid}"',
    "",
    None,
)


def edge_world(seed: int, n: int = 800) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Alerts and actions (contract columns + dt) full of ties, boundaries and dirt."""
    import numpy as np

    rng = np.random.default_rng(seed)
    end = pd.Timestamp("2026-02-01", tz="UTC")
    start = end - pd.Timedelta(days=28)
    one_us = pd.Timedelta(microseconds=1)
    firings = [f"f{i}" for i in range(6)]
    alerts = []
    # f0 and f3 fired before the lookback, f1 and f4 in it, f2 and f5 in the window; f5 has no
    # alert_id; f1 and f2 have a second copy received a day later (possibly another title)
    for i, fid in enumerate([*firings, "f1", "f2"]):
        j = int(fid[1:])
        fired = [start - pd.Timedelta(hours=30), start - pd.Timedelta(hours=2), end - pd.Timedelta(hours=5)][j % 3]
        alerts.append(
            {
                s.ACCOUNT_ID: 1 + j % 2,
                s.ALERT_EVENT_ID: fid,
                s.ALERT_ID: f"def-{j % 3}" if j != 5 else None,
                s.ALERT_TITLE: rng.choice(["A", "B", None]),
                s.SEVERITY: "HIGH",
                s.FIRED_AT: fired,
                s.DT: (fired + pd.Timedelta(days=int(i >= 6))).strftime("%Y-%m-%d"),
            }
        )
    actions = []
    bases = [start - pd.Timedelta(hours=1), end - pd.Timedelta(hours=6), start + pd.Timedelta(days=10)]
    for _ in range(n):
        base = bases[rng.integers(len(bases))]
        ts = base + rng.integers(0, 40) * pd.Timedelta(minutes=15) + int(rng.choice([0, 0, 0, 1, -1])) * one_us
        action = rng.choice(
            [s.ALERT_OPENED, s.DASHBOARD_OPENED, s.QUERY_RUN, s.ALERT_RESOLVED, "page_view"],
            p=[0.15, 0.32, 0.32, 0.09, 0.12],
        )
        fid = rng.choice(["f1", "f2", "f4", "f0", "nope"], p=[0.3, 0.3, 0.3, 0.05, 0.05])
        if rng.random() < 0.25:
            payload = rng.choice(_EDGE_PAYLOADS)
            payload = None if payload is None else payload.format(fid=fid)
        elif action in (s.ALERT_OPENED, s.ALERT_RESOLVED):
            payload = json.dumps({s.ALERT_EVENT_ID: fid})
        elif action == s.DASHBOARD_OPENED:
            payload = json.dumps({"dashboard": {"id": f"d{rng.integers(5)}", "title": "T"}})
        else:
            payload = json.dumps({"query": {"text": f"q{rng.integers(5)}", "language": "dql"}})
        actions.append(
            {
                s.EVENT_ID: f"e{rng.integers(n)}" if rng.random() > 0.01 else None,
                s.ACCOUNT_ID: int(rng.integers(1, 3)),
                s.USER_ID: rng.choice(["u1", "u2", "u3", None], p=[0.32, 0.32, 0.32, 0.04]),
                s.TS: ts,
                s.ACTION: action,
                s.PAYLOAD: payload,
                s.DT: (ts + pd.Timedelta(days=int(rng.choice([0, 0, 0, 1])))).strftime("%Y-%m-%d"),
            }
        )
    # a marathon: one event every 20 min for 5 h after an alert_opened (max_duration)
    marathon_start = start + pd.Timedelta(days=3)
    for k in range(16):
        actions.append(
            {
                s.EVENT_ID: f"m{k:02d}",
                s.ACCOUNT_ID: 1,
                s.USER_ID: "marathon",
                s.TS: marathon_start + k * pd.Timedelta(minutes=20),
                s.ACTION: s.ALERT_OPENED if k == 0 else s.QUERY_RUN,
                s.PAYLOAD: json.dumps({s.ALERT_EVENT_ID: "f4"} if k == 0 else {"query": {"text": f"m{k}"}}),
                s.DT: marathon_start.strftime("%Y-%m-%d"),
            }
        )
    # still open at the window end (window_end), then an event exactly at D 00:00
    for k, (ts, action) in enumerate(
        [(end - pd.Timedelta(minutes=20), s.ALERT_OPENED), (end - one_us, s.DASHBOARD_OPENED), (end, s.QUERY_RUN)]
    ):
        actions.append(
            {
                s.EVENT_ID: f"w{k}",
                s.ACCOUNT_ID: 1,
                s.USER_ID: "closer",
                s.TS: ts,
                s.ACTION: action,
                s.PAYLOAD: json.dumps({s.ALERT_EVENT_ID: "f2", "dashboard": {"id": "dw"}, "query": {"text": "qw"}}),
                s.DT: "2026-02-01",
            }
        )
    return pd.DataFrame(alerts), pd.DataFrame(actions)


def write_frame(frame: pd.DataFrame, root: Path, dataset: str, arrow_schema: pa.Schema) -> None:
    import pyarrow.parquet as pq

    for day, part in frame.groupby(s.DT):
        folder = root / dataset / f"{s.DT}={day}"
        folder.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(part.drop(columns=[s.DT]), schema=arrow_schema, preserve_index=False)
        pq.write_table(table, folder / "part-0.parquet")


def test_edge_world_spark_and_reference_agree(spark, tmp_path):
    alerts, actions = edge_world(seed=11)
    root = tmp_path / "in"
    write_frame(alerts, root, s.DATASET_ALERTS, s.ALERTS_ARROW)
    write_frame(actions, root, s.DATASET_ACTIONS, s.ACTIONS_ARROW)
    config = Config(input_root=str(root), output_root=str(tmp_path / "out"), date="2026-02-01")
    got, want = both(spark, root, config)
    assert len(got.sessions) > 10
    assert set(got.sessions[s.END_REASON]) == set(s.END_REASONS)
    assert_same(got, want)
    read_alerts = alerts[alerts[s.DT].between(config.alerts_from.date().isoformat(), "2026-02-01")]
    read_actions = actions[actions[s.DT].between(config.window_start.date().isoformat(), "2026-02-01")]
    check_accounting_identity(got, len(read_alerts), len(read_actions))
