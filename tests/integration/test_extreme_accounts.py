"""Issue 8, bounded memory: a bot user with 200,000 events in a day and an account with
50,000 alert definitions complete in the same memory as the rest (the run's process tree
under the 4 GiB of the 2M-row world), with every row accounted for.

The world is a small generated one plus two hand-built extremes whose answer is known:

* **the bot** (``bot-synthetics`` in the generated world's largest account, on ``D-1``):
  one alert opened, then 100,000 query runs 0.1 s apart (2.8 h: one session, under the
  4 h ``max_duration``, never idle); then 5,000 short sessions of one ``alert_opened``
  and 19 query runs or dashboard opens each: 200,000 events, 5,001 sessions.
* **the 50k account** (account 990001): 50,000 definitions that each fired once on
  ``D-1`` under ten title families (``'Disk usage high on host-00042'``), and 400
  investigated firings whose dashboards are those of their family: every fired
  definition gets a list (its own history or borrowed from a similar title).
"""

from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from alertrec import schema as S
from alertrec.config import Config
from alertrec.generate import WorldSpec, generate_world, write_world
from alertrec.io.publish import read_day
from alertrec.io.storage import storage_for
from alertrec.pipeline import run_day
from tests.output_contract import check_recommendations

pytestmark = [pytest.mark.spark, pytest.mark.slow]

DAY = dt.date(2026, 2, 1)
EVE = pd.Timestamp("2026-01-31T01:00:00", tz="UTC")
BOT = "bot-synthetics"
BIG_ACCOUNT = 990001
N_DEFINITIONS = 50_000
FAMILIES = (
    "Disk usage high on",
    "CPU saturation on",
    "Memory pressure on",
    "Packet loss on",
    "Latency p99 over SLO on",
    "Error budget burn on",
    "Pod restarts on",
    "TLS expiry on",
    "Queue backlog on",
    "Replica lag on",
)
GIB = 2**30


def _event_rows(
    account: int, user: str, start: pd.Timestamp, step_s: float, actions: list[str], payloads: list[str], prefix: str
) -> pd.DataFrame:
    n = len(actions)
    ts = start + pd.to_timedelta(np.arange(n) * step_s, unit="s")
    return pd.DataFrame(
        {
            S.EVENT_ID: [f"{prefix}-{i:07d}" for i in range(n)],
            S.ACCOUNT_ID: account,
            S.USER_ID: user,
            S.TS: ts,
            S.ACTION: actions,
            S.PAYLOAD: payloads,
        }
    )


def _opened(event: str, alert: str) -> str:
    return json.dumps({"alert_event_id": event, "alert_id": alert, "source": "ui"})


def _query(i: int) -> str:
    text = f"service:svc{i % 40} AND host:ip-10-0-{i % 250}-{i % 7} AND level:error"
    return json.dumps({"query": {"text": text, "language": "lucene"}, "filters": [], "index": "logs-*"})


def _dashboard(did: str, title: str) -> str:
    return json.dumps(
        {
            "dashboard": {"id": did, "title": title},
            "panels": [{"id": "p1", "type": "logs"}],
            "time_range": {"from": "now-1h", "to": "now"},
        }
    )


def _alert_rows(
    account: int, events: list[str], alerts: list[str], titles: list[str], fired: pd.DatetimeIndex
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            S.ACCOUNT_ID: account,
            S.ALERT_EVENT_ID: events,
            S.ALERT_ID: alerts,
            S.ALERT_TITLE: titles,
            S.SEVERITY: "HIGH",
            S.FIRED_AT: fired,
        }
    )


