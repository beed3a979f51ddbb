"""The simulation: firings, who opens them, and the investigation sessions' events.

Experienced users go mostly straight to the effective steps of the firing's
failure mode and resolve; novices first wander through popular-but-irrelevant
items and resolve less often. Everything is drawn from the one generator
passed in, vectorised with numpy.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from alertrec.generate.arrays import _ALNUM, _DAY_US, _HEX, _US, _day_us, _random_strings, _str, _unique_random_strings
from alertrec.generate.catalog import _Catalog, _Template
from alertrec.generate.dirt import _DIRT_ADDED, _late_days
from alertrec.generate.kinds import _NUMBER_RANGES, _POPULAR_WEIGHTS, _TIME_RANGES
from alertrec.generate.records import _K_DASH, _K_OPEN, _K_QUERY, _K_RESOLVE, _KIND_ACTIONS, _Events, _Firings
from alertrec.generate.spec import WorldSpec

log = logging.getLogger(__name__)

SOURCES = ("email", "slack", "pagerduty", "ui")


# Behaviour of the two kinds of users.
_EXPERT_WANDER_P = 0.15  # an experienced user opens one popular item first
_EXPERT_FOUND_P = 0.97
_EXPERT_SKIP_P = 0.15  # skips one non-final effective step
_EXPERT_RESOLVE_P = 0.90
_EXPERT_GAP_S = 40.0  # median gap between events
_NOVICE_WANDER_MEAN = 2.0  # 1 + Poisson(mean) popular/irrelevant items first
_NOVICE_FOUND_P = 0.55
_NOVICE_RESOLVE_P = 0.65
_NOVICE_GAP_S = 80.0
_GAP_SIGMA = 0.9
_LONG_PAUSE_P = 0.005  # a gap of 32-90 min: the session ends by idle timeout
_POPULAR_WANDER_P = 0.75  # a wandering step picks a popular item (else any item of the account)
_PERM_P = 0.25  # a query is written in another term order
_OPEN_DELAY_S = 180.0  # median delay between firing and alert_opened


def _sim_range(spec: WorldSpec) -> tuple[int, int, int, int]:
    window_start = _day_us(spec.end_date) - spec.days * _DAY_US
    window_end = _day_us(spec.end_date)
    sim_start = window_start - spec.lookback_days * _DAY_US
    sim_end = window_end + int(spec.tail_hours * 3600 * _US)
    return sim_start, window_start, window_end, sim_end


def _mean_events_per_firing(spec: WorldSpec, catalog: _Catalog) -> float:
    regular = ~catalog.def_cold
    lens = catalog.mode_len[regular]
    mean_len = float(lens[lens > 0].mean())
    expert = (
        1 + _EXPERT_WANDER_P + _EXPERT_FOUND_P * (mean_len - _EXPERT_SKIP_P * 0.5) + _EXPERT_FOUND_P * _EXPERT_RESOLVE_P
    )
    novice = 2 + _NOVICE_WANDER_MEAN + _NOVICE_FOUND_P * (mean_len + 1) * 0.75 + _NOVICE_FOUND_P * _NOVICE_RESOLVE_P
    share = float(catalog.user_novice.mean())
    return (1.0 - spec.unopened_share) * (share * novice + (1.0 - share) * expert)


def _simulate_firings(spec: WorldSpec, catalog: _Catalog, rng: np.random.Generator) -> _Firings:
    sim_start, _, window_end, sim_end = _sim_range(spec)
    clean_target = spec.target_actions / (1.0 + spec.dirt * _DIRT_ADDED)
    session_target = clean_target * (1.0 - spec.background_share)
    mean_events = _mean_events_per_firing(spec, catalog)
    n_draw = int(1.6 * session_target / mean_events) + 50

    regular = np.flatnonzero(~catalog.def_cold)
    p = catalog.def_rate[regular] / catalog.def_rate[regular].sum()
    definition = regular[
        np.searchsorted(np.cumsum(p), rng.random(n_draw) * p.sum(), side="right").clip(0, len(regular) - 1)
    ]
    fired = rng.integers(sim_start, sim_end, size=n_draw, dtype=np.int64)
    plan = _plan_sessions(spec, catalog, definition, fired, np.zeros(n_draw, dtype=bool), rng)

    # Keep a uniformly random subset of firings whose sessions add up to the target.
    order = rng.permutation(n_draw)
    cumulative = np.cumsum(plan["n_events"][order])
    keep_n = int(np.searchsorted(cumulative, session_target, side="right"))
    if keep_n == n_draw:
        log.warning(
            "world is smaller than asked: %d session events for a target of %d",
            int(cumulative[-1]),
            int(session_target),
        )
    keep = np.sort(order[:keep_n])

    # Cold-start definitions: a few firings in the last days, never opened.
    cold = np.flatnonzero(catalog.def_cold)
    counts = rng.integers(2, 7, size=len(cold))
    cold_def = np.repeat(cold, counts)
    cold_fired = rng.integers(window_end - spec.cold_start_days * _DAY_US, sim_end, size=len(cold_def), dtype=np.int64)
    cold_plan = _plan_sessions(spec, catalog, cold_def, cold_fired, np.ones(len(cold_def), dtype=bool), rng)

    all_def = np.concatenate([definition[keep], cold_def])
    all_fired = np.concatenate([fired[keep], cold_fired])
    merged = {key: np.concatenate([value[keep], cold_plan[key]]) for key, value in plan.items()}
    by_time = np.lexsort((np.arange(len(all_fired)), all_fired))
    aeids = "ae-" + _unique_random_strings(rng, len(all_fired), 14, _HEX)
    return _Firings(
        definition=all_def[by_time],
        fired_us=all_fired[by_time],
        alert_event_ids=aeids,
        **{key: value[by_time] for key, value in merged.items()},
    )


def _plan_sessions(
    spec: WorldSpec,
    catalog: _Catalog,
    definition: np.ndarray,
    fired: np.ndarray,
    never_opened: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Per firing: mode, whether and by whom it is opened, and the shape of the session."""
    n = len(definition)
    _, window_start, window_end, _ = _sim_range(spec)
    period_len = (window_end - window_start) / spec.n_periods
    period = np.clip(np.floor((fired - window_start) / period_len), 0, spec.n_periods - 1).astype(np.int64)
    cum = np.cumsum(catalog.mode_weights[definition, period], axis=1)
    mode = (rng.random(n)[:, None] * cum[:, -1:] > cum).sum(axis=1)
    mode = np.minimum(mode, catalog.def_nmodes[definition] - 1)
    length = catalog.mode_len[definition, mode]

    opened = (rng.random(n) >= spec.unopened_share) & ~never_opened
    account = catalog.def_account[definition]
    user = account * catalog.users_per_account + rng.integers(0, catalog.users_per_account, size=n)
    novice = catalog.user_novice[user]

    u = rng.random((7, n))
    n_wander = np.where(
        novice, 1 + rng.poisson(_NOVICE_WANDER_MEAN, size=n), (u[0] < _EXPERT_WANDER_P).astype(np.int64)
    )
    found = np.where(novice, u[1] < _NOVICE_FOUND_P, u[1] < _EXPERT_FOUND_P)
    n_wander = np.where(~novice & ~found, n_wander + 1 + rng.poisson(1.0, size=n), n_wander)
    start = np.where(novice & (u[2] >= 0.5), np.floor(u[3] * length), 0).astype(np.int64)
    skip = np.where(~novice & (length >= 3) & (u[4] < _EXPERT_SKIP_P), np.floor(u[5] * (length - 1)), -1).astype(
        np.int64
    )
    n_eff = np.where(found, length - start - (skip >= 0), 0)
    resolved = found & np.where(novice, u[6] < _NOVICE_RESOLVE_P, u[6] < _EXPERT_RESOLVE_P)
    n_events = np.where(opened, 1 + n_wander + n_eff + resolved, 0).astype(np.int64)
    delay = np.clip(rng.lognormal(math.log(_OPEN_DELAY_S), 1.0, size=n), 5.0, 4 * 3600.0)
    open_us = fired + (delay * _US).astype(np.int64)
    source = rng.integers(0, len(SOURCES), size=n)
    return {
        "period": period,
        "mode": mode,
        "opened": opened,
        "user": user,
        "novice": novice,
        "n_wander": n_wander.astype(np.int64),
        "found": found,
        "start": start,
        "skip": skip,
        "n_eff": n_eff.astype(np.int64),
        "resolved": resolved,
        "n_events": n_events,
        "open_us": open_us,
        "source": source,
    }


