"""Candidates of each target definition and their features (:func:`candidate_features`).

The candidate sources (own, medoid, similar definitions, account favourites, title-like
items), the features and :data:`PRIOR` are described in the package docstring
(:mod:`alertrec.stages.features`).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from rapidfuzz import fuzz
from rapidfuzz.utils import default_process

from alertrec import schema as S
from alertrec.stages.features.arrays import _non_blank_mask, _ratio
from alertrec.stages.features.columns import (
    _ITEM,
    _KEY,
    ACCOUNT_N_USED,
    COLD,
    COLD_NEW,
    COLD_NONE,
    COLD_TWIN,
    DEF_SESSIONS,
    FEATURE_COLUMNS,
    FROM_MEDOID,
    FROM_OWN,
    FROM_POPULAR,
    FROM_SIMILAR,
    FROM_TITLE,
    N_LAST,
    N_RESOLVED_USED,
    N_SOURCES,
    N_USED,
    PRIOR,
    SOURCE_ALERT_ID,
    SOURCE_N_USED,
    SOURCE_SESSIONS,
    SOURCE_TITLE,
)
from alertrec.stages.features.history import HistoryStats, history_stats, session_items
from alertrec.stages.features.params import FeatureParams
from alertrec.stages.similarity import best_matches

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------
# candidates and features of targets
# ---------------------------------------------------------------------------
def candidate_features(stats: HistoryStats, targets: pd.DataFrame, params: FeatureParams) -> pd.DataFrame:
    """Candidates and their features for each target definition.

    Parameters
    ----------
    stats : HistoryStats
        From :func:`history_stats`.
    targets : pandas.DataFrame
        ``account_id, alert_id, alert_title`` and optionally ``cold`` (bool: act
        as if the definition had no history of its own). One row per definition.
    params : FeatureParams

    Returns
    -------
    pandas.DataFrame
        One row per (target, candidate item): ``account_id, alert_id, cold,
        item_type, item_id, item_label``, the source flags ``from_own,
        from_medoid, from_similar, from_popular``, :data:`FEATURE_COLUMNS`,
        :data:`PRIOR`, and the counts the reason text needs (``n_used,
        n_resolved_used, n_last, def_sessions, source_alert_id, source_title,
        source_n_used, source_sessions, n_sources, account_n_used``). Sorted by
        (account_id, alert_id, cold, prior desc, item_type, item_id); at most
        ``max_candidates`` rows per target.
    """
    t = _clean_targets(targets, stats.definitions)
    if t.empty or stats.account.empty:
        return _empty_features()
    defs = stats.definitions.set_index(_KEY)
    has_own = t.set_index(_KEY).index.isin(defs.index) & (t[COLD].to_numpy() == COLD_NONE)
    t = t.assign(_has_own=has_own)
    tkey = [*_KEY, COLD]

    # own
    own = t.loc[t["_has_own"], tkey].merge(stats.own, on=_KEY, how="inner")
    own[FROM_OWN] = True
    # similar definitions (never the target itself, same account only)
    pairs = _similar_pairs(t, stats.definitions, params)
    borrowed = _borrowed(pairs, stats, t)
    max_sim = pairs.groupby(tkey, sort=True)["_sim"].max().rename("borrowed_max_similarity").reset_index()
    # popular
    top = stats.account.sort_values(
        [S.ACCOUNT_ID, "account_use_long", S.ITEM_TYPE, S.ITEM_ID],
        ascending=[True, False, True, True],
        kind="mergesort",
    )
    top = top[top.groupby(S.ACCOUNT_ID, sort=False).cumcount() < params.n_popular]
    popular = t[tkey].merge(top[[S.ACCOUNT_ID, *_ITEM]], on=S.ACCOUNT_ID, how="inner")
    popular[FROM_POPULAR] = True
    # items whose label resembles the alert title (a never-investigated "Error log spike in auth"
    # still finds "Logs: auth" and the queries on service:auth)
    titled = _title_candidates(t, stats, params)

    cand = pd.concat(
        [own[tkey + _ITEM], borrowed[tkey + _ITEM], popular[tkey + _ITEM], titled[tkey + _ITEM]], ignore_index=True
    ).drop_duplicates(tkey + _ITEM)
    cand = cand.merge(own.drop(columns=[FROM_OWN]), on=tkey + _ITEM, how="left")
    cand[FROM_OWN] = cand[N_USED].notna()
    cand = cand.merge(borrowed, on=tkey + _ITEM, how="left")
    cand[FROM_SIMILAR] = cand["borrowed_use"].notna()
    cand = cand.merge(popular, on=tkey + _ITEM, how="left")
    cand[FROM_POPULAR] = cand[FROM_POPULAR].eq(True).to_numpy()
    cand = cand.merge(titled, on=tkey + _ITEM, how="left")
    cand[FROM_TITLE] = cand[FROM_TITLE].eq(True).to_numpy()
    cand = cand.merge(stats.account, on=[S.ACCOUNT_ID, *_ITEM], how="left")
    cand = cand.merge(t[[*tkey, S.ALERT_TITLE, "_has_own"]], on=tkey, how="left")
    cand = cand.merge(max_sim, on=tkey, how="left")
    cand = cand.merge(
        stats.definitions[[*_KEY, "def_sessions"]].rename(columns={"def_sessions": DEF_SESSIONS}), on=_KEY, how="left"
    )
    _without_own_history(cand, stats)
    cand[DEF_SESSIONS] = np.where(cand["_has_own"], cand[DEF_SESSIONS].fillna(0), 0).astype("int64")
    if not stats.clusters.empty:
        clusters = stats.clusters.astype({S.ACCOUNT_ID: "int64"})
        cand = cand.merge(clusters, on=_KEY + _ITEM, how="left")
        own_rows = cand["_has_own"].to_numpy()
        for c in ("cluster_support", "in_medoid"):
            cand[c] = np.where(own_rows, cand[c].astype(float).fillna(0.0), 0.0)
    else:
        cand["cluster_support"] = 0.0
        cand["in_medoid"] = 0.0
    cand[FROM_MEDOID] = cand["in_medoid"] > 0
    cand = cand.merge(stats.labels, on=[S.ACCOUNT_ID, *_ITEM], how="left")
    cand[S.ITEM_LABEL] = cand[S.ITEM_LABEL].where(cand[S.ITEM_LABEL].notna(), cand[S.ITEM_ID])

    fill = {
        "own_use_long": 0.0,
        "own_use_short": 0.0,
        "own_use_count": 0.0,
        "own_resolved_share": 0.0,
        "own_last_share": 0.0,
        "own_last_share_short": 0.0,
        "own_users_share": 0.0,
        "own_days_since_last": 1.0,
        "own_days_since_first": 0.0,
        "account_use_long": 0.0,
        "account_use_short": 0.0,
        "account_last_share": 0.0,
        "account_log_users": 0.0,
        "account_days_since_last": 1.0,
        "account_days_since_first": 0.0,
        "def_spread": 0.0,
        "borrowed_use": 0.0,
        "borrowed_last_share": 0.0,
        "borrowed_best_use": 0.0,
        "borrowed_best_last_share": 0.0,
        "borrowed_max_similarity": 0.0,
        N_USED: 0,
        N_RESOLVED_USED: 0,
        N_LAST: 0,
        ACCOUNT_N_USED: 0,
        SOURCE_N_USED: 0,
        SOURCE_SESSIONS: 0,
        N_SOURCES: 0,
    }
    for column, value in fill.items():
        cand[column] = pd.to_numeric(cand[column]).fillna(value)
    # position and time into the session: own when known, else account-wide typical values
    acc_pos = _account_position(stats)
    cand = cand.merge(acc_pos, on=[S.ACCOUNT_ID, *_ITEM], how="left")
    cand["own_position"] = cand["own_position"].fillna(cand["_acc_pos"]).fillna(0.5)
    cand["own_log_offset"] = cand["own_log_offset"].fillna(cand["_acc_log_offset"]).fillna(0.0)
    cand["is_query"] = (cand[S.ITEM_TYPE] == S.ITEM_QUERY).astype(float)
    cand["def_log_sessions"] = np.log1p(cand[DEF_SESSIONS].to_numpy(dtype=float))
    cand["has_own_history"] = cand["_has_own"].astype(float)
    cand["from_similar"] = cand[FROM_SIMILAR].astype(float)
    cand["from_popular"] = cand[FROM_POPULAR].astype(float)
    cand["from_title"] = cand[FROM_TITLE].astype(float)
    cand["own_lift"] = np.log((cand["own_use_long"] + 0.01) / (cand["account_use_long"] + 0.01))
    cand["title_similarity"] = _title_similarity(cand[S.ALERT_TITLE], cand[S.ITEM_LABEL])
    cand["sar_similarity"] = _sar(cand, stats)
    cand[PRIOR] = cand["own_use_long"] + 0.5 * cand["borrowed_use"] + 0.1 * cand["account_use_long"]

    cand = cand.sort_values(
        [*tkey, PRIOR, S.ITEM_TYPE, S.ITEM_ID], ascending=[True, True, True, False, True, True], kind="mergesort"
    )
    cand = cand[cand.groupby(tkey, sort=False).cumcount() < params.max_candidates]
    for column in (*FEATURE_COLUMNS, PRIOR):
        cand[column] = cand[column].astype("float64")
    for column in (N_USED, N_RESOLVED_USED, N_LAST, ACCOUNT_N_USED, SOURCE_N_USED, SOURCE_SESSIONS, N_SOURCES):
        cand[column] = cand[column].astype("int64")
    return cand[list(_OUTPUT_COLUMNS)].reset_index(drop=True)


_OUTPUT_COLUMNS = (
    S.ACCOUNT_ID,
    S.ALERT_ID,
    COLD,
    S.ALERT_TITLE,
    S.ITEM_TYPE,
    S.ITEM_ID,
    S.ITEM_LABEL,
    FROM_OWN,
    FROM_MEDOID,
    FROM_SIMILAR,
    FROM_POPULAR,
    FROM_TITLE,
    *FEATURE_COLUMNS,
    PRIOR,
    N_USED,
    N_RESOLVED_USED,
    N_LAST,
    DEF_SESSIONS,
    SOURCE_ALERT_ID,
    SOURCE_TITLE,
    SOURCE_N_USED,
    SOURCE_SESSIONS,
    N_SOURCES,
    ACCOUNT_N_USED,
)
# duplicate names (from_similar / from_popular are both flags and features) appear once
_OUTPUT_COLUMNS = tuple(dict.fromkeys(_OUTPUT_COLUMNS))


def make_features(
    sessions: pd.DataFrame,
    items: pd.DataFrame,
    targets: pd.DataFrame,
    as_of: pd.Timestamp,
    params: FeatureParams,
    assignments: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Candidates and features of ``targets`` from the history before ``as_of`` (one call).

    Same as ``candidate_features(history_stats(session_items(sessions, items), as_of,
    params, assignments), targets, params)``; see those functions.
    """
    return candidate_features(
        history_stats(session_items(sessions, items), as_of, params, assignments), targets, params
    )


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def _clean_targets(targets: pd.DataFrame, definitions: pd.DataFrame) -> pd.DataFrame:
    cols = _KEY + [c for c in (S.ALERT_TITLE, COLD) if c in targets.columns]
    t = targets[cols]
    t = t[t[S.ACCOUNT_ID].notna() & t[S.ALERT_ID].notna()]
    t = t.assign(**{S.ACCOUNT_ID: t[S.ACCOUNT_ID].astype("int64"), S.ALERT_ID: t[S.ALERT_ID].astype(str)})
    if S.ALERT_TITLE not in t.columns:
        t = t.assign(**{S.ALERT_TITLE: None})
    t = t.assign(**{COLD: t[COLD].fillna(COLD_NONE).astype("int64") if COLD in t.columns else COLD_NONE})
    known = definitions[[*_KEY, S.ALERT_TITLE]].rename(columns={S.ALERT_TITLE: "_known"})
    t = t.merge(known, on=_KEY, how="left")
    title = t[S.ALERT_TITLE].where(_non_blank_mask(t[S.ALERT_TITLE]), t["_known"])
    t = t.assign(**{S.ALERT_TITLE: title.where(_non_blank_mask(title), "")}).drop(columns="_known")
    t = t.sort_values([*_KEY, COLD], kind="mergesort").drop_duplicates([*_KEY, COLD], keep="last")
    return t.reset_index(drop=True)