def _bot(account: int, alert_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The bot's firings and its 200,000 events (see the module docstring)."""
    firings = [f"ae-bot-{k:02d}" for k in range(20)]
    alerts = _alert_rows(
        account,
        firings,
        [alert_id] * 20,
        ["Synthetic check failed"] * 20,
        pd.DatetimeIndex([EVE - pd.Timedelta(minutes=5)] * 20),
    )
    long_actions = ["alert_opened"] + ["query_run"] * 99_999
    long_payloads = [_opened(firings[0], alert_id)] + [_query(i) for i in range(99_999)]
    long = _event_rows(account, BOT, EVE, 0.1, long_actions, long_payloads, "bot-long")
    short_actions, short_payloads = [], []
    for s in range(5_000):
        short_actions.append("alert_opened")
        short_payloads.append(_opened(firings[s % 20], alert_id))
        for j in range(19):
            if j % 4 == 0:
                short_actions.append("dashboard_opened")
                short_payloads.append(_dashboard(f"dsh-bot-{j}", f"Synthetics {j}"))
            else:
                short_actions.append("query_run")
                short_payloads.append(_query(s * 19 + j))
    # after the long session's 10,000 s; 0.4 s apart (never idle, each session 8 s)
    short = _event_rows(
        account, BOT, EVE + pd.Timedelta(seconds=10_100), 0.4, short_actions, short_payloads, "bot-short"
    )
    return alerts, pd.concat([long, short], ignore_index=True)


def _big_account() -> tuple[pd.DataFrame, pd.DataFrame]:
    """50,000 definitions that fired once each, 400 of them investigated."""
    rng = np.random.default_rng(8)
    ids = [f"alr-big-{i:05d}" for i in range(N_DEFINITIONS)]
    titles = [f"{FAMILIES[i % len(FAMILIES)]} host-{i:05d}" for i in range(N_DEFINITIONS)]
    fired = EVE + pd.to_timedelta(rng.integers(0, 20 * 3600, N_DEFINITIONS), unit="s")
    events = [f"ae-big-{i:05d}" for i in range(N_DEFINITIONS)]
    alerts = _alert_rows(BIG_ACCOUNT, events, ids, titles, pd.DatetimeIndex(fired))
    parts = []
    step = N_DEFINITIONS // 400
    for k in range(400):
        i = k * step // 10 * 10 + k % len(FAMILIES)  # 40 investigated firings in every family
        family = i % len(FAMILIES)
        actions = ["alert_opened", "dashboard_opened", "dashboard_opened", "alert_resolved"]
        payloads = [
            _opened(events[i], ids[i]),
            _dashboard(f"dsh-fam-{family}", f"{FAMILIES[family]} overview"),
            _dashboard(f"dsh-fam-{family}-detail", f"{FAMILIES[family]} detail"),
            json.dumps({"alert_event_id": events[i]}),
        ]
        parts.append(
            _event_rows(
                BIG_ACCOUNT,
                f"usr-big-{k % 25:02d}",
                pd.Timestamp(fired[i]) + pd.Timedelta(minutes=2),
                60.0,
                actions,
                payloads,
                f"big-{k:03d}",
            )
        )
    return alerts, pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def extreme_world(tmp_path_factory):
    base = generate_world(WorldSpec.for_actions(6_000, end_date=DAY, days=14), seed=4)
    account = int(base.actions[S.ACCOUNT_ID].value_counts().idxmax())
    bot_alerts, bot_events = _bot(account, "alr-synthetic-check")
    big_alerts, big_events = _big_account()
    alerts = pd.concat(
        [
            base.alerts,
            bot_alerts.assign(dt=bot_alerts[S.FIRED_AT].dt.strftime("%Y-%m-%d")),
            big_alerts.assign(dt=big_alerts[S.FIRED_AT].dt.strftime("%Y-%m-%d")),
        ],
        ignore_index=True,
    )
    extra = pd.concat([bot_events, big_events], ignore_index=True)
    actions = pd.concat([base.actions, extra.assign(dt=extra[S.TS].dt.strftime("%Y-%m-%d"))], ignore_index=True)
    root = tmp_path_factory.mktemp("extreme-world")
    write_world(SimpleNamespace(alerts=alerts, actions=actions), root)

    # the run reads the window's partitions and day D's (late rows of the window's last session);
    # firings also from the day before the window (the alert lookback)
    def read(frame: pd.DataFrame, lookback_days: int) -> int:
        return int(frame["dt"].between(str(DAY - dt.timedelta(days=14 + lookback_days)), str(DAY)).sum())

    return SimpleNamespace(
        root=root, bot_account=account, actions=read(actions, 0), alerts=read(alerts, 1), bot_events=len(bot_events)
    )


@pytest.fixture(scope="module")
def extreme_run(spark, extreme_world, tmp_path_factory):
    out = tmp_path_factory.mktemp("extreme-out")
    config = Config(
        input_root=str(extreme_world.root),
        output_root=str(out),
        date=DAY,
        history_days=14,
        generated_at=dt.datetime(2026, 2, 1, 4, tzinfo=dt.UTC),
        run_id="extreme",
    )
    return run_day(config, spark=spark), out


def test_the_run_publishes_within_the_memory_of_the_2m_world(extreme_world, extreme_run):
    report, out = extreme_run
    assert extreme_world.bot_events == 200_000
    assert report["status"] == "published"
    assert report["peak_memory_bytes"] < 4 * GIB, report["peak_memory_bytes"] / GIB
    rows = report["rows"]
    for dataset, n in (("actions", extreme_world.actions), ("alerts", extreme_world.alerts)):
        r = rows[dataset]
        assert r["read"] == n and r["reconciled"]
        assert r["read"] == r["used"] + r["quarantined"] + r["ignored"]
    check_recommendations(read_day(storage_for(str(out)), DAY), top_k=10)


def test_the_bot_is_one_long_and_5000_short_sessions_and_its_alert_gets_a_list(extreme_world, extreme_run):
    report, out = extreme_run
    day = read_day(storage_for(str(out)), DAY).to_pandas()
    bot_list = day[(day[S.ACCOUNT_ID] == extreme_world.bot_account) & (day[S.ALERT_ID] == "alr-synthetic-check")]
    # the bot's dashboards (opened in every short session) lead its alert's list
    assert len(bot_list) == 10
    assert set(bot_list.loc[bot_list[S.ITEM_TYPE] == S.ITEM_DASHBOARD, S.ITEM_ID]) >= {
        f"dsh-bot-{j}" for j in (0, 4, 8)
    }
    # all 200,000 bot events are used in sessions: none is lost to a cap
    assert report["rows"]["actions"]["by_reason"]["used"]["in_session"] >= 200_000


def test_every_one_of_the_50k_definitions_gets_a_list(extreme_run):
    _report, out = extreme_run
    day = read_day(storage_for(str(out)), DAY).to_pandas()
    big = day[day[S.ACCOUNT_ID] == BIG_ACCOUNT]
    assert big[S.ALERT_ID].nunique() == N_DEFINITIONS
    # each list shows its own family's dashboards first (history or a similar title)
    sample = big[big[S.RANK] == 1].sample(200, random_state=0)
    family = sample[S.ALERT_ID].str[-5:].astype(int) % len(FAMILIES)
    own = [item == f"dsh-fam-{f}" or item == f"dsh-fam-{f}-detail" for item, f in zip(sample[S.ITEM_ID], family)]
    assert np.mean(own) == 1.0, sample.loc[~np.array(own), [S.ALERT_ID, S.ITEM_ID]].head(10)