def _build_events(spec: WorldSpec, catalog: _Catalog, firings: _Firings, rng: np.random.Generator) -> _Events:
    sim_start, _, _, sim_end = _sim_range(spec)
    sess = np.flatnonzero(firings.opened)
    counts = firings.n_events[sess]
    n_session_events = int(counts.sum())
    sidx = np.repeat(np.arange(len(sess)), counts)
    first = np.cumsum(counts) - counts
    pos = np.arange(n_session_events) - first[sidx]
    f = sess[sidx]
    n_wander = firings.n_wander[f]
    n_eff = firings.n_eff[f]
    is_open = pos == 0
    is_wander = (pos >= 1) & (pos <= n_wander)
    is_eff = (pos > n_wander) & (pos <= n_wander + n_eff)
    is_resolve = ~is_open & ~is_wander & ~is_eff
    definition = firings.definition[f]
    account = catalog.def_account[definition]

    item = np.full(n_session_events, -1, dtype=np.int64)
    wander = np.flatnonzero(is_wander)
    item[wander] = _wander_items(catalog, account[wander], rng)
    eff = np.flatnonzero(is_eff)
    step = firings.start[f[eff]] + (pos[eff] - 1 - n_wander[eff])
    skip = firings.skip[f[eff]]
    step = step + ((skip >= 0) & (step >= skip))
    item[eff] = catalog.mode_steps[definition[eff], firings.mode[f[eff]], step]

    novice = firings.novice[f]
    gap_s = rng.lognormal(0.0, _GAP_SIGMA, size=n_session_events) * np.where(novice, _NOVICE_GAP_S, _EXPERT_GAP_S)
    gap_s = np.clip(gap_s, 1.0, 25 * 60.0)
    long_pause = rng.random(n_session_events) < _LONG_PAUSE_P
    gap_s = np.where(long_pause, rng.uniform(32 * 60.0, 90 * 60.0, size=n_session_events), gap_s)
    gap_us = (gap_s * _US).astype(np.int64) + rng.integers(0, _US, size=n_session_events)
    gap_us[is_open] = 0
    cumulative = np.cumsum(gap_us)
    ts_us = firings.open_us[f] + cumulative - cumulative[first][sidx]
    firings.session_event = first  # index of each session's alert_opened row

    # Background: dashboards and queries used outside any investigation.
    n_background = int(round(n_session_events * spec.background_share / (1.0 - spec.background_share)))
    per_account = np.bincount(account, minlength=len(catalog.account_ids)).astype(float) + 1.0
    bg_account = np.searchsorted(
        np.cumsum(per_account), rng.random(n_background) * per_account.sum(), side="right"
    ).clip(0, len(per_account) - 1)
    bg_user = bg_account * catalog.users_per_account + rng.integers(0, catalog.users_per_account, size=n_background)
    bg_ts = rng.integers(sim_start, sim_end, size=n_background, dtype=np.int64)
    bg_item = _wander_items(catalog, bg_account, rng)

    n = n_session_events + n_background
    all_item = np.concatenate([item, bg_item])
    all_account = np.concatenate([account, bg_account]).astype(np.int64)
    all_ts = np.concatenate([ts_us, bg_ts])
    kind = np.full(n, _K_OPEN, dtype=np.int8)
    kind[:n_session_events][is_resolve] = _K_RESOLVE
    has_item = all_item >= 0
    kind[has_item] = np.where(catalog.item_is_query[all_item[has_item]], _K_QUERY, _K_DASH)

    payload = np.empty(n, dtype=object)
    dash_rows = np.flatnonzero(kind == _K_DASH)
    ranges = rng.choice(len(_TIME_RANGES), size=len(dash_rows), p=(0.2, 0.45, 0.2, 0.15))
    payload[dash_rows] = catalog.dash_payloads[catalog.item_ref[all_item[dash_rows]], ranges]
    query_rows = np.flatnonzero(kind == _K_QUERY)
    payload[query_rows] = _query_payloads(
        catalog.templates, catalog.item_ref[all_item[query_rows]], all_ts[query_rows], rng
    )
    open_rows = np.flatnonzero(is_open)
    fo = f[open_rows]
    payload[open_rows] = (
        '{"alert_event_id": "'
        + firings.alert_event_ids[fo]
        + '", "alert_id": "'
        + catalog.def_ids[firings.definition[fo]]
        + '", "source": "'
        + np.asarray(SOURCES, dtype=object)[firings.source[fo]]
        + '"}'
    )
    resolve_rows = np.flatnonzero(is_resolve)
    payload[resolve_rows] = '{"alert_event_id": "' + firings.alert_event_ids[f[resolve_rows]] + '"}'

    late = _late_days(spec, n, rng)
    user_index = np.concatenate([firings.user[f], bg_user])
    return _Events(
        event_id=np.empty(n, dtype=object),  # assigned after the dirt adds rows
        account=all_account,
        user=catalog.user_ids[user_index],
        ts_us=all_ts,
        ts_null=np.zeros(n, dtype=bool),
        action=_KIND_ACTIONS[kind.astype(np.int64)],
        payload=payload,
        late_days=late,
        order_us=all_ts.copy(),
        kind=kind,
    )


