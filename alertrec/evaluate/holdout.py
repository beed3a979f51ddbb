"""``alertrec evaluate``: a temporal holdout of the rankers on the input's own history.

For each evaluated day ``d`` (the ``--days N`` days before ``--date D``: ``D - N`` ..
``D - 1``), every ranker is fitted on the sessions that started in ``[d - history_days,
d)`` and scores the sessions that started on ``d``: did it put what the engineer used,
and above all the item that revealed the cause (the last item before
``alert_resolved``), near the top?

Like :mod:`alertrec.pipeline`, this module is an entry point: it reads (Spark), calls
the stages and writes the report (JSON, PNG chart) through the storage adapter.

Approximation: one Spark extraction covers the whole span ``[D - N - history_days, D)``
and the sessions are sliced per evaluated day in pandas, instead of one extraction per
day. A history session that was still open at ``d`` 00:00 keeps only its items before
``d`` and counts as unresolved (the contract cuts sessions at the window's edges the
same way); a session that the per-day extraction would have cut at the *start* of its
window (opened before ``d - history_days``) is left out instead of being cut. The
definitions a ranker recommends for are those of the day's sessions (titled by their
latest firing), not the ``fired`` frame of a nightly run.

Metrics (plain functions over frames, named exactly)
----------------------------------------------------
Each test session is a query; its definition's ranked list (``top_k`` rows) is the
ranking. Two relevance views:

* **cause** (resolved sessions): the one relevant item is the last item before
  ``alert_resolved``. ``hit_rate_at_k`` @1 and @5, ``mrr``, ``ndcg_at_k`` @10, the rank
  of that item (median, share found in the list), and the MTTR estimate
  (:func:`mttr_estimate`): the observed time from the session start to that item, vs. the
  time had the engineer opened the recommendations in rank order at about a minute each
  (rank x 60 s; when the item is not in the list: the whole list, then as observed).
* **used** (sessions with items): binary relevance of every item the session used.

Plus catalog coverage (share of the items of the history that some recommended list
shows in its top 10), and two cold-start subsets: definitions with no session in their
history (natural), and *held-out* definitions (a deterministic ``cold_start_share`` of
each day's definitions whose whole history is removed before a second fit of every
ranker, so that they are scored as never-investigated alerts).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from alertrec import schema as S
from alertrec.evaluate.metrics import ITEM, QUERY, catalog_coverage, hit_rate_at_k, mrr, mttr_estimate, ndcg_at_k
from alertrec.evaluate.report import write_report
from alertrec.evaluate.settings import EvalSettings, RankerSpec, default_rankers
from alertrec.monitor import PeakMemory

log = logging.getLogger(__name__)

_DAY = pd.Timedelta(days=1)


# ---------------------------------------------------------------------------
# the evaluation
# ---------------------------------------------------------------------------
def evaluate(
    settings: EvalSettings, spark: Any = None, rankers: Mapping[str, RankerSpec] | None = None, write: bool = True
) -> dict[str, Any]:
    """Read the span once, evaluate every ranker day by day, write JSON + PNG.

    Parameters
    ----------
    settings : EvalSettings
    spark : pyspark.sql.SparkSession, optional
        Built from the settings when not given.
    rankers : mapping, optional
        Name -> ranker spec (see :func:`evaluate_frames`); :func:`default_rankers` by default.
    write : bool
        Write ``evaluations/<D>/evaluation.json`` and ``.png`` under ``output_root``.

    Returns
    -------
    dict
        The report (see :func:`evaluate_frames`), with ``outputs`` when written.
    """
    from alertrec.io.extract import extract_sessions
    from alertrec.io.inputs import read_inputs
    from alertrec.io.spark import build_spark

    config = settings.base_config()
    t0 = time.perf_counter()
    with PeakMemory() as peak:
        spark = spark or build_spark(
            master=settings.config.spark_master, driver_memory=settings.config.spark_driver_memory
        )
        alerts_df, actions_df, _ = read_inputs(spark, config)
        extraction = extract_sessions(spark, alerts_df, actions_df, config)
        t_extract = time.perf_counter() - t0
        report = evaluate_frames(extraction.sessions, extraction.items, settings, rankers or default_rankers())
    report["timings_s"]["extract"] = round(t_extract, 2)
    report["peak_memory_bytes"] = peak.peak_bytes
    if write:
        report["outputs"] = write_report(report, settings)
    return report


def evaluate_frames(
    sessions: pd.DataFrame, items: pd.DataFrame, settings: EvalSettings, rankers: Mapping[str, RankerSpec]
) -> dict[str, Any]:
    """The evaluation proper, on the extraction's sessions and items (no I/O).

    Each day, every ranker named by a string runs the nightly job's per-account flow
    (:func:`alertrec.account.prepare_accounts` then :func:`~alertrec.account.finish_accounts`:
    explode, normalize with query linking, cluster with the job's settings, features, the
    shared and per-account models, scores, the one-row-per-query rule) on the day's
    history, with ``Config.ranker`` set to that string: it measures what the job
    publishes. The accounts are prepared once per day (and once more without the held-out
    definitions) and finished per ranker. A ranker given as a factory (a custom
    :class:`~alertrec.stages.rank.Ranker`, e.g. :class:`RandomRanker`) is fitted on the
    day's sessions and normalized items instead.

    Query ids: the whole span is exploded and normalized once and its canonical forms
    become the day's query registry, so a query has one id in every day's lists and in
    the held-out sessions (the nightly job keeps ids across days the same way).

    Parameters
    ----------
    sessions, items : pandas.DataFrame
        The extraction's sessions and items (before explode) of the whole span.
    settings : EvalSettings
    rankers : mapping
        Name -> ``"mxnet"`` / ``"popularity"`` (the nightly flow) or a factory of a fresh
        :class:`~alertrec.stages.rank.Ranker`.

    Returns
    -------
    dict
        ``settings``, ``days``, ``counts`` per day, ``rankers``: per name ``all``,
        ``cold_start`` (natural), ``cold_start_held_out`` metric dicts and ``per_day``,
        ``timings_s`` (prepare, and fit+recommend per ranker).
    """
    from alertrec.account import finish_accounts, prepare_accounts
    from alertrec.stages.explode import explode_items
    from alertrec.stages.normalize import normalize_items
    from alertrec.stages.normalize.registry import empty_registry, new_registry_entries

    if S.ITEM_ID in items.columns:
        raise ValueError("evaluate_frames takes the extraction's items (before explode and normalize)")
    base = settings.base_config()
    generated_at = base.generated_at
    days = [settings.date - dt.timedelta(days=j) for j in range(settings.days, 0, -1)]
    sessions = sessions.sort_values([S.STARTED_AT, S.SESSION_ID], kind="mergesort").reset_index(drop=True)
    t = time.perf_counter()
    normalized = normalize_items(explode_items(items)[0], link_threshold=base.query_link_threshold)
    registry = new_registry_entries(normalized, empty_registry(), days[0].isoformat())
    t_normalize = time.perf_counter() - t
    learned = any(spec == "mxnet" for spec in rankers.values())
    collected: dict[str, dict[str, list[pd.DataFrame]]] = {
        name: {"used": [], "cause": [], "cold_used": [], "cold_cause": [], "held_used": [], "held_cause": []}
        for name in rankers
    }
    coverage: dict[str, list[float]] = {name: [] for name in rankers}
    timings: dict[str, float] = {f"{name}_{what}": 0.0 for name in rankers for what in ("fit", "recommend")}
    timings["normalize_span"] = t_normalize
    timings["prepare"] = 0.0
    per_day_counts = []
    for day in days:
        d0 = pd.Timestamp(day, tz="UTC")
        hist_s, hist_raw = history_window(sessions, items, d0, settings.history_days)
        hist_i = normalized[normalized[S.SESSION_ID].isin(hist_s[S.SESSION_ID]) & (normalized[S.TS] < d0)]
        test_s = sessions[(sessions[S.STARTED_AT] >= d0) & (sessions[S.STARTED_AT] < d0 + _DAY)]
        test_i = normalized[normalized[S.SESSION_ID].isin(test_s[S.SESSION_ID]) & normalized[S.ITEM_ID].notna()]
        test_s = test_s[test_s[S.SESSION_ID].isin(test_i[S.SESSION_ID])]
        if test_s.empty:
            per_day_counts.append({"day": day.isoformat(), "sessions": 0})
            continue
        used, cause = _relevance(test_s, test_i)
        targets = _targets(test_s)
        known = set(hist_s[[S.ACCOUNT_ID, S.ALERT_ID]].itertuples(index=False, name=None))
        cold = {
            key for key in targets[[S.ACCOUNT_ID, S.ALERT_ID]].itertuples(index=False, name=None) if key not in known
        }
        held = _held_out(targets, known, settings.cold_start_share, settings.config.seed, day)
        config = base.replace(
            date=day,
            history_days=settings.history_days,
            generated_at=generated_at,
            run_id="evaluate",
            ranker="mxnet" if learned else "popularity",
        )
        catalog = hist_i[[S.ACCOUNT_ID, *ITEM]].drop_duplicates()
        per_day_counts.append(
            {
                "day": day.isoformat(),
                "sessions": int(len(test_s)),
                "resolved_with_cause": int(len(cause)),
                "definitions": int(len(targets)),
                "cold_start_definitions": len(cold),
                "held_out_definitions": len(held),
                "history_sessions": int(len(hist_s)),
            }
        )
        fired = _fired_of(targets, test_s)
        t = time.perf_counter()
        prepared = prepare_accounts(hist_s, hist_raw, fired, config, registry)
        held_prepared = None
        if held:
            keep = ~_keys_in(hist_s, held)
            h_s = hist_s[keep]
            held_prepared = prepare_accounts(
                h_s,
                hist_raw[hist_raw[S.SESSION_ID].isin(h_s[S.SESSION_ID])],
                fired[_keys_in(fired, held)],
                config,
                registry,
            )
        timings["prepare"] += time.perf_counter() - t
        for name, spec in rankers.items():
            t = time.perf_counter()
            if isinstance(spec, str):
                recs, _ = finish_accounts(prepared, config.replace(ranker=spec))
                h_recs = finish_accounts(held_prepared, config.replace(ranker=spec))[0] if held_prepared else None
                timings[f"{name}_fit"] += time.perf_counter() - t
            else:
                ranker = spec().fit(hist_s, hist_i, _fired(hist_s, d0, settings.history_days), config)
                t1 = time.perf_counter()
                recs = ranker.recommend(targets)
                timings[f"{name}_fit"] += t1 - t
                timings[f"{name}_recommend"] += time.perf_counter() - t1
                h_recs = None
                if held:
                    keep = ~_keys_in(hist_s, held)
                    h_s = hist_s[keep]
                    h_i = hist_i[hist_i[S.SESSION_ID].isin(h_s[S.SESSION_ID])]
                    h_fired = _fired(h_s, d0, settings.history_days)
                    h_recs = spec().fit(h_s, h_i, h_fired, config).recommend(targets[_keys_in(targets, held)])
            ranked_u = _per_session(recs, used)
            ranked_c = _per_session(recs, cause)
            collected[name]["used"].append(ranked_u.assign(day=day.isoformat()))
            collected[name]["cause"].append(ranked_c.assign(day=day.isoformat()))
            if cold:
                collected[name]["cold_used"].append(_only(ranked_u, cold))
                collected[name]["cold_cause"].append(_only(ranked_c, cold))
            coverage[name].append(catalog_coverage(recs, catalog, k=10))
            if h_recs is not None:
                collected[name]["held_used"].append(_only(_per_session(h_recs, used), held))
                collected[name]["held_cause"].append(_only(_per_session(h_recs, cause), held))
        log.info("evaluated %s: %d sessions, %d definitions", day, len(test_s), len(targets))

    results: dict[str, Any] = {}
    for name in rankers:
        c = collected[name]
        results[name] = {
            "all": _metrics(c["used"], c["cause"], settings),
            "cold_start": _metrics(c["cold_used"], c["cold_cause"], settings),
            "cold_start_held_out": _metrics(c["held_used"], c["held_cause"], settings),
            "catalog_coverage": _mean(coverage[name]),
            "per_day": [
                {"day": d["day"], **_metrics([u], [k], settings)}
                for d, u, k in zip(_nonempty(per_day_counts), c["used"], c["cause"])
            ],
        }
    observed_duration = (
        float(sessions.loc[sessions[S.STARTED_AT] >= pd.Timestamp(days[0], tz="UTC"), S.DURATION_S].mean())
        if len(sessions)
        else float("nan")
    )
    return {
        "settings": _jsonable(dataclasses.asdict(settings)),
        "days": [d.isoformat() for d in days],
        "counts": per_day_counts,
        "mean_session_duration_s": observed_duration,
        "rankers": results,
        "timings_s": {k: round(v, 2) for k, v in timings.items()},
    }


def _nonempty(counts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in counts if c.get("sessions", 0) > 0]


# ---------------------------------------------------------------------------
# building blocks
# ---------------------------------------------------------------------------
def history_window(
    sessions: pd.DataFrame, items: pd.DataFrame, d0: pd.Timestamp, history_days: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The sessions that started in ``[d0 - history_days, d0)`` and their items before ``d0``.

    A session still open at ``d0`` is cut there: it keeps its items before ``d0``, ends at
    its last one, counts as unresolved, and its ``end_reason`` becomes ``window_end``.
    """
    start = d0 - pd.Timedelta(days=history_days)
    s = sessions[(sessions[S.STARTED_AT] >= start) & (sessions[S.STARTED_AT] < d0)].copy()
    i = items[items[S.SESSION_ID].isin(s[S.SESSION_ID]) & (items[S.TS] < d0)]
    open_at_edge = s[S.ENDED_AT] >= d0
    if open_at_edge.any():
        last_ts = i.groupby(S.SESSION_ID)[S.TS].max()
        ended = s.loc[open_at_edge, S.SESSION_ID].map(last_ts)
        ended = ended.where(ended.notna(), s.loc[open_at_edge, S.STARTED_AT])
        s.loc[open_at_edge, S.ENDED_AT] = ended.astype(s[S.ENDED_AT].dtype)
        s.loc[open_at_edge, S.RESOLVED] = False
        s.loc[open_at_edge, S.END_REASON] = S.END_WINDOW
        s.loc[open_at_edge, S.DURATION_S] = (
            s.loc[open_at_edge, S.ENDED_AT] - s.loc[open_at_edge, S.STARTED_AT]
        ).dt.total_seconds()
        s.loc[open_at_edge, S.N_ITEMS] = (
            s.loc[open_at_edge, S.SESSION_ID].map(i.groupby(S.SESSION_ID).size()).fillna(0).astype("int64")
        )
    s = s.sort_values([S.ACCOUNT_ID, S.USER_ID, S.STARTED_AT, S.SESSION_ID], kind="mergesort").reset_index(drop=True)
    return s, i.reset_index(drop=True)


