"""A small hand-made account and its serving folder, built once for the serving tests.

Account 7, alert ``a1`` ("High 5xx rate on api"), 20 days of history before 2026-02-01:
every day two investigations, one per failure mode, each resolved:

* bad deploy: ``dash-overview`` -> ``dash-deploys`` -> the query
  ``service:api AND version:<hex>`` (the root cause);
* pool exhausted: ``dash-overview`` -> the SQL pool query -> ``dash-pg`` (the root cause).

Alert ``a2`` has one mode: ``dash-kafka`` -> ``dash-brokers``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from alertrec import schema as S
from alertrec.config import Config
from alertrec.stages.normalize import canonical_query, normalize_items, query_item_id

DAY = dt.date(2026, 2, 1)
ACCOUNT = 7
DEPLOY_QUERY = "service:api AND version:{hex}"
POOL_QUERY = "SELECT count(*) FROM logs WHERE service = 'api' AND message LIKE '%pool exhausted%'"
DEPLOY_ID = query_item_id(canonical_query(DEPLOY_QUERY.format(hex="9f8e7d6c5b4a"), "lucene"))
POOL_ID = query_item_id(canonical_query(POOL_QUERY, "sql"))

MODES = {
    "a1": [
        [
            ("dashboard", "dash-overview", "Service overview: api", None),
            ("dashboard", "dash-deploys", "Deployments: api", None),
            ("query", DEPLOY_QUERY, None, "lucene"),
        ],
        [
            ("dashboard", "dash-overview", "Service overview: api", None),
            ("query", POOL_QUERY, None, "sql"),
            ("dashboard", "dash-pg", "PostgreSQL: connections", None),
        ],
    ],
    "a2": [
        [
            ("dashboard", "dash-kafka", "Kafka: consumer groups", None),
            ("dashboard", "dash-brokers", "Kafka: brokers", None),
        ],
    ],
}
TITLES = {"a1": "High 5xx rate on api", "a2": "Kafka consumer lag on orders"}


def account_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sessions and normalized items of the account (docs/frames.md)."""
    sessions, items = [], []
    for day in range(20, 0, -1):
        base = pd.Timestamp(DAY, tz="UTC") - pd.Timedelta(days=day)
        for alert_id, modes in MODES.items():
            for m, steps in enumerate(modes):
                sid = f"s-{alert_id}-{day:02d}-{m}"
                start = base + pd.Timedelta(hours=2 + 3 * m + (alert_id == "a2"))
                for seq, (item_type, key, title, language) in enumerate(steps):
                    ts = start + pd.Timedelta(seconds=60 * (seq + 1))
                    items.append(
                        {
                            S.SESSION_ID: sid,
                            S.ACCOUNT_ID: ACCOUNT,
                            S.USER_ID: "u1",
                            S.ALERT_ID: alert_id,
                            S.SEQ: seq,
                            S.EVENT_ID: f"{sid}-e{seq}",
                            S.TS: ts,
                            S.OFFSET_S: 60.0 * (seq + 1),
                            S.ITEM_TYPE: item_type,
                            S.ITEM_KEY: key.format(hex=f"{day:02d}ab34cd56ef"),
                            S.ITEM_TITLE: title,
                            S.QUERY_LANGUAGE: language,
                        }
                    )
                end = start + pd.Timedelta(seconds=60 * (len(steps) + 1))
                sessions.append(
                    {
                        S.SESSION_ID: sid,
                        S.ACCOUNT_ID: ACCOUNT,
                        S.USER_ID: "u1",
                        S.ALERT_EVENT_ID: f"ae-{sid}",
                        S.ALERT_ID: alert_id,
                        S.ALERT_TITLE: TITLES[alert_id],
                        S.SEVERITY: "HIGH",
                        S.FIRED_AT: start,
                        S.STARTED_AT: start,
                        S.ENDED_AT: end,
                        S.DURATION_S: (end - start).total_seconds(),
                        S.RESOLVED: True,
                        S.END_REASON: S.END_RESOLVED,
                        S.N_EVENTS: len(steps) + 2,
                        S.N_ITEMS: len(steps),
                    }
                )
    return pd.DataFrame(sessions), normalize_items(pd.DataFrame(items), link_threshold=95.0)