def _wander_items(catalog: _Catalog, account: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Items a user opens without a reason: mostly popular ones, else any item of the account."""
    n = len(account)
    weights = _POPULAR_WEIGHTS / _POPULAR_WEIGHTS.sum()
    j = np.searchsorted(np.cumsum(weights), rng.random(n), side="right").clip(0, len(weights) - 1)
    popular = catalog.popular[account, j]
    lo, hi = catalog.item_offset[account], catalog.item_offset[account + 1]
    anything = lo + np.floor(rng.random(n) * (hi - lo)).astype(np.int64)
    return np.where(rng.random(n) < _POPULAR_WANDER_P, popular, anything)


def _query_payloads(
    templates: list[_Template], template: np.ndarray, ts_us: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Query payloads: each template instantiated with fresh literals, sometimes reordered."""
    n = len(template)
    out = np.empty(n, dtype=object)
    if n == 0:
        return out
    n_perms = np.array([len(t.perms) for t in templates], dtype=np.int64)[template]
    other = 1 + np.floor(rng.random(n) * np.maximum(n_perms - 1, 1)).astype(np.int64)
    perm = np.where((rng.random(n) < _PERM_P) & (n_perms > 1), other, 0)
    group = template * 8 + perm
    order = np.argsort(group, kind="stable")
    bounds = np.flatnonzero(np.diff(group[order])) + 1
    for rows in np.split(order, bounds):
        tmpl = templates[int(template[rows[0]])]
        text: np.ndarray | str = '{"query": {"text": "'
        for is_literal, value in tmpl.parts(int(perm[rows[0]])):
            text = text + (_literals(value, len(rows), ts_us[rows], tmpl.svc, rng) if is_literal else value)
        out[rows] = text + tmpl.payload_tail
    return out


def _literals(kind: str, n: int, ts_us: np.ndarray, svc: str, rng: np.random.Generator) -> np.ndarray:
    """``n`` random literal values of one kind (hosts, pods, ids, IPs, numbers, timestamps)."""
    if kind == "host":
        return "ip-10-0-" + _str(rng.integers(0, 32, n)) + "-" + _str(rng.integers(1, 255, n))
    if kind == "pod":
        return (svc or "web") + "-" + _random_strings(rng, n, 6, _HEX) + "-" + _random_strings(rng, n, 5, _ALNUM)
    if kind == "hex":
        return _random_strings(rng, n, 12, _HEX)
    if kind == "trace":
        return _random_strings(rng, n, 32, _HEX)
    if kind == "uuid":
        raw = _random_strings(rng, n, 32, _HEX)
        return np.array([f"{r[:8]}-{r[8:12]}-{r[12:16]}-{r[16:20]}-{r[20:]}" for r in raw], dtype=object)
    if kind == "ip":
        private = "10." + _str(rng.integers(0, 256, n)) + "." + _str(rng.integers(0, 256, n)) + "."
        public = np.where(rng.random(n) < 0.5, "203.0.113.", "198.51.100.").astype(object)
        prefix = np.where(rng.random(n) < 0.6, private, public)
        return prefix + _str(rng.integers(1, 255, n))
    if kind == "ts":
        minutes = (ts_us // (60 * _US) - rng.integers(5, 120, n)).astype("datetime64[m]")
        return np.datetime_as_string(minutes, unit="s").astype(object) + "Z"
    low, high = _NUMBER_RANGES[kind]
    return _str(rng.integers(low, high + 1, n))