def _similar_pairs(targets: pd.DataFrame, definitions: pd.DataFrame, params: FeatureParams) -> pd.DataFrame:
    """``account_id, alert_id, cold, source_alert_id, _sim`` (0-1): the most similar titled
    definitions with history, never the target itself; ties by the source's alert_id."""
    columns = [*_KEY, COLD, SOURCE_ALERT_ID, "_sim"]
    frames = []
    titled = definitions[_non_blank_mask(definitions[S.ALERT_TITLE])]
    by_account = dict(iter(titled.groupby(S.ACCOUNT_ID, sort=True)))
    for account, group in targets[_non_blank_mask(targets[S.ALERT_TITLE])].groupby(S.ACCOUNT_ID, sort=True):
        sources = by_account.get(account)
        if sources is None:
            continue
        # a twin keeps itself, every other target drops it: one more match than the sources kept
        rows, cols, scores = best_matches(
            group[S.ALERT_TITLE].tolist(),
            sources[S.ALERT_TITLE].tolist(),
            params.borrow_sources + 1,
            params.similar_title_threshold,
        )
        frames.append(
            pd.DataFrame(
                {
                    S.ACCOUNT_ID: np.full(len(rows), account, dtype="int64"),
                    S.ALERT_ID: group[S.ALERT_ID].to_numpy(dtype=object)[rows],
                    COLD: group[COLD].to_numpy()[rows],
                    SOURCE_ALERT_ID: sources[S.ALERT_ID].to_numpy(dtype=object)[cols],
                    "_sim": scores / 100.0,
                }
            )
        )
    if not frames:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    pairs = pd.concat(frames, ignore_index=True)
    itself = (pairs[S.ALERT_ID] == pairs[SOURCE_ALERT_ID]).to_numpy()
    pairs = pairs[~itself | (pairs[COLD] == COLD_TWIN).to_numpy()]
    pairs.loc[pairs[S.ALERT_ID] == pairs[SOURCE_ALERT_ID], "_sim"] = 1.0
    pairs = pairs.sort_values(
        [*_KEY, COLD, "_sim", SOURCE_ALERT_ID], ascending=[True, True, True, False, True], kind="mergesort"
    )
    return pairs.groupby([*_KEY, COLD], sort=False).head(params.borrow_sources).reset_index(drop=True)