def published_lists() -> pd.DataFrame:
    """The day's published rows (contract columns) of the account."""
    rows = []
    lists = {
        "a1": [
            ("dashboard", "dash-overview", "Service overview: api"),
            ("query", DEPLOY_ID, "service:api AND version:01ab34cd56ef"),
            ("dashboard", "dash-pg", "PostgreSQL: connections"),
            ("dashboard", "dash-deploys", "Deployments: api"),
            ("query", POOL_ID, POOL_QUERY),
        ],
        "a2": [("dashboard", "dash-kafka", "Kafka: consumer groups"), ("dashboard", "dash-brokers", "Kafka: brokers")],
    }
    for alert_id, entries in lists.items():
        for rank, (item_type, item_id, label) in enumerate(entries, start=1):
            rows.append(
                {
                    S.ACCOUNT_ID: ACCOUNT,
                    S.ALERT_ID: alert_id,
                    S.RANK: rank,
                    S.ITEM_TYPE: item_type,
                    S.ITEM_ID: item_id,
                    S.ITEM_LABEL: label,
                    S.SCORE: 10.0 - rank,
                    S.REASON_TEXT: f"opened in {20 - rank} of 40 investigations of this alert",
                    S.MODEL_VERSION: "mxnet-v1-test",
                    S.GENERATED_AT: pd.Timestamp("2026-02-01", tz="UTC"),
                }
            )
    return pd.DataFrame(rows)


RANKER_FILES = {"shared/mxnet-v1-test/model.params": b"\x00params", "shared/mxnet-v1-test/encoding.json": b"{}\n"}


@pytest.fixture(scope="session")
def serving_files() -> dict[str, bytes]:
    """The serving folder's files of the account (the next-step MLP trained for 5 epochs)."""
    from alertrec.serving.bundle import build_serving_files
    from alertrec.stages.cluster import ClusterParams, cluster_sessions

    sessions, items = account_frames()
    clusters = cluster_sessions(sessions, items, ClusterParams())
    return build_serving_files(
        ACCOUNT,
        DAY,
        sessions,
        items,
        clusters,
        published_lists(),
        RANKER_FILES,
        Config(input_root="x", date=DAY, seed=3),
        epochs=5,
    )


@pytest.fixture(scope="session")
def serving_root(tmp_path_factory, serving_files) -> Path:
    """An output root with the folder under models/serving/dt=D/account=7/ and a copy as account 8."""
    from alertrec.serving.bundle import serving_prefix

    root = tmp_path_factory.mktemp("warehouse")
    for account in (ACCOUNT, 8):
        folder = root / serving_prefix(DAY, account)
        for name, data in serving_files.items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    return root


def event(event_id: str, seconds: float, action: str, payload: str) -> dict:
    """One raw UI event of the investigation (``ts`` = 2026-02-01 10:00 + seconds)."""
    ts = pd.Timestamp("2026-02-01T10:00:00Z") + pd.Timedelta(seconds=seconds)
    return {"event_id": event_id, "ts": ts.isoformat().replace("+00:00", "Z"), "action": action, "payload": payload}


def opened(alert_id: str = "a1") -> dict:
    return event("open", 0, "alert_opened", f'{{"alert_event_id": "ae-x", "alert_id": "{alert_id}", "source": "ui"}}')


def dashboard(event_id: str, seconds: float, dash_id: str) -> dict:
    return event(
        event_id, seconds, "dashboard_opened", f'{{"dashboard": {{"id": "{dash_id}", "title": "t"}}, "panels": []}}'
    )


def query(event_id: str, seconds: float, text: str, language: str = "lucene") -> dict:
    import json

    return event(event_id, seconds, "query_run", json.dumps({"query": {"text": text, "language": language}}))
