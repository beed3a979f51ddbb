"""The world's frames: the alerts and actions as the contract has them, the truth and the plan."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd

from alertrec import schema
from alertrec.generate.arrays import _DAY_US, _US, _day_strings, _to_timestamps
from alertrec.generate.catalog import _Catalog
from alertrec.generate.records import _Events, _Firings
from alertrec.generate.simulate import _literals, _sim_range
from alertrec.generate.spec import (
    CAUSE,
    COLD_START,
    FOUND,
    MODE,
    MODE_WEIGHT,
    NOVICE,
    PERIOD,
    PERIOD_END,
    PERIOD_START,
    QUERY_EXAMPLE,
    SIMILAR_TO,
    STEP,
    TRUTH_COLUMNS,
    WorldSpec,
)

log = logging.getLogger(__name__)


def _alerts_frame(spec: WorldSpec, catalog: _Catalog, firings: _Firings, rng: np.random.Generator) -> pd.DataFrame:
    n = len(firings.fired_us)
    definition = firings.definition
    alert_id = catalog.def_ids[definition].copy()
    title = catalog.def_titles[definition].copy()
    fired = firings.fired_us.copy()
    account = catalog.account_ids[catalog.def_account[definition]]
    severity = catalog.def_severity[definition].copy()
    aeid = firings.alert_event_ids.copy()

    # Dirt: a null alert_id on a few unopened firings, duplicated rows (some with another title).
    k = max(1, int(round(spec.dirt * n))) if spec.dirt > 0 else 0
    unopened = np.flatnonzero(~firings.opened & ~catalog.def_cold[definition])
    n_null = min(len(unopened), max(1, k // 4)) if k else 0
    alert_id[rng.choice(unopened, size=n_null, replace=False)] = None
    dup = rng.choice(n, size=min(k, n), replace=False)
    dup_title = title[dup].copy()
    differ = rng.random(len(dup)) < 0.3
    dup_title[differ] = dup_title[differ] + " (copy)"
    position = np.concatenate([np.arange(n), dup]).astype(np.float64)
    position[n:] += 0.5
    order = np.argsort(position, kind="stable")

    fired_all = np.concatenate([fired, fired[dup]])[order]
    frame = pd.DataFrame(
        {
            schema.ACCOUNT_ID: np.concatenate([account, account[dup]])[order].astype(np.int64),
            schema.ALERT_EVENT_ID: np.concatenate([aeid, aeid[dup]])[order],
            schema.ALERT_ID: np.concatenate([alert_id, alert_id[dup]])[order],
            schema.ALERT_TITLE: np.concatenate([title, dup_title])[order],
            schema.SEVERITY: np.concatenate([severity, severity[dup]])[order],
            schema.FIRED_AT: _to_timestamps(fired_all),
            schema.DT: _day_strings(fired_all // _DAY_US),
        }
    )
    return frame


def _actions_frame(catalog: _Catalog, events: _Events) -> pd.DataFrame:
    day = events.ts_us // _DAY_US + events.late_days
    order = np.lexsort((np.arange(len(day)), events.order_us, day))
    return pd.DataFrame(
        {
            schema.EVENT_ID: events.event_id[order],
            schema.ACCOUNT_ID: catalog.account_ids[events.account[order]].astype(np.int64),
            schema.USER_ID: events.user[order],
            schema.TS: _to_timestamps(events.ts_us[order], events.ts_null[order]),
            schema.ACTION: events.action[order],
            schema.PAYLOAD: events.payload[order],
            schema.DT: _day_strings(day[order]),
        }
    )


def _truth_frame(spec: WorldSpec, catalog: _Catalog, rng: np.random.Generator) -> pd.DataFrame:
    _, window_start, window_end, _ = _sim_range(spec)
    period_len = (window_end - window_start) // spec.n_periods
    bounds = [window_start + p * period_len for p in range(spec.n_periods)] + [window_end]
    example_ts = np.array([window_end - 3600 * _US], dtype=np.int64)
    examples: dict[int, str] = {}
    columns: dict[str, list[object]] = {name: [] for name in TRUTH_COLUMNS}
    for d in range(len(catalog.def_ids)):
        parent = int(catalog.def_parent[d])
        for m in range(int(catalog.def_nmodes[d])):
            for p in range(spec.n_periods):
                for s in range(int(catalog.mode_len[d, m])):
                    item = int(catalog.mode_steps[d, m, s])
                    ref = int(catalog.item_ref[item])
                    is_query = bool(catalog.item_is_query[item])
                    if is_query and ref not in examples:
                        tmpl = catalog.templates[ref]
                        text = "".join(
                            str(_literals(value, 1, example_ts, tmpl.svc, rng)[0])
                            if is_literal
                            else json.loads(f'"{value}"')
                            for is_literal, value in tmpl.parts(0)
                        )
                        examples[ref] = text
                    row = {
                        schema.ACCOUNT_ID: int(catalog.account_ids[catalog.def_account[d]]),
                        schema.ALERT_ID: catalog.def_ids[d],
                        schema.ALERT_TITLE: catalog.def_titles[d],
                        COLD_START: bool(catalog.def_cold[d]),
                        SIMILAR_TO: catalog.def_ids[parent] if parent >= 0 else None,
                        MODE: m,
                        CAUSE: catalog.def_causes[d][m],
                        PERIOD: p,
                        PERIOD_START: bounds[p],
                        PERIOD_END: bounds[p + 1],
                        MODE_WEIGHT: float(catalog.mode_weights[d, p, m]),
                        STEP: s,
                        schema.ITEM_TYPE: schema.ITEM_QUERY if is_query else schema.ITEM_DASHBOARD,
                        schema.ITEM_KEY: catalog.templates[ref].key if is_query else catalog.dash_ids[ref],
                        schema.ITEM_TITLE: None if is_query else catalog.dash_titles[ref],
                        schema.QUERY_LANGUAGE: catalog.templates[ref].language if is_query else None,
                        QUERY_EXAMPLE: examples[ref] if is_query else None,
                    }
                    for name, value in row.items():
                        columns[name].append(value)
    frame = pd.DataFrame(columns)
    for name in (PERIOD_START, PERIOD_END):
        frame[name] = _to_timestamps(np.asarray(frame[name], dtype=np.int64))
    frame[schema.ACCOUNT_ID] = frame[schema.ACCOUNT_ID].astype(np.int64)
    for name in (MODE, PERIOD, STEP):
        frame[name] = frame[name].astype(np.int64)
    return frame


def _planned_sessions_frame(catalog: _Catalog, firings: _Firings) -> pd.DataFrame:
    sess = np.flatnonzero(firings.opened)
    definition = firings.definition[sess]
    return pd.DataFrame(
        {
            schema.SESSION_ID: firings.session_ids,
            schema.ACCOUNT_ID: catalog.account_ids[catalog.def_account[definition]].astype(np.int64),
            schema.USER_ID: catalog.user_ids[firings.user[sess]],
            NOVICE: firings.novice[sess],
            schema.ALERT_EVENT_ID: firings.alert_event_ids[sess],
            schema.ALERT_ID: catalog.def_ids[definition],
            MODE: firings.mode[sess],
            PERIOD: firings.period[sess],
            FOUND: firings.found[sess],
            schema.RESOLVED: firings.resolved[sess],
            schema.STARTED_AT: _to_timestamps(firings.open_us[sess]),
            schema.N_EVENTS: firings.n_events[sess],
        }
    )