def _borrowed(pairs: pd.DataFrame, stats: HistoryStats, targets: pd.DataFrame) -> pd.DataFrame:
    """Per (target, item) of similar definitions: similarity-weighted use and last shares,
    and the source that lent the most (for the reason)."""
    columns = [
        *_KEY,
        COLD,
        *_ITEM,
        "borrowed_use",
        "borrowed_last_share",
        "borrowed_best_use",
        "borrowed_best_last_share",
        SOURCE_ALERT_ID,
        SOURCE_TITLE,
        SOURCE_N_USED,
        SOURCE_SESSIONS,
        N_SOURCES,
    ]
    if pairs.empty or stats.own.empty:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    total_sim = pairs.groupby([*_KEY, COLD], sort=False)["_sim"].sum().rename("_sim_total").reset_index()
    src = stats.own[_KEY + _ITEM + ["own_use_long", "own_last_share", N_USED]].rename(
        columns={S.ALERT_ID: SOURCE_ALERT_ID, N_USED: SOURCE_N_USED}
    )
    cand = pairs.merge(src, on=[S.ACCOUNT_ID, SOURCE_ALERT_ID], how="inner")
    if cand.empty:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    cand["_use"] = cand["_sim"] * cand["own_use_long"]
    cand["_last"] = cand["_sim"] * cand["own_last_share"]
    cand = cand.sort_values(
        [*_KEY, COLD, *_ITEM, "_use", "_sim", SOURCE_ALERT_ID],
        ascending=[True, True, True, True, True, False, False, True],
        kind="mergesort",
    )
    grouped = cand.groupby([*_KEY, COLD, *_ITEM], sort=True)
    agg = grouped.agg(_use=("_use", "sum"), _last=("_last", "sum"), **{N_SOURCES: (SOURCE_ALERT_ID, "size")})
    best = grouped.head(1).set_index([*_KEY, COLD, *_ITEM])[[SOURCE_ALERT_ID, SOURCE_N_USED]]
    out = agg.join(best).reset_index().merge(total_sim, on=[*_KEY, COLD], how="left")
    out["borrowed_use"] = out["_use"] / out["_sim_total"]
    out["borrowed_last_share"] = out["_last"] / out["_sim_total"]
    # the most similar source alone (pairs are sorted by similarity, then source id)
    first = pairs.groupby([*_KEY, COLD], sort=False).head(1)[[*_KEY, COLD, SOURCE_ALERT_ID]]
    top = cand.merge(first, on=[*_KEY, COLD, SOURCE_ALERT_ID], how="inner")[
        [*_KEY, COLD, *_ITEM, "own_use_long", "own_last_share"]
    ].rename(columns={"own_use_long": "borrowed_best_use", "own_last_share": "borrowed_best_last_share"})
    out = out.merge(top, on=[*_KEY, COLD, *_ITEM], how="left")
    out["borrowed_best_use"] = out["borrowed_best_use"].fillna(0.0)
    out["borrowed_best_last_share"] = out["borrowed_best_last_share"].fillna(0.0)
    defs = stats.definitions[[*_KEY, S.ALERT_TITLE, "def_sessions"]].rename(
        columns={S.ALERT_ID: SOURCE_ALERT_ID, S.ALERT_TITLE: SOURCE_TITLE, "def_sessions": SOURCE_SESSIONS}
    )
    out = out.merge(defs, on=[S.ACCOUNT_ID, SOURCE_ALERT_ID], how="left")
    return out[columns]


