"""Every planted row of data/fixtures lands where data/fixtures/planted.json says, row by row.

The per-row classification is the one of the plain-Python reference of the contract's
session rules (``tests/reference_sessionize.py``, which the Spark SQL extraction must agree
with row for row: ``tests/spark/test_differential.py``), so this needs no Spark. For each
planted row it checks the accounting reason (or ``not_read`` for a partition the run for
D does not read), and for each expected session its rows: the ``in_session`` ones and the
quarantined or ignored ones that only keep it alive. The reason counts are recounted from
the classification, not copied from the file.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pytest

from alertrec import schema as s
from alertrec.config import Config
from tests.conftest import FIXTURE_DAY, FIXTURES
from tests.planted_fixtures import NOT_READ
from tests.reference_sessionize import Classified, classify_rows


def _iso(ts: pd.Timestamp) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def _read_all(dataset: str) -> pd.DataFrame:
    """Every row of every partition of ``data/fixtures/dataset``, with ``dt`` as a string."""
    partitioning = pads.partitioning(pa.schema([(s.DT, pa.string())]), flavor="hive")
    data = pads.dataset(FIXTURES / dataset, format="parquet", partitioning=partitioning)
    # nullable integers stay integers (a null account_id must not turn the column into floats)
    return data.to_table().to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)


@pytest.fixture(scope="module")
def planted() -> dict:
    return json.loads((FIXTURES / "planted.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def config() -> Config:
    return Config(input_root=str(FIXTURES), output_root="unused", date=FIXTURE_DAY)


@pytest.fixture(scope="module")
def verdict(config) -> tuple[Classified, pd.DataFrame, pd.DataFrame]:
    """The reference's classification of the rows a run for D reads, and the rows it does not read.

    The contract's partition range: actions ``dt`` in ``[D - history, D]``, alerts one more day back.
    """
    day = config.date.isoformat()
    alerts, actions = _read_all(s.DATASET_ALERTS), _read_all(s.DATASET_ACTIONS)
    alerts_read = alerts[s.DT].between(config.alerts_from.date().isoformat(), day)
    actions_read = actions[s.DT].between(config.window_start.date().isoformat(), day)
    classified = classify_rows(
        alerts[alerts_read].reset_index(drop=True), actions[actions_read].reset_index(drop=True), config
    )
    return classified, alerts[~alerts_read], actions[~actions_read]


def _planted_rows(rows: Iterable[dict], accounts: set[int]) -> list[dict]:
    return [r for r in rows if not pd.isna(r[s.ACCOUNT_ID]) and int(r[s.ACCOUNT_ID]) in accounts]


def _by_id(rows: Iterable[dict], id_column: str) -> dict[str, list[dict[str, str]]]:
    """Per id, the sorted ``{dt, reason}`` of each row carrying it (the layout of planted.json)."""
    out: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        out.setdefault(str(row[id_column]), []).append({s.DT: row[s.DT], "reason": row["reason"]})
    return {key: sorted(value, key=lambda r: (r[s.DT], r["reason"])) for key, value in sorted(out.items())}


def _sorted(expected: dict[str, list[dict[str, str]]]) -> dict[str, list[dict[str, str]]]:
    return {key: sorted(value, key=lambda r: (r[s.DT], r["reason"])) for key, value in sorted(expected.items())}


def _action_rows(verdict, planted) -> list[dict]:
    """The planted accounts' action rows: classified ones, plus the unread ones as ``not_read``."""
    classified, _, unread_actions = verdict
    accounts = set(planted["accounts"])
    unread = [{**row, "reason": NOT_READ} for row in unread_actions.to_dict("records")]
    return _planted_rows([*classified.actions, *unread], accounts)


def _alert_rows(verdict, planted) -> list[dict]:
    classified, unread_alerts, _ = verdict
    accounts = set(planted["accounts"])
    unread = [{**row, "reason": NOT_READ} for row in unread_alerts.to_dict("records")]
    return _planted_rows([*classified.alerts, *unread], accounts)


