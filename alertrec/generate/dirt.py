"""Dirt: every kind of bad row of the contract, mixed into the clean action rows.

Duplicates (also across ``dt`` partitions and with differing payloads),
malformed or truncated JSON, payloads missing the needed field, unknown
actions, orphan ``alert_opened``, null ``user_id``, null required fields and
rows written out of ``ts`` order.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

import numpy as np

from alertrec import schema
from alertrec.generate.arrays import _HEX, _US, _random_strings, _unique_random_strings
from alertrec.generate.records import _K_DASH, _K_OPEN, _K_OTHER, _K_QUERY, _Events, _Firings

if TYPE_CHECKING:  # pragma: no cover
    from alertrec.generate.catalog import _Catalog
    from alertrec.generate.spec import WorldSpec

log = logging.getLogger(__name__)

UNKNOWN_ACTIONS = ("page_view", "settings_changed")


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


def _add_dirt(spec: WorldSpec, catalog: _Catalog, firings: _Firings, events: _Events, rng: np.random.Generator) -> None:
    """Mutate and extend the clean rows with every kind of dirt of the contract; assign event ids."""
    n = len(events.ts_us)
    total = int(round(spec.dirt * n))
    counts = {name: int(round(total * share)) for name, share in _DIRT_SHARES.items()}
    shuffled = rng.permutation(n)
    cursor = 0

    def take(k: int) -> np.ndarray:
        nonlocal cursor
        rows = shuffled[cursor : cursor + k]
        cursor += len(rows)
        return rows

    # Mutations of disjoint rows first, then the added rows copy or anchor on others.
    with_fields = np.isin(events.kind[shuffled[cursor:]], (_K_OPEN, _K_DASH, _K_QUERY))
    candidates = shuffled[cursor:][with_fields]
    missing_rows = candidates[-counts["missing_field"] :] if counts["missing_field"] else candidates[:0]
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
    dup_late = np.where(
        how < 0.5,
        events.late_days[duplicate_src],
        (events.late_days[duplicate_src] + rng.integers(1, 3, size=len(duplicate_src))) % 3,
    )
    dup_payload = events.payload[duplicate_src].copy()
    differ = np.flatnonzero(how >= 0.8)
    for i in differ:
        dup_payload[i] = _differing_copy(dup_payload[i])
    src = duplicate_src
    events.append(
        event_id=events.event_id[src],
        account=events.account[src],
        user=events.user[src],
        ts_us=events.ts_us[src],
        ts_null=events.ts_null[src],
        action=events.action[src],
        payload=dup_payload,
        late_days=dup_late,
        order_us=events.order_us[src] + rng.integers(1, 30 * _US, size=len(src)),
        kind=np.full(len(src), _K_OTHER, dtype=np.int8),
    )

    # Unknown actions near a user's events (often inside a session).
    anchors = unknown_anchor
    ts = events.ts_us[anchors] + rng.integers(_US, 60 * _US, size=len(anchors))
    choice = rng.integers(0, len(_UNKNOWN_PAYLOADS), size=len(anchors))
    events.append(
        event_id=ids[n : n + len(anchors)],
        account=events.account[anchors],
        user=events.user[anchors],
        ts_us=ts,
        ts_null=np.zeros(len(anchors), dtype=bool),
        action=np.asarray([a for a, _ in _UNKNOWN_PAYLOADS], dtype=object)[choice],
        payload=np.asarray([p for _, p in _UNKNOWN_PAYLOADS], dtype=object)[choice],
        late_days=_late_days(spec, len(anchors), rng),
        order_us=ts,
        kind=np.full(len(anchors), _K_OTHER, dtype=np.int8),
    )

    # Orphan alert_opened: an unknown firing, or a firing of another account.
    anchors = orphan_anchor
    k = len(anchors)
    ts = events.ts_us[anchors] + rng.integers(_US, 120 * _US, size=k)
    other = rng.integers(0, len(firings.fired_us), size=k)
    other_account = catalog.def_account[firings.definition[other]]
    foreign = (rng.random(k) < 0.2) & (other_account != events.account[anchors])
    aeid = np.where(foreign, firings.alert_event_ids[other], "ae-" + _random_strings(rng, k, 14, _HEX) + "x")
    alert_id = np.where(foreign, catalog.def_ids[firings.definition[other]], "alr-unknown")
    events.append(
        event_id=ids[n + len(unknown_anchor) :],
        account=events.account[anchors],
        user=events.user[anchors],
        ts_us=ts,
        ts_null=np.zeros(k, dtype=bool),
        action=np.full(k, schema.ALERT_OPENED, dtype=object),
        payload='{"alert_event_id": "' + aeid + '", "alert_id": "' + alert_id + '", "source": "ui"}',
        late_days=_late_days(spec, k, rng),
        order_us=ts,
        kind=np.full(k, _K_OTHER, dtype=np.int8),
    )
    log.debug("dirt: %s", counts)


def _late_days(spec: WorldSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    """Days between each of ``n`` rows' ``ts`` day and its ``dt``: 1 or 2 for ``spec.late_share`` of them."""
    u = rng.random(n)
    return np.where(u < spec.late_share / 3.0, 2, np.where(u < spec.late_share, 1, 0)).astype(np.int64)


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