def _title_candidates(targets: pd.DataFrame, stats: HistoryStats, params: FeatureParams) -> pd.DataFrame:
    """Per target, the ``n_title`` account items whose label is most similar to its title
    (rapidfuzz ``token_set_ratio``, ``processor=default_process``, at least ``title_item_threshold``)."""
    columns = [*_KEY, COLD, *_ITEM, FROM_TITLE]
    frames = []
    if params.n_title <= 0:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    catalog = stats.account[[S.ACCOUNT_ID, *_ITEM]].merge(stats.labels, on=[S.ACCOUNT_ID, *_ITEM], how="left")
    catalog[S.ITEM_LABEL] = catalog[S.ITEM_LABEL].where(catalog[S.ITEM_LABEL].notna(), catalog[S.ITEM_ID])
    by_account = dict(iter(catalog.groupby(S.ACCOUNT_ID, sort=True)))
    for account, group in targets[_non_blank_mask(targets[S.ALERT_TITLE])].groupby(S.ACCOUNT_ID, sort=True):
        items = by_account.get(account)
        if items is None:
            continue
        # best first; ties by the catalog order (item_type, item_id)
        rows, cols, _ = best_matches(
            group[S.ALERT_TITLE].tolist(),
            items[S.ITEM_LABEL].astype(str).tolist(),
            params.n_title,
            params.title_item_threshold,
        )
        frames.append(
            pd.DataFrame(
                {
                    S.ACCOUNT_ID: np.full(len(rows), account, dtype="int64"),
                    S.ALERT_ID: group[S.ALERT_ID].to_numpy(dtype=object)[rows],
                    COLD: group[COLD].to_numpy()[rows],
                    S.ITEM_TYPE: items[S.ITEM_TYPE].to_numpy(dtype=object)[cols],
                    S.ITEM_ID: items[S.ITEM_ID].to_numpy(dtype=object)[cols],
                    FROM_TITLE: True,
                }
            )
        )
    if not frames:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    return pd.concat(frames, ignore_index=True)[columns]


