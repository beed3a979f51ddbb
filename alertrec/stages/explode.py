"""Explode the items' payload fields into tidy columns.

Contract: ``dashboard_opened`` payloads carry ``dashboard``, ``panels`` and
``time_range``; ``query_run`` payloads carry ``query``, ``filters`` and
``index`` (see ``docs/contract.md``). Each payload is parsed exactly once, by the
Spark SQL of the extraction (``sql/actions_events.sql``), which hands every item the
nested values it needs (the panels' types, the filters' fields, the time range, the
index) and the name of the first field of the wrong JSON type. This stage, run per
account in the process pool, turns those nested values into tidy columns and
quarantines the fields of payloads of the wrong shape (the item itself stays).

:func:`explode_one` does the same for one raw JSON text (orjson): the serving code
judges the raw events of an investigation in progress with it.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
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


def explode_items(items: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Turn the items' nested payload fields into tidy columns (the nightly job's explode).

    Parameters
    ----------
    items : pandas.DataFrame
        Session items (docs/frames.md) with the payload fields of the extraction:
        ``panel_types`` and ``filter_fields`` (lists or None), ``time_from``, ``time_to``,
        ``index`` and ``payload_shape`` (None, or the first field of the wrong JSON type).

    Returns
    -------
    exploded : pandas.DataFrame
        The items with :data:`EXPLODED_COLUMNS` instead of the nested fields: ``panel_count``,
        ``panel_types`` (sorted distinct types, ``,``-joined), ``time_from``, ``time_to``
        (dashboards), ``filter_fields``, ``filter_count``, ``index`` (queries). An item whose
        payload has a field of the wrong type keeps its row with nulls there.
    quarantine : pandas.DataFrame
        ``event_id, reason`` of those payloads, counted in the run report.
        The input is not modified.
    """
    is_dash = (items[S.ITEM_TYPE] == S.ITEM_DASHBOARD).to_numpy()
    bad = items[S.PAYLOAD_SHAPE].notna().to_numpy()
    n = len(items)
    panel_count = np.zeros(n, dtype=np.int64)
    panel_types: list[str | None] = [None] * n
    filter_count = np.zeros(n, dtype=np.int64)
    filter_fields: list[str | None] = [None] * n
    for i, (dash, panels, filters) in enumerate(zip(is_dash, items[S.PANEL_TYPES], items[S.FILTER_FIELDS])):
        if bad[i]:
            continue
        if dash:
            values = [] if panels is None else list(panels)
            panel_count[i] = len(values)
            panel_types[i] = ",".join(sorted({v for v in values if v is not None}))
        else:
            values = [] if filters is None else list(filters)
            filter_count[i] = len(values)
            filter_fields[i] = ",".join(sorted({v for v in values if v is not None}))
    ok_dash, ok_query = is_dash & ~bad, ~is_dash & ~bad
    out = items.drop(columns=list(S.ITEM_PAYLOAD_COLUMNS))
    out[PANEL_COUNT] = pd.array(np.where(ok_dash, panel_count, 0), dtype="Int64")
    out[PANEL_COUNT] = out[PANEL_COUNT].where(ok_dash, pd.NA)
    out[PANEL_TYPES] = pd.Series(panel_types, index=items.index, dtype=object)
    out[TIME_FROM] = _objects(items[S.TIME_FROM].where(ok_dash, None))
    out[TIME_TO] = _objects(items[S.TIME_TO].where(ok_dash, None))
    out[FILTER_FIELDS] = pd.Series(filter_fields, index=items.index, dtype=object)
    out[FILTER_COUNT] = pd.array(filter_count, dtype="Int64")
    out[FILTER_COUNT] = out[FILTER_COUNT].where(ok_query, pd.NA)
    out[INDEX] = _objects(items[S.INDEX].where(ok_query, None))
    quarantine = pd.DataFrame(
        {S.EVENT_ID: items.loc[bad, S.EVENT_ID].to_numpy(dtype=object), S.REASON: R_EXPLODE_BAD_FIELD}
    )
    if len(quarantine):
        log.info("explode: %d payloads with a field of the wrong type", len(quarantine))
    return out, quarantine


def _objects(values: pd.Series) -> pd.Series:
    return values.astype(object).where(values.notna(), None)


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

    Notes
    -----
    For frames of raw events (the serving code's requests); the nightly job's items come
    with their payload fields already parsed, see :func:`explode_items`.
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
        log.warning(
            "explode: %d payloads quarantined (%s)", len(quarantine), quarantine[S.REASON].value_counts().to_dict()
        )
    return out, quarantine