def test_every_planted_action_row_has_its_expected_reason(verdict, planted):
    rows = _action_rows(verdict, planted)
    with_id = [r for r in rows if not pd.isna(r[s.EVENT_ID])]
    got = _by_id(with_id, s.EVENT_ID)
    want = _sorted(planted["actions"])
    assert sorted(got) == sorted(want)  # the same planted rows: none missing, none unplanned
    wrong = {event_id: (got[event_id], want[event_id]) for event_id in want if got[event_id] != want[event_id]}
    assert not wrong, wrong
    without_id = sorted(
        (
            {s.USER_ID: r[s.USER_ID], s.TS: _iso(r[s.TS]), s.DT: r[s.DT], "reason": r["reason"]}
            for r in rows
            if pd.isna(r[s.EVENT_ID])
        ),
        key=lambda r: (r[s.DT], r[s.TS]),
    )
    assert without_id == sorted(planted["actions_without_event_id"], key=lambda r: (r[s.DT], r[s.TS]))


def test_every_planted_alert_row_has_its_expected_reason(verdict, planted):
    got = _by_id(_alert_rows(verdict, planted), s.ALERT_EVENT_ID)
    want = _sorted(planted["alerts"])
    assert got == want


def test_the_reason_counts_are_recounted_from_the_classification(verdict, planted):
    actions = Counter(r["reason"] for r in _action_rows(verdict, planted))
    alerts = Counter(r["reason"] for r in _alert_rows(verdict, planted))
    assert dict(sorted(actions.items())) == planted["action_reason_counts"]
    assert dict(sorted(alerts.items())) == planted["alert_reason_counts"]
    # every kind of dirt of the contract is planted at least once
    for reason in s.ACTION_REASONS:
        assert actions[reason] > 0, reason
    assert actions[NOT_READ] > 0 and alerts[NOT_READ] > 0


def test_every_expected_session_holds_exactly_its_rows(verdict, planted):
    classified, _, _ = verdict
    accounts = set(planted["accounts"])
    found = {
        session["open"][s.EVENT_ID]: session
        for session in classified.sessions
        if int(session["open"][s.ACCOUNT_ID]) in accounts
    }
    expected = {e[s.SESSION_ID]: e for e in planted["sessions"]}
    assert sorted(found) == sorted(expected)  # no session missing, none unplanned
    for session_id, want in expected.items():
        session = found[session_id]
        events = session["events"]
        in_session = [e[s.EVENT_ID] for e in events if e["reason"] == s.R_IN_SESSION]
        gap_only = [e[s.EVENT_ID] for e in events if e["reason"] != s.R_IN_SESSION]
        assert in_session == want["in_session_event_ids"], session_id
        assert sorted(gap_only) == sorted(want["gap_only_event_ids"]), session_id
        assert session["end_reason"] == want[s.END_REASON], session_id
        assert session["firing"][s.ALERT_EVENT_ID] == want[s.ALERT_EVENT_ID], session_id
        assert session["firing"][s.ALERT_ID] == want[s.ALERT_ID], session_id
        assert _iso(events[0][s.TS]) == want[s.STARTED_AT] and _iso(events[-1][s.TS]) == want[s.ENDED_AT], session_id
        items = [e[s.EVENT_ID] for e in events if e["item"] is not None]
        assert items == want["item_event_ids"], session_id


def test_every_in_session_row_belongs_to_exactly_one_expected_session(planted):
    members = Counter(e for session in planted["sessions"] for e in session["in_session_event_ids"])
    assert all(n == 1 for n in members.values()), [e for e, n in members.items() if n > 1]
    in_session = {
        event_id for event_id, rows in planted["actions"].items() if any(r["reason"] == s.R_IN_SESSION for r in rows)
    }
    assert set(members) == in_session
