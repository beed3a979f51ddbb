"""Explode the JSON payloads of the sessions' items into tidy columns.

Contract: ``dashboard_opened`` payloads carry ``dashboard``, ``panels`` and
``time_range``; ``query_run`` payloads carry ``query``, ``filters`` and
``index`` (see ``shared/contract.md``). The Spark extraction already pulled
the fields that identify an item; this stage parses the rest of the payload
of every item used in a session.

Parsing runs in the parent process with orjson: measured here, a 2-process
pool parsed JSON at only 50-66 % efficiency because the texts have to be
pickled to the workers, while orjson parses ~1 M small payloads in about a
second. The process pool is kept for the CPU-heavy DTW (:mod:`alertrec.stages.cluster`).
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
import pandas as pd

from alertrec import schema as S

log = logging.getLogger(__name__)

PANEL_COUNT = "panel_count"
PANEL_TYPES = "panel_types"  # sorted distinct panel types, ','-joined
TIME_FROM = "time_from"
TIME_TO = "time_to"
FILTER_FIELDS = "filter_fields"  # sorted distinct filter fields, ','-joined
FILTER_COUNT = "filter_count"
INDEX = "index"
EXPLODE_REASON = "explode_reason"  # null when the payload parsed

EXPLODED_COLUMNS = (PANEL_COUNT, PANEL_TYPES, TIME_FROM, TIME_TO, FILTER_FIELDS, FILTER_COUNT, INDEX)

R_EXPLODE_MALFORMED = "malformed_payload"
R_EXPLODE_NOT_OBJECT = "payload_not_an_object"
R_EXPLODE_BAD_FIELD = "payload_field_of_wrong_type"


def _strings(values: Any, key: str) -> list[str] | None:
    """Distinct string values of ``key`` in a list of objects; None if the shape is wrong."""
    if values is None:
        return []
    if not isinstance(values, list):
        return None
    out = set()
    for v in values:
        if not isinstance(v, dict):
            return None
        x = v.get(key)
        if x is not None:
            out.add(str(x))
    return sorted(out)


def explode_one(item_type: str, payload: str | None) -> tuple[dict[str, Any], str | None]:
    """Parse one payload into the exploded fields and a quarantine reason (None when fine).

    Parameters
    ----------
    item_type : str
        ``dashboard`` or ``query``.
    payload : str or None
        The raw JSON text.

    Returns
    -------
    (dict, str or None)
        Field values (missing ones absent) and the reason the payload could
        not be exploded.
    """
    if payload is None:
        return {}, R_EXPLODE_MALFORMED
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return {}, R_EXPLODE_MALFORMED
    if not isinstance(obj, dict):
        return {}, R_EXPLODE_NOT_OBJECT
    out: dict[str, Any] = {}
    if item_type == S.ITEM_DASHBOARD:
        panels = obj.get("panels")
        types = _strings(panels, "type")
        tr = obj.get("time_range")
        if types is None or (tr is not None and not isinstance(tr, dict)):
            return {}, R_EXPLODE_BAD_FIELD
        out[PANEL_COUNT] = len(panels) if isinstance(panels, list) else 0
        out[PANEL_TYPES] = ",".join(types)
        if isinstance(tr, dict):
            out[TIME_FROM] = None if tr.get("from") is None else str(tr.get("from"))
            out[TIME_TO] = None if tr.get("to") is None else str(tr.get("to"))
    else:
        filters = obj.get("filters")
        fields = _strings(filters, "field")
        index = obj.get("index")
        if fields is None or (index is not None and not isinstance(index, str)):
            return {}, R_EXPLODE_BAD_FIELD
        out[FILTER_FIELDS] = ",".join(fields)
        out[FILTER_COUNT] = len(filters) if isinstance(filters, list) else 0
        out[INDEX] = index
    return out, None


def explode_payloads(items: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Add the exploded payload columns to the session items.

    Parameters
    ----------
    items : pandas.DataFrame
        Session items with ``event_id``, ``item_type`` and ``payload`` (the raw text).

    Returns
    -------
    exploded : pandas.DataFrame
        The items without ``payload`` and with ``panel_count, panel_types,
        time_from, time_to`` (dashboards) and ``filter_fields, filter_count,
        index`` (queries) added; an item whose payload could not be exploded
        keeps its row (it is still a valid item) with nulls there.
    quarantine : pandas.DataFrame
        ``event_id, reason`` of those payloads, to be counted in the run report.
    """
    records = []
    reasons = []
    for event_id, item_type, payload in zip(items[S.EVENT_ID], items[S.ITEM_TYPE], items[S.PAYLOAD]):
        fields, reason = explode_one(item_type, payload)
        records.append(fields)
        if reason is not None:
            reasons.append((event_id, reason))
    exploded = pd.DataFrame.from_records(records, index=items.index, columns=list(EXPLODED_COLUMNS))
    exploded = exploded.astype({PANEL_COUNT: "Int64", FILTER_COUNT: "Int64"})
    for col in (PANEL_TYPES, TIME_FROM, TIME_TO, FILTER_FIELDS, INDEX):
        exploded[col] = exploded[col].astype(object).where(exploded[col].notna(), None)
    out = pd.concat([items.drop(columns=[S.PAYLOAD]), exploded], axis=1)
    quarantine = pd.DataFrame(reasons, columns=[S.EVENT_ID, S.REASON])
    if len(quarantine):
        log.warning("explode: %d payloads quarantined (%s)", len(quarantine), quarantine[S.REASON].value_counts().to_dict())
    return out, quarantine