def _relevance(test_s: pd.DataFrame, test_i: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``used``: (query, account, alert, item) per used item; ``cause``: the last item of each
    resolved session with ``observed_s``."""
    base = test_i.merge(test_s[[S.SESSION_ID, S.RESOLVED]], on=S.SESSION_ID)
    base = base.sort_values([S.SESSION_ID, S.SEQ], kind="mergesort").rename(columns={S.SESSION_ID: QUERY})
    cols = [QUERY, S.ACCOUNT_ID, S.ALERT_ID, *ITEM]
    used = base[cols].drop_duplicates().reset_index(drop=True)
    last = base[base[S.RESOLVED].astype(bool)].drop_duplicates(QUERY, keep="last")
    cause = last[cols].assign(observed_s=last[S.OFFSET_S].astype(float).to_numpy()).reset_index(drop=True)
    return used, cause


def _per_session(recs: pd.DataFrame, relevant: pd.DataFrame) -> pd.DataFrame:
    """Relevant rows with the rank their definition's list gives them (NaN when not shown)."""
    shown = recs[[S.ACCOUNT_ID, S.ALERT_ID, *ITEM, S.RANK]]
    out = relevant.merge(shown, on=[S.ACCOUNT_ID, S.ALERT_ID, *ITEM], how="left")
    out[S.RANK] = out[S.RANK].astype(float)
    return out


def _metrics(used_parts: list[pd.DataFrame], cause_parts: list[pd.DataFrame], settings: EvalSettings) -> dict[str, Any]:
    used = pd.concat(used_parts, ignore_index=True) if used_parts else pd.DataFrame()
    cause = pd.concat(cause_parts, ignore_index=True) if cause_parts else pd.DataFrame()
    out: dict[str, Any] = {
        "sessions": int(used[QUERY].nunique()) if len(used) else 0,
        "resolved_sessions": int(len(cause)),
    }
    if len(used):
        if "day" in used.columns:
            used = used.assign(**{QUERY: used["day"].astype(str) + "/" + used[QUERY].astype(str)})
        ranked = used.dropna(subset=[S.RANK])
        out["used"] = {
            "hit_rate_at_1": hit_rate_at_k(ranked, used, 1),
            "hit_rate_at_5": hit_rate_at_k(ranked, used, 5),
            "ndcg_at_10": ndcg_at_k(ranked, used, 10),
            "mrr": mrr(ranked, used),
        }
    if len(cause):
        if "day" in cause.columns:
            cause = cause.assign(**{QUERY: cause["day"].astype(str) + "/" + cause[QUERY].astype(str)})
        ranked = cause.dropna(subset=[S.RANK])
        r = cause[S.RANK].to_numpy(dtype=float)
        times = mttr_estimate(cause, settings.list_length, settings.seconds_per_item)
        out["cause"] = {
            "hit_rate_at_1": hit_rate_at_k(ranked, cause, 1),
            "hit_rate_at_5": hit_rate_at_k(ranked, cause, 5),
            "ndcg_at_10": ndcg_at_k(ranked, cause, 10),
            "mrr": mrr(ranked, cause),
            "median_rank": float(np.median(np.where(np.isnan(r), settings.list_length + 1, r))),
            "found_in_list": float(np.mean(~np.isnan(r))),
            "mttr_observed_s": times["observed_s"],
            "mttr_estimated_s": times["estimated_s"],
        }
    return out


def _targets(test_s: pd.DataFrame) -> pd.DataFrame:
    latest = test_s.sort_values([S.FIRED_AT, S.ALERT_EVENT_ID], kind="mergesort")
    latest = latest[latest[S.ALERT_TITLE].notna()].drop_duplicates([S.ACCOUNT_ID, S.ALERT_ID], keep="last")
    keys = test_s[[S.ACCOUNT_ID, S.ALERT_ID]].drop_duplicates()
    out = keys.merge(latest[[S.ACCOUNT_ID, S.ALERT_ID, S.ALERT_TITLE]], on=[S.ACCOUNT_ID, S.ALERT_ID], how="left")
    return out.sort_values([S.ACCOUNT_ID, S.ALERT_ID]).reset_index(drop=True)


def _fired(hist_s: pd.DataFrame, d0: pd.Timestamp, history_days: int) -> pd.DataFrame:
    """The definitions investigated in the window, as a ``fired`` frame (titles of the latest firing)."""
    s = hist_s[hist_s[S.FIRED_AT] >= d0 - pd.Timedelta(days=history_days)]
    s = s.sort_values([S.FIRED_AT, S.ALERT_EVENT_ID], kind="mergesort")
    grouped = s.groupby([S.ACCOUNT_ID, S.ALERT_ID], sort=True)
    out = grouped.agg(
        **{S.N_FIRINGS: (S.ALERT_EVENT_ID, "nunique"), S.LAST_FIRED_AT: (S.FIRED_AT, "max")}
    ).reset_index()
    titles = s.drop_duplicates([S.ACCOUNT_ID, S.ALERT_ID], keep="last")[[S.ACCOUNT_ID, S.ALERT_ID, S.ALERT_TITLE]]
    out = out.merge(titles, on=[S.ACCOUNT_ID, S.ALERT_ID])
    return out[list(S.FIRED_COLUMNS)].astype({S.N_FIRINGS: "int64"})


def _fired_of(targets: pd.DataFrame, test_s: pd.DataFrame) -> pd.DataFrame:
    """The day's definitions (:func:`_targets`) as the nightly job's ``fired`` frame: the
    definitions the lists are for, with their firings on the day."""
    grouped = test_s.groupby([S.ACCOUNT_ID, S.ALERT_ID], sort=True)
    stats = grouped.agg(
        **{S.N_FIRINGS: (S.ALERT_EVENT_ID, "nunique"), S.LAST_FIRED_AT: (S.FIRED_AT, "max")}
    ).reset_index()
    out = targets.merge(stats, on=[S.ACCOUNT_ID, S.ALERT_ID], how="left")
    return out[list(S.FIRED_COLUMNS)].astype({S.N_FIRINGS: "int64"})


def _held_out(targets: pd.DataFrame, known: set, share: float, seed: int, day: dt.date) -> set:
    """A deterministic ``share`` of the day's definitions that have history (by a hash of
    the seed, the day and the key)."""
    if share <= 0:
        return set()
    chosen = set()
    for account, alert in targets[[S.ACCOUNT_ID, S.ALERT_ID]].itertuples(index=False, name=None):
        if (account, alert) not in known:
            continue
        h = hashlib.sha1(f"{seed}/{day.isoformat()}/{account}/{alert}".encode()).digest()
        if int.from_bytes(h[:8], "big") / 2**64 < share:
            chosen.add((account, alert))
    return chosen


def _keys_in(frame: pd.DataFrame, keys: set) -> np.ndarray:
    pairs = zip(frame[S.ACCOUNT_ID].to_numpy(), frame[S.ALERT_ID].to_numpy())
    return np.fromiter(((int(a), b) in keys for a, b in pairs), dtype=bool, count=len(frame))


def _only(frame: pd.DataFrame, keys: set) -> pd.DataFrame:
    return frame[_keys_in(frame, keys)]


def _mean(values: list[float]) -> float:
    vals = [v for v in values if v == v]
    return float(np.mean(vals)) if vals else float("nan")


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (dt.date, dt.datetime)):
        return obj.isoformat()
    return obj