def _without_own_history(cand: pd.DataFrame, stats: HistoryStats) -> None:
    """Account-wide shares of the rows of ``cold`` targets, recomputed without the target's own
    sessions (in place on the working frame ``cand``: the raw sums are subtracted)."""
    shares = (
        ("account_use_long", "_acc_wl", "_raw_wl", "_tot_wl", "def_wl"),
        ("account_use_short", "_acc_ws", "_raw_ws", "_tot_ws", "def_ws"),
        ("account_last_share", "_acc_wll", "_raw_wll", "_tot_wlr", "def_wlr"),
    )
    cold = cand[COLD].to_numpy() == COLD_NEW  # a twin's "parent" (itself) stays in the account
    if not cold.any() or stats.own.empty:
        return
    raw = stats.own[_KEY + _ITEM + ["_raw_wl", "_raw_ws", "_raw_wll"]].rename(
        columns={"_raw_wl": "_o_wl", "_raw_ws": "_o_ws", "_raw_wll": "_o_wll"}
    )
    sub = cand.loc[cold, _KEY + _ITEM + [c for _, a, _, t, _ in shares for c in (a, t)]]
    sub = sub.merge(raw, on=_KEY + _ITEM, how="left").merge(
        stats.definitions[[*_KEY, "def_wl", "def_ws", "def_wlr"]], on=_KEY, how="left"
    )
    for feature, acc, own, total, definition in shares:
        own_col = {"_raw_wl": "_o_wl", "_raw_ws": "_o_ws", "_raw_wll": "_o_wll"}[own]
        num = sub[acc].fillna(0.0).to_numpy() - sub[own_col].fillna(0.0).to_numpy()
        den = sub[total].fillna(0.0).to_numpy() - sub[definition].fillna(0.0).to_numpy()
        cand.loc[cold, feature] = np.where(sub[acc].notna().to_numpy(), _ratio(np.clip(num, 0.0, None), den), np.nan)


