"""The world generator: determinism, the contract's layout, the scale knob, planted structure, fixtures."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from alertrec import generate, schema
from alertrec.errors import ConfigError
from alertrec.generate import World, WorldSpec, generate_world, write_world
from tests.planted_fixtures import NOT_READ, make_fixtures

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "data" / "fixtures"
DAY = dt.date(2026, 2, 1)


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(WorldSpec.for_actions(20_000, DAY, dirt=0.05), seed=7)


@pytest.fixture(scope="module")
def clean_world() -> World:
    return generate_world(WorldSpec.for_actions(20_000, DAY, dirt=0.0, late_share=0.0), seed=7)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _parsed(payloads: pd.Series) -> list[object]:
    out = []
    for text in payloads:
        try:
            out.append(json.loads(text))
        except (TypeError, ValueError):
            out.append(None)
    return out


# --------------------------------------------------------------------------
# determinism
# --------------------------------------------------------------------------
def test_same_seed_gives_identical_frames_and_files(tmp_path):
    spec = WorldSpec.for_actions(5_000, DAY)
    first, second = generate_world(spec, seed=3), generate_world(spec, seed=3)
    for name in ("alerts", "actions", "truth", "users", "planned_sessions"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(second, name))
    write_world(first, tmp_path / "a")
    write_world(second, tmp_path / "b")
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def test_another_seed_gives_another_world():
    spec = WorldSpec.for_actions(5_000, DAY)
    first, second = generate_world(spec, seed=3), generate_world(spec, seed=4)
    assert not first.actions[schema.EVENT_ID].dropna().isin(second.actions[schema.EVENT_ID].dropna()).any()
    assert set(first.alerts[schema.ALERT_ID].dropna()) != set(second.alerts[schema.ALERT_ID].dropna())


# --------------------------------------------------------------------------
# the contract's layout
# --------------------------------------------------------------------------
def test_write_world_follows_the_contract(tmp_path, world):
    write_world(world, tmp_path)
    for dataset, arrow_schema in (
        (schema.DATASET_ALERTS, schema.ALERTS_ARROW),
        (schema.DATASET_ACTIONS, schema.ACTIONS_ARROW),
    ):
        folders = sorted((tmp_path / dataset).iterdir())
        assert folders and all(f.name.startswith("dt=") for f in folders)
        for folder in folders:
            day = dt.date.fromisoformat(folder.name[3:])  # a valid calendar day
            assert [p.name for p in folder.iterdir()] == ["part-0.parquet"]
            table = pq.read_table(folder / "part-0.parquet")
            assert table.schema.equals(arrow_schema), (folder, table.schema)  # no dt column inside
            frame = table.to_pandas()
            if dataset == schema.DATASET_ALERTS:
                assert (frame[schema.FIRED_AT].dt.date == day).all()
            else:
                ts_days = frame[schema.TS].dropna().dt.date
                assert (ts_days <= day).all()
    # every row written once, in its dt
    assert sum(pq.read_metadata(p).num_rows for p in (tmp_path / "actions").rglob("*.parquet")) == len(world.actions)
    assert sum(pq.read_metadata(p).num_rows for p in (tmp_path / "alerts").rglob("*.parquet")) == len(world.alerts)


def test_actions_arrive_late_and_are_partly_written_out_of_order(world):
    actions = world.actions.dropna(subset=[schema.TS])
    ts_day = actions[schema.TS].dt.strftime("%Y-%m-%d")
    late = actions[actions[schema.DT] > ts_day]
    assert 0.01 < len(late) / len(actions) < 0.08  # "a few percent"
    lateness = (pd.to_datetime(late[schema.DT]).dt.date - late[schema.TS].dt.date).map(lambda d: d.days)
    assert set(lateness) == {1, 2}
    backwards = 0
    for _, part in actions.groupby(schema.DT):
        backwards += int((part[schema.TS].diff() < pd.Timedelta(0)).sum())
    assert backwards > 0


def test_ids_are_unique_strings(clean_world):
    assert clean_world.actions[schema.EVENT_ID].is_unique
    assert clean_world.alerts[schema.ALERT_EVENT_ID].is_unique
    assert clean_world.actions[schema.EVENT_ID].str.match(r"^e[0-9a-f]{16}$").all()


# --------------------------------------------------------------------------
# scale knob
# --------------------------------------------------------------------------
@pytest.mark.parametrize("target", [5_000, 60_000])
def test_target_actions_is_met_within_15_percent(target):
    spec = WorldSpec.for_actions(target, DAY)
    assert abs(len(generate_world(spec, seed=1).actions) / target - 1.0) <= 0.15


def test_for_actions_scales_accounts_and_validates():
    small, large = WorldSpec.for_actions(5_000, DAY), WorldSpec.for_actions(2_000_000, DAY)
    assert 2 <= small.accounts < large.accounts
    assert small.users_per_account <= large.users_per_account
    assert WorldSpec.for_actions(5_000, DAY, dirt=0.1).dirt == 0.1
    with pytest.raises(ConfigError):
        WorldSpec.for_actions(10, DAY)
    with pytest.raises(ConfigError):
        WorldSpec(end_date=DAY, dirt=1.5)
    with pytest.raises(ConfigError):
        WorldSpec(end_date=DAY, definitions_per_account=0)


# --------------------------------------------------------------------------
# planted structure
# --------------------------------------------------------------------------
def _naive_sessions(world: World) -> pd.DataFrame:
    """A minimal sessionizer (open -> items until next open, own resolve or a 30 min gap)."""
    actions = world.actions.dropna(subset=[schema.EVENT_ID, schema.USER_ID, schema.TS, schema.ACTION])
    actions = actions.drop_duplicates(schema.EVENT_ID).sort_values([schema.USER_ID, schema.TS, schema.EVENT_ID])
    alerts = world.alerts.dropna(subset=[schema.ALERT_ID]).drop_duplicates(schema.ALERT_EVENT_ID)
    firing = dict(zip(zip(alerts[schema.ACCOUNT_ID], alerts[schema.ALERT_EVENT_ID]), alerts[schema.ALERT_ID]))
    rows, current = [], None
    previous_user, previous_ts = None, None
    for account, user, ts, action, doc in zip(
        actions[schema.ACCOUNT_ID],
        actions[schema.USER_ID],
        actions[schema.TS],
        actions[schema.ACTION],
        _parsed(actions[schema.PAYLOAD]),
    ):
        if current is not None and (user != previous_user or ts - previous_ts > pd.Timedelta(minutes=30)):
            current = None
        previous_user, previous_ts = user, ts
        if action == schema.ALERT_OPENED:
            aeid = doc.get(schema.ALERT_EVENT_ID) if isinstance(doc, dict) else None
            alert_id = firing.get((account, aeid))
            current = None
            if alert_id is not None:
                current = {
                    schema.USER_ID: user,
                    schema.ALERT_ID: alert_id,
                    "aeid": aeid,
                    "items": [],
                    schema.RESOLVED: False,
                }
                rows.append(current)
        elif current is not None and isinstance(doc, dict):
            if action == schema.DASHBOARD_OPENED and "id" in doc.get("dashboard", {}):
                current["items"].append(doc["dashboard"]["id"])
            elif action == schema.QUERY_RUN:
                current["items"].append("query")
            elif action == schema.ALERT_RESOLVED and doc.get(schema.ALERT_EVENT_ID) == current["aeid"]:
                current[schema.RESOLVED] = True
                current = None
    return pd.DataFrame(rows)


def test_experienced_users_go_straight_to_the_effective_items(world):
    sessions = _naive_sessions(world).merge(world.users, on=schema.USER_ID)
    dashboards = world.truth[world.truth[schema.ITEM_TYPE] == schema.ITEM_DASHBOARD]
    effective = dashboards.groupby(schema.ALERT_ID)[schema.ITEM_KEY].agg(set).to_dict()
    last_steps = world.truth.loc[
        world.truth.groupby([schema.ALERT_ID, generate.MODE, generate.PERIOD])[generate.STEP].idxmax()
    ]
    last_dashboards = last_steps.groupby(schema.ALERT_ID)[schema.ITEM_KEY].agg(set).to_dict()

    def effective_share(frame: pd.DataFrame) -> float:
        hits = total = 0
        for alert_id, items in zip(frame[schema.ALERT_ID], frame["items"]):
            dash = [i for i in items if i != "query"]
            hits += sum(i in effective.get(alert_id, ()) for i in dash)
            total += len(dash)
        return hits / total

    experts, novices = sessions[~sessions[generate.NOVICE]], sessions[sessions[generate.NOVICE]]
    assert len(experts) > 300 and len(novices) > 300
    assert effective_share(experts) > 0.8
    assert effective_share(novices) < effective_share(experts) - 0.25
    assert experts[schema.RESOLVED].mean() > 0.75
    assert novices[schema.RESOLVED].mean() < experts[schema.RESOLVED].mean() - 0.3
    # the last item before an experienced user resolves is the last effective step
    resolved = experts[experts[schema.RESOLVED] & experts["items"].map(lambda i: bool(i) and i[-1] != "query")]
    on_last = [
        items[-1] in last_dashboards.get(a, ()) for a, items in zip(resolved[schema.ALERT_ID], resolved["items"])
    ]
    assert np.mean(on_last) > 0.9


def test_truth_describes_modes_steps_and_drift(world):
    truth = world.truth
    assert list(truth.columns) == list(generate.TRUTH_COLUMNS)
    per_def = truth[~truth[generate.COLD_START]].groupby(schema.ALERT_ID)[generate.MODE].nunique()
    assert per_def.between(1, 3).all() and (per_def > 1).any()
    weights = truth.drop_duplicates([schema.ALERT_ID, generate.MODE, generate.PERIOD])
    sums = weights.groupby([schema.ALERT_ID, generate.PERIOD])[generate.MODE_WEIGHT].sum()
    assert np.allclose(sums, 1.0)
    multi = weights[weights[schema.ALERT_ID].isin(per_def[per_def > 1].index)]
    dominant = multi.loc[multi.groupby([schema.ALERT_ID, generate.PERIOD])[generate.MODE_WEIGHT].idxmax()]
    changed = dominant.groupby(schema.ALERT_ID)[generate.MODE].nunique() > 1
    assert changed.all()  # drift: the dominant root cause changes between the periods
    queries = truth[truth[schema.ITEM_TYPE] == schema.ITEM_QUERY]
    assert queries[schema.QUERY_LANGUAGE].isin(schema.QUERY_LANGUAGES).all()
    assert queries[generate.QUERY_EXAMPLE].notna().all()
    assert queries[schema.ITEM_KEY].str.contains("<").any()


def test_the_mode_mix_follows_the_drift(world):
    truth = world.truth.drop_duplicates([schema.ALERT_ID, generate.MODE, generate.PERIOD])
    weight = truth.set_index([schema.ALERT_ID, generate.PERIOD, generate.MODE])[generate.MODE_WEIGHT]
    planned = world.planned_sessions
    share = planned.groupby([schema.ALERT_ID, generate.PERIOD])[generate.MODE].value_counts(normalize=True)
    share.index = share.index.set_names([schema.ALERT_ID, generate.PERIOD, generate.MODE])
    counts = planned.groupby([schema.ALERT_ID, generate.PERIOD]).size()
    big = share[counts.reindex(share.index.droplevel(generate.MODE)).to_numpy() >= 60]
    assert len(big) > 10
    assert np.abs(big - weight.reindex(big.index)).max() < 0.2


def test_cold_start_definitions_fire_late_and_are_never_opened(world):
    cold = world.truth.loc[world.truth[generate.COLD_START], [schema.ALERT_ID, generate.SIMILAR_TO]].drop_duplicates()
    assert len(cold) == world.spec.accounts * world.spec.cold_start_per_account
    titles = (
        world.alerts.dropna(subset=[schema.ALERT_ID])
        .drop_duplicates(schema.ALERT_ID)
        .set_index(schema.ALERT_ID)[schema.ALERT_TITLE]
    )
    for alert_id, parent in zip(cold[schema.ALERT_ID], cold[generate.SIMILAR_TO]):
        assert titles[alert_id] != titles[parent]
        assert set(titles[parent].split()) - set(titles[alert_id].split()) <= {titles[parent].split()[-1]}
    fired = world.alerts[world.alerts[schema.ALERT_ID].isin(cold[schema.ALERT_ID])]
    first_day = pd.Timestamp(DAY - dt.timedelta(days=world.spec.cold_start_days), tz="UTC")
    assert (fired[schema.FIRED_AT] >= first_day).all()
    opened = world.actions[world.actions[schema.ACTION] == schema.ALERT_OPENED][schema.PAYLOAD]
    assert not opened.str.contains("|".join(fired[schema.ALERT_EVENT_ID])).any()
    never = ~world.alerts[schema.ALERT_EVENT_ID].isin(world.planned_sessions[schema.ALERT_EVENT_ID])
    assert never.mean() > 0.1  # plus regular firings nobody opened


def test_queries_vary_in_literals_and_term_order(clean_world):
    queries = clean_world.actions[clean_world.actions[schema.ACTION] == schema.QUERY_RUN]
    docs = _parsed(queries[schema.PAYLOAD])
    assert {d["query"]["language"] for d in docs} == set(schema.QUERY_LANGUAGES)
    lucene = [d["query"]["text"] for d in docs if d["query"]["language"] == "lucene"]
    literal = re.compile(
        r"ip-10-0-\d+-\d+|\b[0-9a-f]{12,}\b|[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}|[\w-]+-[0-9a-f]{6}-[0-9a-z]{5}|\d+(\.\d+)*"
    )
    orders: dict[frozenset, set] = {}
    for text in lucene:
        terms = tuple(literal.sub("<x>", term) for term in text.split(" AND "))
        orders.setdefault(frozenset(terms), set()).add(terms)
    assert len(set(lucene)) > 3 * len(orders)  # literals vary per use
    assert sum(len(o) > 1 for o in orders.values()) > len(orders) / 2  # and so does the term order
    assert any('"' in text for text in lucene)  # quoted phrases are kept as they are


def test_gaps_are_realistic(clean_world):
    actions = clean_world.actions.sort_values([schema.USER_ID, schema.TS])
    gaps = actions.groupby(schema.USER_ID)[schema.TS].diff().dropna().dt.total_seconds()
    in_session = gaps[gaps < 1800]
    assert 20 < in_session.median() < 300


def test_clean_world_has_no_dirt(clean_world):
    actions = clean_world.actions
    assert actions[[schema.EVENT_ID, schema.USER_ID, schema.TS, schema.ACTION]].notna().all().all()
    assert actions[schema.ACTION].isin(schema.KNOWN_ACTIONS).all()
    docs = _parsed(actions[schema.PAYLOAD])
    assert all(isinstance(d, dict) for d in docs)
    known = set(clean_world.alerts[schema.ALERT_EVENT_ID])
    opened = [d[schema.ALERT_EVENT_ID] for d, a in zip(docs, actions[schema.ACTION]) if a == schema.ALERT_OPENED]
    assert set(opened) <= known
    assert (actions[schema.DT] == actions[schema.TS].dt.strftime("%Y-%m-%d")).all()


def test_every_kind_of_dirt_is_present(world):
    actions = world.actions
    docs = _parsed(actions[schema.PAYLOAD])
    dup = actions[actions[schema.EVENT_ID].duplicated(keep=False) & actions[schema.EVENT_ID].notna()]
    copies = dup.groupby(schema.EVENT_ID).agg({schema.DT: "nunique", schema.PAYLOAD: "nunique"})
    assert (copies[schema.DT] == 1).any() and (copies[schema.DT] > 1).any() and (copies[schema.PAYLOAD] > 1).any()
    assert sum(d is None for d in docs) > 0  # malformed or truncated
    missing = [
        d
        for d, a in zip(docs, actions[schema.ACTION])
        if isinstance(d, dict)
        and (
            (a == schema.DASHBOARD_OPENED and "id" not in d["dashboard"])
            or (a == schema.QUERY_RUN and "text" not in d["query"])
            or (a == schema.ALERT_OPENED and schema.ALERT_EVENT_ID not in d)
        )
    ]
    assert missing
    assert set(generate.UNKNOWN_ACTIONS) <= set(actions[schema.ACTION].dropna())
    assert actions[schema.USER_ID].isna().any()
    assert actions[schema.EVENT_ID].isna().any() and actions[schema.ACTION].isna().any()
    assert actions[schema.TS].isna().any()
    firing_account = dict(zip(world.alerts[schema.ALERT_EVENT_ID], world.alerts[schema.ACCOUNT_ID]))
    orphans = foreign = 0
    for d, a, account in zip(docs, actions[schema.ACTION], actions[schema.ACCOUNT_ID]):
        if a == schema.ALERT_OPENED and isinstance(d, dict) and schema.ALERT_EVENT_ID in d:
            owner = firing_account.get(d[schema.ALERT_EVENT_ID])
            orphans += owner is None
            foreign += owner is not None and owner != account
    assert orphans > 0 and foreign > 0
    window_start = pd.Timestamp(DAY - dt.timedelta(days=28), tz="UTC")
    window_end = pd.Timestamp(DAY, tz="UTC")
    assert (actions[schema.TS] < window_start).any() and (actions[schema.TS] >= window_end).any()
    assert world.alerts[schema.ALERT_ID].isna().any()
    assert world.alerts[schema.ALERT_EVENT_ID].duplicated().any()


# --------------------------------------------------------------------------
# bundled fixtures
# --------------------------------------------------------------------------
def test_fixtures_are_small():
    files = [p for p in FIXTURES.rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" for p in files)
    assert sum(p.stat().st_size for p in files) < 1_000_000


def _contents(root: Path) -> dict[str, object]:
    """File contents, Parquet compared by its rows and schema (the footer records the pyarrow version)."""
    out: dict[str, object] = {}
    for name, data in _files(root).items():
        if name.endswith(".parquet"):
            table = pq.read_table(pa.BufferReader(data))
            out[name] = (table.schema.remove_metadata(), table.to_pylist())
        else:
            out[name] = data
    return out


def test_make_fixtures_reproduces_the_committed_fixtures(tmp_path):
    make_fixtures(tmp_path)
    committed, fresh = _contents(FIXTURES), _contents(tmp_path)
    assert sorted(committed) == sorted(fresh), "run: python -m tests.planted_fixtures --out data/fixtures"
    changed = [name for name in committed if committed[name] != fresh[name]]
    assert not changed, f"stale fixtures {changed[:5]}; run: python -m tests.planted_fixtures --out data/fixtures"


def _read_fixture(dataset: str) -> pd.DataFrame:
    frames = []
    for path in sorted((FIXTURES / dataset).glob("dt=*/part-0.parquet")):
        frame = pq.read_table(path).to_pandas()
        frame[schema.DT] = path.parent.name[3:]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def test_fixture_files_hold_the_planted_rows():
    actions, alerts = _read_fixture(schema.DATASET_ACTIONS), _read_fixture(schema.DATASET_ALERTS)
    planted = actions[actions[schema.ACCOUNT_ID].isin([900001, 900002])]
    rows = planted.dropna(subset=[schema.EVENT_ID]).groupby(schema.EVENT_ID)[schema.DT].agg(sorted)
    # a few rows spelled out here, as documented in data/fixtures/README.md
    assert rows["fx-c11-dup-cross"] == ["2026-01-21", "2026-01-22"]
    assert rows["fx-c11-dup-dt"] == ["2026-01-21", "2026-01-23"]
    assert rows["fx-c07-query"] == ["2026-02-01"] and rows["fx-c23-unread"] == ["2026-02-02"]
    by_id = planted.drop_duplicates(schema.EVENT_ID).set_index(schema.EVENT_ID)
    gap = by_id.loc["fx-c02-query", schema.TS] - by_id.loc["fx-c02-dash", schema.TS]
    assert gap == pd.Timedelta(minutes=30, microseconds=1)
    assert by_id.loc["fx-c01-query", schema.TS] - by_id.loc["fx-c01-dash", schema.TS] == pd.Timedelta(minutes=30)
    assert by_id.loc["fx-c06-10", schema.TS] - by_id.loc["fx-c06-open", schema.TS] == pd.Timedelta(hours=4)
    assert by_id.loc["fx-c07-at-d", schema.TS] == pd.Timestamp("2026-02-01", tz="UTC")
    for big in ("fx-c18-big-sql", "fx-c18-big-lucene"):
        assert len(json.loads(by_id.loc[big, schema.PAYLOAD])["query"]["text"]) > 10_240
    day12 = planted[planted[schema.DT] == "2026-01-12"][schema.EVENT_ID].tolist()
    assert day12 == ["fx-c03-resolve-b", "fx-c03-query-b", "fx-c03-open-b", "fx-c03-dash-a", "fx-c03-open-a"]
    assert planted[schema.USER_ID].isna().sum() == 2 and planted[schema.EVENT_ID].isna().sum() == 1
    alerts = alerts[alerts[schema.ACCOUNT_ID].isin([900001, 900002])]
    null_id = alerts[alerts[schema.ALERT_ID].isna()]
    assert null_id[schema.ALERT_EVENT_ID].tolist() == ["fx-ae-nullid"]
    assert (alerts[schema.ALERT_EVENT_ID] == "fx-ae-05").sum() == 2


def test_planted_json_matches_the_fixture_files():
    expected = json.loads((FIXTURES / "planted.json").read_text())
    actions = _read_fixture(schema.DATASET_ACTIONS)
    written = actions.dropna(subset=[schema.EVENT_ID]).groupby(schema.EVENT_ID)[schema.DT].agg(sorted)
    for event_id, rows in expected["actions"].items():
        assert written[event_id] == sorted(r[schema.DT] for r in rows), event_id
        assert all(r["reason"] in schema.ACTION_REASONS or r["reason"] == NOT_READ for r in rows)
    for session in expected["sessions"]:
        assert session[schema.END_REASON] in schema.END_REASONS
        assert set(session["item_event_ids"]) <= set(session["in_session_event_ids"])
        assert session[schema.SESSION_ID] in session["in_session_event_ids"]
    assert len(expected["sessions"]) == 16


def test_cli_writes_a_world(tmp_path):
    code = generate.main(
        ["world", "--out", str(tmp_path), "--actions", "2000", "--seed", "5", "--end-date", "2026-02-01"]
    )
    assert code == 0
    assert list((tmp_path / schema.DATASET_ACTIONS).glob("dt=2026-01-15/part-0.parquet"))
    assert generate.main(["world", "--out", str(tmp_path), "--actions", "5", "--end-date", "2026-02-01"]) != 0