def _account_position(stats: HistoryStats) -> pd.DataFrame:
    """Account-wide typical position and log offset of each item (weighted by definition use)."""
    own = stats.own
    cols = [S.ACCOUNT_ID, *_ITEM]
    if own.empty:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in [*cols, "_acc_pos", "_acc_log_offset"]})
    w = own[N_USED].to_numpy(dtype=float)
    tmp = own[cols].assign(_wp=own["own_position"] * w, _wo=own["own_log_offset"] * w, _w=w)
    agg = tmp.groupby(cols, sort=True)[["_wp", "_wo", "_w"]].sum().reset_index()
    return agg.assign(_acc_pos=agg["_wp"] / agg["_w"], _acc_log_offset=agg["_wo"] / agg["_w"])[
        [*cols, "_acc_pos", "_acc_log_offset"]
    ]


def _title_similarity(titles: pd.Series, labels: pd.Series) -> np.ndarray:
    """rapidfuzz token_set_ratio(title, label, processor=default_process) / 100, per row."""
    pairs = pd.DataFrame({"t": titles.fillna("").astype(str), "l": labels.fillna("").astype(str)})
    unique = pairs.drop_duplicates().reset_index(drop=True)
    scores = np.fromiter(
        (fuzz.token_set_ratio(t, lab, processor=default_process) for t, lab in zip(unique["t"], unique["l"])),
        dtype=float,
        count=len(unique),
    )
    unique["_s"] = scores / 100.0
    return pairs.merge(unique, on=["t", "l"], how="left")["_s"].to_numpy(dtype=float)


def _sar(cand: pd.DataFrame, stats: HistoryStats) -> np.ndarray:
    """SAR-style affinity of each candidate to the target's usual items (see the module docstring)."""
    out = np.zeros(len(cand))
    if cand.empty:
        return out
    affinity = np.where(
        cand["_has_own"].to_numpy(),
        cand["own_use_long"].to_numpy(dtype=float),
        cand["borrowed_use"].to_numpy(dtype=float),
    )
    frame = cand[[*_KEY, COLD, *_ITEM]].assign(_a=affinity, _row=np.arange(len(cand)))
    for account, group in frame.groupby(S.ACCOUNT_ID, sort=True):
        found = stats.cooc.get(int(account))
        if found is None:
            continue
        keys, jac = found
        coded = group.merge(keys, on=_ITEM, how="left")
        known = coded["_code"].notna().to_numpy()
        coded = coded[known]
        if coded.empty:
            continue
        target = coded.groupby([*_KEY, COLD], sort=True).ngroup().to_numpy()
        codes = coded["_code"].to_numpy(dtype=np.int64)
        a = np.zeros((int(target.max()) + 1, len(keys)))
        np.add.at(a, (target, codes), coded["_a"].to_numpy(dtype=float))
        total = a.sum(axis=1, keepdims=True)
        scores = np.divide(a @ jac, total, out=np.zeros((a.shape[0], len(keys))), where=total > 0)
        out[coded["_row"].to_numpy()] = scores[target, codes]
    return out


def _empty_features() -> pd.DataFrame:
    data: dict[str, pd.Series] = {}
    for c in _OUTPUT_COLUMNS:
        if c == S.ACCOUNT_ID or c in (
            N_USED,
            N_RESOLVED_USED,
            N_LAST,
            DEF_SESSIONS,
            SOURCE_N_USED,
            SOURCE_SESSIONS,
            N_SOURCES,
            ACCOUNT_N_USED,
        ):
            data[c] = pd.Series([], dtype="int64")
        elif c in FEATURE_COLUMNS or c == PRIOR:
            data[c] = pd.Series([], dtype="float64")
        elif c == COLD:
            data[c] = pd.Series([], dtype="int64")
        elif c in (FROM_OWN, FROM_MEDOID):
            data[c] = pd.Series([], dtype=bool)
        else:
            data[c] = pd.Series([], dtype=object)
    return pd.DataFrame(data)
