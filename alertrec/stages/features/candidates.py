"""Candidates and features of the learned ranker: pure functions over the stage frames.

Contract terms (``shared/contract.md``): an investigation *session* of an alert
definition, the *items* (dashboards, canonical queries) it used, *resolved*
sessions (ended by the firing's ``alert_resolved``). Frames are those of
``docs/frames.md``: the extraction's ``sessions``, the normalized ``items``
(with ``item_id`` and ``item_label``) and, optionally, the cluster stage's
``assignments`` (``alertrec/stages/cluster.py``).

Everything here is computed *as of* an instant ``as_of``: only sessions that
started before it and items used before it count, and a session that had not
ended by then counts as unresolved (sessions are cut at the edge, as the
contract cuts them at the window's edges). The same functions therefore build
the serving features (``as_of`` = the run's ``window_end``) and the training
features of earlier days (``as_of`` = a cutoff inside the window), with no
look-ahead.

Candidates per target definition ``(account_id, alert_id)``
-----------------------------------------------------------
* ``from_own``: items used in the definition's own sessions;
* ``from_medoid``: items of the medoid sessions of its clusters (a subset of
  the own items; a flag);
* ``from_similar``: items of the at most ``borrow_sources`` definitions of the
  same account whose titles are most similar (rapidfuzz ``token_set_ratio``,
  ``processor=default_process``, at least ``similar_title_threshold``);
* ``from_popular``: the account's ``n_popular`` most used items;
* ``from_title``: the ``n_title`` items of the account whose label is most similar to
  the alert title (``token_set_ratio`` at least ``title_item_threshold``): a new
  "Error log spike in auth" still finds "Logs: auth" and the queries on ``service:auth``.

At most ``max_candidates`` per target are kept, by :data:`PRIOR` (descending,
then item_type, item_id).

Features (:data:`FEATURE_COLUMNS`; ``w`` = recency weight ``0.5 ** (age_days /
half_life)`` of a session, ``age_days = (as_of - started_at)``)
---------------------------------------------------------------------------------
==========================  ==============================================================
own_use_long                Σw (half-life ``half_life_days``) of the definition's sessions that
                            used the item / Σw of all its sessions
own_use_short               the same with ``short_half_life_days`` (what is used *now*)
own_use_count               log1p(sessions of the definition that used the item)
own_resolved_share          Σw of its *resolved* sessions that used the item / Σw of its resolved sessions
own_last_share              Σw of its resolved sessions whose last item before
                            ``alert_resolved`` was the item / Σw of its resolved sessions
own_last_share_short        the same with the short half-life (root causes drift)
own_users_share             distinct users who used it for the definition / the definition's users
own_position                mean position of its first use in a session, 0 = first item, 1 = last
own_log_offset              mean log1p(seconds from the session start to its first use)
own_days_since_last         days since the definition last used it / history_days (1 when never)
own_days_since_first        days since the definition first used it / history_days (0 when never)
account_use_long            Σw of the account's sessions that used it / Σw of all its sessions
account_use_short           the same with the short half-life
account_last_share          account-wide share of resolved sessions that ended on it
account_log_users           log1p(distinct users of the account who used it)
account_days_since_last     as own_days_since_last, account-wide
account_days_since_first    as own_days_since_first, account-wide
def_spread                  share of the account's definitions whose sessions used it (generic
                            items such as "Infrastructure overview" are near 1)
own_lift                    log((own_use_long + 0.01) / (account_use_long + 0.01)): how specific
                            the item is to this definition
cluster_support             max over the definition's clusters (>= 2 sessions) of the share of
                            the cluster's sessions that used it
in_medoid                   1 when a cluster medoid session of the definition used it
sar_similarity              SAR item-item similarity: Σ_j a_j · jaccard(item, j) / Σ_j a_j over
                            the definition's usual items j (a_j = own_use_long, or
                            borrowed_use for a definition without history); jaccard of the
                            account's session co-occurrence counts
borrowed_use                Σ_s sim_s · use share in similar definition s / Σ_s sim_s
borrowed_last_share         the same for the last-item-before-resolution share
borrowed_max_similarity     similarity (0-1) of the most similar definition lent from (a
                            near-duplicate "... api-v2" of "... api" has 1)
borrowed_best_use,          use and last-item shares in that most similar definition alone
borrowed_best_last_share
title_similarity            rapidfuzz token_set_ratio(alert title, item label,
                            processor=default_process) / 100
is_query                    1 for a query, 0 for a dashboard
def_log_sessions            log1p(sessions of the definition) (context: how much own evidence)
has_own_history             1 when the definition has own sessions
from_similar, from_popular, candidate-source flags
from_title
==========================  ==============================================================

A target's ``cold`` mode says how its own history counts: ``COLD_NONE`` (it does),
``COLD_NEW`` (training copies that pretend the definition was never investigated: the
account-wide shares are recomputed without its own sessions, as they would be for a
truly new definition) and ``COLD_TWIN`` (training copies of the common real cold
start, a cloned or renamed alert: never investigated, but a definition with the same
title and history exists; its own history is lent to it at similarity 1).

:data:`PRIOR` = ``own_use_long + 0.5 * borrowed_use + 0.1 * account_use_long`` is
a popularity-like score used to cap the candidate lists and as the fixed part
of the model's score (see ``alertrec/mxnet_ranker.py``).

Labels (:func:`graded_labels`): what a later session did with an item, graded
1 = used, 2 = used in a resolved session, 3 = the last item before the
session's ``alert_resolved`` (the step that revealed the cause).

No function here mutates its inputs, reads a clock, a path or the environment.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process
from rapidfuzz.utils import default_process
from scipy import sparse

from alertrec import schema as S
from alertrec.stages.similarity import best_matches

log = logging.getLogger(__name__)

__all__ = [
    "FEATURE_COLUMNS",
    "PRIOR",
    "FeatureParams",
    "HistoryStats",
    "SessionItems",
    "session_items",
    "history_stats",
    "candidate_features",
    "make_features",
    "graded_labels",
    "training_lists",
]

# ---------------------------------------------------------------------------
# column names of the frames this stage produces
# ---------------------------------------------------------------------------
FEATURE_COLUMNS: tuple[str, ...] = (
    "own_use_long",
    "own_use_short",
    "own_use_count",
    "own_resolved_share",
    "own_last_share",
    "own_last_share_short",
    "own_users_share",
    "own_position",
    "own_log_offset",
    "own_days_since_last",
    "own_days_since_first",
    "account_use_long",
    "account_use_short",
    "account_last_share",
    "account_log_users",
    "account_days_since_last",
    "account_days_since_first",
    "def_spread",
    "own_lift",
    "cluster_support",
    "in_medoid",
    "sar_similarity",
    "borrowed_use",
    "borrowed_last_share",
    "borrowed_max_similarity",
    "borrowed_best_use",
    "borrowed_best_last_share",
    "title_similarity",
    "is_query",
    "def_log_sessions",
    "has_own_history",
    "from_similar",
    "from_popular",
    "from_title",
)
PRIOR = "prior"
COLD = "cold"  # target mode: COLD_NONE, COLD_NEW or COLD_TWIN (int)
COLD_NONE = 0  # the definition's own history counts
COLD_NEW = 1  # act as if it had never been investigated (and nothing resembles it more than its neighbours)
COLD_TWIN = 2  # act as if it were a new near-duplicate of itself: its own history is lent at similarity 1
FROM_OWN = "from_own"
FROM_MEDOID = "from_medoid"
FROM_SIMILAR = "from_similar"
FROM_POPULAR = "from_popular"
FROM_TITLE = "from_title"
GRADE = "grade"
GAIN = "gain"  # training target: share of the list's (normalized) gain
LIST_ID = "list_id"
LIST_WEIGHT = "list_weight"
CUTOFF = "cutoff"
# bookkeeping columns for the reason text (not features)
N_USED = "n_used"
N_RESOLVED_USED = "n_resolved_used"
N_LAST = "n_last"
DEF_SESSIONS = "def_sessions"
SOURCE_ALERT_ID = "source_alert_id"
SOURCE_TITLE = "source_title"
SOURCE_N_USED = "source_n_used"
SOURCE_SESSIONS = "source_sessions"
N_SOURCES = "n_sources"
ACCOUNT_N_USED = "account_n_used"

GRADE_USED = 1
GRADE_RESOLVED = 2
GRADE_LAST = 3

_KEY = [S.ACCOUNT_ID, S.ALERT_ID]
_ITEM = [S.ITEM_TYPE, S.ITEM_ID]
_DAY_S = 86_400.0
# cluster stage columns (kept as literals so that this stage does not depend on the cluster stage)
_CLUSTER = "cluster"
_IS_MEDOID = "is_medoid"


@dataclass(frozen=True)
class FeatureParams:
    """Settings of the features stage.

    Parameters
    ----------
    half_life_days : float
        Long recency half-life (the run's ``half_life_days``).
    short_half_life_days : float
        Short half-life: what is used in the last days (drift).
    history_days : int
        Normalizes the "days since" features; ages are clipped at it.
    n_popular : int
        The account's most used items that every target gets as candidates.
    borrow_sources : int
        Similar definitions borrowed from, at most.
    similar_title_threshold : float
        Minimum rapidfuzz ``token_set_ratio`` (0-100) of two titles to borrow.
    max_candidates : int
        Candidates kept per target (by :data:`PRIOR`).
    n_title : int
        Items whose label is most similar to the alert title, added as candidates.
    title_item_threshold : float
        Minimum rapidfuzz ``token_set_ratio`` (0-100) of title and label for them.
    """

    half_life_days: float = 7.0
    short_half_life_days: float = 2.0
    history_days: int = 28
    n_popular: int = 20
    borrow_sources: int = 3
    similar_title_threshold: float = 60.0
    max_candidates: int = 64
    n_title: int = 10
    title_item_threshold: float = 50.0

    @classmethod
    def from_config(cls, config: Any, **overrides: Any) -> "FeatureParams":
        """The run's settings (``half_life_days``, ``history_days``, ``borrow_sources``,
        ``similar_title_threshold``) plus ``overrides``; ``n_popular`` is at least ``top_k``."""
        values: dict[str, Any] = dict(
            half_life_days=float(config.half_life_days),
            history_days=int(config.history_days),
            borrow_sources=max(int(config.borrow_sources), 1),
            similar_title_threshold=float(config.similar_title_threshold),
        )
        values["n_popular"] = max(cls.n_popular, int(config.top_k))
        values.update(overrides)
        return cls(**values)


# ---------------------------------------------------------------------------
# (session, item) pairs: computed once, sliced per cutoff
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class SessionItems:
    """The history as one row per session (``sessions``) and per (session, item) (``pairs``).

    ``sessions``: session_id, account_id, alert_id, alert_title, user_id, started_at,
    ended_at, resolved, ``_start_s`` / ``_end_s`` (epoch seconds).
    ``pairs``: session_id, account_id, alert_id, user_id, item_type, item_id,
    ``_start_s``, ``_end_s``, resolved, ``_first_ts_s`` (first use), ``_pos`` (relative
    position of the first use, 0..1), ``_log_offset``, ``_is_last`` (the session's
    last item), ``_last_ts_s`` (ts of the session's last item). Both sorted, so that
    every sum below runs in one order whatever the input order.
    """

    sessions: pd.DataFrame
    pairs: pd.DataFrame
    labels: pd.DataFrame  # account_id, item_type, item_id, item_label


def session_items(sessions: pd.DataFrame, items: pd.DataFrame) -> SessionItems:
    """Join the sessions with their normalized items.

    Parameters
    ----------
    sessions : pandas.DataFrame
        Uses ``session_id, account_id, user_id, alert_id, alert_title, started_at,
        ended_at, resolved``.
    items : pandas.DataFrame
        Output of ``normalize_items``; uses ``session_id, seq, ts, offset_s,
        item_type, item_id, item_label`` (rows with a null ``item_id`` are not items;
        rows of unknown sessions are ignored).

    Returns
    -------
    SessionItems
    """
    sess = sessions[[S.SESSION_ID, S.ACCOUNT_ID, S.ALERT_ID, S.ALERT_TITLE, S.USER_ID,
                     S.STARTED_AT, S.ENDED_AT, S.RESOLVED]].drop_duplicates(S.SESSION_ID)
    sess = sess.astype({S.ACCOUNT_ID: "int64"})
    sess = sess.assign(
        **{
            S.RESOLVED: sess[S.RESOLVED].fillna(False).astype(bool),
            S.ALERT_ID: sess[S.ALERT_ID].astype(str),
            "_start_s": _epoch_s(sess[S.STARTED_AT]),
            "_end_s": _epoch_s(sess[S.ENDED_AT]),
        }
    )
    sess = sess.sort_values([S.ACCOUNT_ID, S.ALERT_ID, S.STARTED_AT, S.SESSION_ID], kind="mergesort")
    sess = sess.reset_index(drop=True)

    its = items.loc[items[S.ITEM_ID].notna(), [S.SESSION_ID, S.SEQ, S.TS, S.OFFSET_S, S.ITEM_TYPE, S.ITEM_ID]]
    its = its[its[S.SESSION_ID].isin(sess[S.SESSION_ID])]
    its = its.assign(_ts_s=_epoch_s(its[S.TS])).sort_values([S.SESSION_ID, S.SEQ], kind="mergesort")
    if its.empty:
        pairs = pd.DataFrame(columns=_PAIR_COLUMNS).astype({S.ACCOUNT_ID: "int64"})
    else:
        n_items = its.groupby(S.SESSION_ID, sort=False)[S.SEQ].transform("size").to_numpy()
        rank = its.groupby(S.SESSION_ID, sort=False).cumcount().to_numpy()
        its = its.assign(
            _pos=np.where(n_items > 1, rank / np.maximum(n_items - 1, 1), 0.0),
            _is_last=rank == n_items - 1,
            _last_ts_s=its.groupby(S.SESSION_ID, sort=False)["_ts_s"].transform("max").to_numpy(),
            _log_offset=np.log1p(its[S.OFFSET_S].astype(float).clip(lower=0.0).fillna(0.0).to_numpy()),
        )
        first = its.drop_duplicates([S.SESSION_ID] + _ITEM, keep="first")
        last_flag = its[its["_is_last"]][[S.SESSION_ID] + _ITEM].assign(_last=True)
        first = first.merge(last_flag, on=[S.SESSION_ID] + _ITEM, how="left")
        first["_is_last"] = first["_last"].eq(True).to_numpy()
        first = first.rename(columns={"_ts_s": "_first_ts_s"})
        pairs = first[[S.SESSION_ID] + _ITEM + ["_first_ts_s", "_pos", "_log_offset", "_is_last", "_last_ts_s"]].merge(
            sess[[S.SESSION_ID, S.ACCOUNT_ID, S.ALERT_ID, S.USER_ID, "_start_s", "_end_s", S.RESOLVED]],
            on=S.SESSION_ID,
        )
        pairs = pairs.sort_values([S.ACCOUNT_ID, S.ALERT_ID, "_start_s", S.SESSION_ID] + _ITEM, kind="mergesort")
        pairs = pairs[list(_PAIR_COLUMNS)].reset_index(drop=True)
    labels = _item_labels(items)
    return SessionItems(sessions=sess, pairs=pairs, labels=labels)


_PAIR_COLUMNS = (
    S.SESSION_ID, S.ACCOUNT_ID, S.ALERT_ID, S.USER_ID, S.ITEM_TYPE, S.ITEM_ID, "_start_s", "_end_s",
    S.RESOLVED, "_first_ts_s", "_pos", "_log_offset", "_is_last", "_last_ts_s",
)


# ---------------------------------------------------------------------------
# aggregates as of an instant
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class HistoryStats:
    """Aggregates of the history before ``as_of`` (see :func:`history_stats`)."""

    as_of_s: float
    definitions: pd.DataFrame  # per (account_id, alert_id)
    own: pd.DataFrame  # per (account_id, alert_id, item_type, item_id)
    account: pd.DataFrame  # per (account_id, item_type, item_id)
    clusters: pd.DataFrame  # per (account_id, alert_id, item_type, item_id): cluster_support, in_medoid
    cooc: dict[int, tuple[pd.DataFrame, np.ndarray]]  # account -> (items with _code, jaccard matrix)
    labels: pd.DataFrame


def history_stats(
    hist: SessionItems,
    as_of: pd.Timestamp | float,
    params: FeatureParams,
    assignments: pd.DataFrame | None = None,
    exclude: pd.DataFrame | None = None,
) -> HistoryStats:
    """Aggregate the history before ``as_of``.

    Parameters
    ----------
    hist : SessionItems
        From :func:`session_items`.
    as_of : pandas.Timestamp or float (epoch seconds)
        Sessions that started at or after it, and item uses at or after it, are
        left out; a session that ended at or after it counts as unresolved.
    params : FeatureParams
    assignments : pandas.DataFrame, optional
        The cluster stage's ``assignments`` (``session_id, cluster, is_medoid``);
        only sessions before ``as_of`` count towards a cluster's support.
    exclude : pandas.DataFrame, optional
        ``account_id, alert_id`` whose sessions are left out entirely (held-out
        definitions of an evaluation).

    Returns
    -------
    HistoryStats
    """
    as_of_s = float(as_of) if isinstance(as_of, (int, float)) else pd.Timestamp(as_of).timestamp()
    sess = hist.sessions[hist.sessions["_start_s"] < as_of_s]
    pairs = hist.pairs[(hist.pairs["_start_s"] < as_of_s) & (hist.pairs["_first_ts_s"] < as_of_s)]
    if exclude is not None and not exclude.empty:
        keys = exclude[_KEY].astype({S.ACCOUNT_ID: "int64", S.ALERT_ID: str}).assign(_x=True)
        sess = sess.merge(keys, on=_KEY, how="left")
        sess = sess[sess["_x"].isna()].drop(columns="_x")
        pairs = pairs.merge(keys, on=_KEY, how="left")
        pairs = pairs[pairs["_x"].isna()].drop(columns="_x")
    ended = sess["_end_s"].to_numpy() < as_of_s
    resolved = sess[S.RESOLVED].to_numpy() & ended
    age = np.clip((as_of_s - sess["_start_s"].to_numpy()) / _DAY_S, 0.0, None)
    sess = sess.assign(
        _res=resolved,
        _wl=np.power(0.5, age / params.half_life_days),
        _ws=np.power(0.5, age / params.short_half_life_days),
    )
    sess = sess.assign(_wlr=sess["_wl"] * sess["_res"], _wsr=sess["_ws"] * sess["_res"])

    p_ended = pairs["_end_s"].to_numpy() < as_of_s
    p_res = pairs[S.RESOLVED].to_numpy() & p_ended
    # the last item counts only when the session's last item was used before as_of
    p_last = pairs["_is_last"].to_numpy() & p_res & (pairs["_last_ts_s"].to_numpy() < as_of_s)
    p_age = np.clip((as_of_s - pairs["_start_s"].to_numpy()) / _DAY_S, 0.0, None)
    wl = np.power(0.5, p_age / params.half_life_days)
    ws = np.power(0.5, p_age / params.short_half_life_days)
    pairs = pairs.assign(
        _res=p_res, _last=p_last, _age=p_age, _wl=wl, _ws=ws,
        _wlr=wl * p_res, _wll=wl * p_last, _wsl=ws * p_last,
    )

    definitions = (
        sess.groupby(_KEY, sort=True)
        .agg(
            def_sessions=(S.SESSION_ID, "size"),
            def_resolved=("_res", "sum"),
            def_users=(S.USER_ID, "nunique"),
            def_wl=("_wl", "sum"),
            def_ws=("_ws", "sum"),
            def_wlr=("_wlr", "sum"),
            def_wsr=("_wsr", "sum"),
        )
        .reset_index()
    )
    titles = sess[_non_blank_mask(sess[S.ALERT_TITLE])].drop_duplicates(_KEY, keep="last")[_KEY + [S.ALERT_TITLE]]
    definitions = definitions.merge(titles, on=_KEY, how="left")

    own = (
        pairs.groupby(_KEY + _ITEM, sort=True)
        .agg(
            **{
                N_USED: (S.SESSION_ID, "size"),
                N_RESOLVED_USED: ("_res", "sum"),
                N_LAST: ("_last", "sum"),
                "_users": (S.USER_ID, "nunique"),
                "_wl": ("_wl", "sum"),
                "_ws": ("_ws", "sum"),
                "_wlr": ("_wlr", "sum"),
                "_wll": ("_wll", "sum"),
                "_wsl": ("_wsl", "sum"),
                "_pos": ("_pos", "mean"),
                "_log_offset": ("_log_offset", "mean"),
                "_age_min": ("_age", "min"),
                "_age_max": ("_age", "max"),
            }
        )
        .reset_index()
    )
    own = own.merge(definitions[_KEY + ["def_users", "def_wl", "def_ws", "def_wlr", "def_wsr"]], on=_KEY, how="left")
    hd = float(params.history_days)
    own = pd.DataFrame(
        {
            **{c: own[c] for c in _KEY + _ITEM},
            N_USED: own[N_USED].astype("int64"),
            N_RESOLVED_USED: own[N_RESOLVED_USED].astype("int64"),
            N_LAST: own[N_LAST].astype("int64"),
            "own_use_long": _ratio(own["_wl"], own["def_wl"]),
            "own_use_short": _ratio(own["_ws"], own["def_ws"]),
            "own_use_count": np.log1p(own[N_USED].to_numpy(dtype=float)),
            "own_resolved_share": _ratio(own["_wlr"], own["def_wlr"]),
            "own_last_share": _ratio(own["_wll"], own["def_wlr"]),
            "own_last_share_short": _ratio(own["_wsl"], own["def_wsr"]),
            "own_users_share": _ratio(own["_users"], own["def_users"]),
            "own_position": own["_pos"].to_numpy(dtype=float),
            "own_log_offset": own["_log_offset"].to_numpy(dtype=float),
            "own_days_since_last": np.minimum(own["_age_min"].to_numpy(dtype=float), hd) / hd,
            "own_days_since_first": np.minimum(own["_age_max"].to_numpy(dtype=float), hd) / hd,
            # raw sums: a cold target subtracts them from the account-wide sums
            "_raw_wl": own["_wl"].to_numpy(dtype=float),
            "_raw_ws": own["_ws"].to_numpy(dtype=float),
            "_raw_wll": own["_wll"].to_numpy(dtype=float),
        }
    )

    acc_tot = sess.groupby(S.ACCOUNT_ID, sort=True).agg(acc_wl=("_wl", "sum"), acc_ws=("_ws", "sum"),
                                                        acc_wlr=("_wlr", "sum")).reset_index()
    account = (
        pairs.groupby([S.ACCOUNT_ID] + _ITEM, sort=True)
        .agg(
            **{
                ACCOUNT_N_USED: (S.SESSION_ID, "size"),
                "_users": (S.USER_ID, "nunique"),
                "_wl": ("_wl", "sum"),
                "_ws": ("_ws", "sum"),
                "_wll": ("_wll", "sum"),
                "_age_min": ("_age", "min"),
                "_age_max": ("_age", "max"),
                "_defs": (S.ALERT_ID, "nunique"),
            }
        )
        .reset_index()
        .merge(acc_tot, on=S.ACCOUNT_ID, how="left")
    )
    n_defs = sess.groupby(S.ACCOUNT_ID, sort=True)[S.ALERT_ID].nunique().rename("_n_defs").reset_index()
    account = account.merge(n_defs, on=S.ACCOUNT_ID, how="left")
    account = pd.DataFrame(
        {
            **{c: account[c] for c in [S.ACCOUNT_ID] + _ITEM},
            ACCOUNT_N_USED: account[ACCOUNT_N_USED].astype("int64"),
            "account_use_long": _ratio(account["_wl"], account["acc_wl"]),
            "account_use_short": _ratio(account["_ws"], account["acc_ws"]),
            "account_last_share": _ratio(account["_wll"], account["acc_wlr"]),
            "account_log_users": np.log1p(account["_users"].to_numpy(dtype=float)),
            "account_days_since_last": np.minimum(account["_age_min"].to_numpy(dtype=float), hd) / hd,
            "account_days_since_first": np.minimum(account["_age_max"].to_numpy(dtype=float), hd) / hd,
            "def_spread": _ratio(account["_defs"], account["_n_defs"]),
            "_acc_wl": account["_wl"].to_numpy(dtype=float),
            "_acc_ws": account["_ws"].to_numpy(dtype=float),
            "_acc_wll": account["_wll"].to_numpy(dtype=float),
            "_tot_wl": account["acc_wl"].to_numpy(dtype=float),
            "_tot_ws": account["acc_ws"].to_numpy(dtype=float),
            "_tot_wlr": account["acc_wlr"].to_numpy(dtype=float),
        }
    )

    return HistoryStats(
        as_of_s=as_of_s,
        definitions=definitions,
        own=own,
        account=account,
        clusters=_cluster_features(pairs, assignments),
        cooc=_cooccurrence(pairs),
        labels=hist.labels,
    )


def _cluster_features(pairs: pd.DataFrame, assignments: pd.DataFrame | None) -> pd.DataFrame:
    """Per (definition, item): the best support over its clusters and whether a medoid used it."""
    columns = _KEY + _ITEM + ["cluster_support", "in_medoid"]
    if assignments is None or assignments.empty or pairs.empty:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    a = assignments[[S.SESSION_ID, _CLUSTER, _IS_MEDOID]]
    a = a[a[_CLUSTER] >= 0]
    joined = pairs[[S.SESSION_ID] + _KEY + _ITEM].merge(a, on=S.SESSION_ID, how="inner")
    if joined.empty:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    sizes = joined.drop_duplicates(S.SESSION_ID).groupby(_KEY + [_CLUSTER], sort=True).size().rename("_size")
    counts = joined.groupby(_KEY + [_CLUSTER] + _ITEM, sort=True).size().rename("_n").reset_index()
    counts = counts.merge(sizes.reset_index(), on=_KEY + [_CLUSTER])
    counts = counts[counts["_size"] >= 2]
    counts["cluster_support"] = counts["_n"] / counts["_size"]
    support = counts.groupby(_KEY + _ITEM, sort=True)["cluster_support"].max().reset_index()
    medoid = joined[joined[_IS_MEDOID].astype(bool)][_KEY + _ITEM].drop_duplicates().assign(in_medoid=1.0)
    out = support.merge(medoid, on=_KEY + _ITEM, how="outer")
    out["cluster_support"] = out["cluster_support"].fillna(0.0)
    out["in_medoid"] = out["in_medoid"].fillna(0.0)
    return out[columns].sort_values(_KEY + _ITEM, kind="mergesort").reset_index(drop=True)


def _cooccurrence(pairs: pd.DataFrame) -> dict[int, tuple[pd.DataFrame, np.ndarray]]:
    """Per account: its items (with ``_code``) and the Jaccard similarity of their session sets."""
    out: dict[int, tuple[pd.DataFrame, np.ndarray]] = {}
    for account, group in pairs.groupby(S.ACCOUNT_ID, sort=True):
        keys = group[_ITEM].drop_duplicates().sort_values(_ITEM, kind="mergesort").reset_index(drop=True)
        keys["_code"] = np.arange(len(keys), dtype=np.int64)
        coded = group[[S.SESSION_ID] + _ITEM].merge(keys, on=_ITEM)
        sess_codes, sess_index = np.unique(coded[S.SESSION_ID].to_numpy(dtype=object).astype(str), return_inverse=True)
        x = sparse.csr_matrix(
            (np.ones(len(coded)), (sess_index, coded["_code"].to_numpy())), shape=(len(sess_codes), len(keys))
        )
        c = (x.T @ x).toarray()
        diag = np.diag(c)
        union = diag[:, None] + diag[None, :] - c
        jac = np.divide(c, union, out=np.zeros_like(c), where=union > 0)
        np.fill_diagonal(jac, 0.0)
        out[int(account)] = (keys, jac)
    return out


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
    tkey = _KEY + [COLD]

    # own
    own = t.loc[t["_has_own"], tkey].merge(stats.own, on=_KEY, how="inner")
    own[FROM_OWN] = True
    # similar definitions (never the target itself, same account only)
    pairs = _similar_pairs(t, stats.definitions, params)
    borrowed = _borrowed(pairs, stats, t)
    max_sim = pairs.groupby(tkey, sort=True)["_sim"].max().rename("borrowed_max_similarity").reset_index()
    # popular
    top = stats.account.sort_values(
        [S.ACCOUNT_ID, "account_use_long", S.ITEM_TYPE, S.ITEM_ID], ascending=[True, False, True, True], kind="mergesort"
    )
    top = top[top.groupby(S.ACCOUNT_ID, sort=False).cumcount() < params.n_popular]
    popular = t[tkey].merge(top[[S.ACCOUNT_ID] + _ITEM], on=S.ACCOUNT_ID, how="inner")
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
    cand = cand.merge(stats.account, on=[S.ACCOUNT_ID] + _ITEM, how="left")
    cand = cand.merge(t[tkey + [S.ALERT_TITLE, "_has_own"]], on=tkey, how="left")
    cand = cand.merge(max_sim, on=tkey, how="left")
    cand = cand.merge(
        stats.definitions[_KEY + ["def_sessions"]].rename(columns={"def_sessions": DEF_SESSIONS}), on=_KEY, how="left"
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
    cand = cand.merge(stats.labels, on=[S.ACCOUNT_ID] + _ITEM, how="left")
    cand[S.ITEM_LABEL] = cand[S.ITEM_LABEL].where(cand[S.ITEM_LABEL].notna(), cand[S.ITEM_ID])

    fill = {
        "own_use_long": 0.0, "own_use_short": 0.0, "own_use_count": 0.0, "own_resolved_share": 0.0,
        "own_last_share": 0.0, "own_last_share_short": 0.0, "own_users_share": 0.0,
        "own_days_since_last": 1.0, "own_days_since_first": 0.0,
        "account_use_long": 0.0, "account_use_short": 0.0, "account_last_share": 0.0, "account_log_users": 0.0,
        "account_days_since_last": 1.0, "account_days_since_first": 0.0, "def_spread": 0.0,
        "borrowed_use": 0.0, "borrowed_last_share": 0.0, "borrowed_best_use": 0.0, "borrowed_best_last_share": 0.0,
        "borrowed_max_similarity": 0.0,
        N_USED: 0, N_RESOLVED_USED: 0, N_LAST: 0, ACCOUNT_N_USED: 0, SOURCE_N_USED: 0, SOURCE_SESSIONS: 0,
        N_SOURCES: 0,
    }
    for column, value in fill.items():
        cand[column] = pd.to_numeric(cand[column]).fillna(value)
    # position and time into the session: own when known, else account-wide typical values
    acc_pos = _account_position(stats)
    cand = cand.merge(acc_pos, on=[S.ACCOUNT_ID] + _ITEM, how="left")
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
        tkey + [PRIOR, S.ITEM_TYPE, S.ITEM_ID], ascending=[True, True, True, False, True, True], kind="mergesort"
    )
    cand = cand[cand.groupby(tkey, sort=False).cumcount() < params.max_candidates]
    for column in FEATURE_COLUMNS + (PRIOR,):
        cand[column] = cand[column].astype("float64")
    for column in (N_USED, N_RESOLVED_USED, N_LAST, ACCOUNT_N_USED, SOURCE_N_USED, SOURCE_SESSIONS, N_SOURCES):
        cand[column] = cand[column].astype("int64")
    return cand[list(_OUTPUT_COLUMNS)].reset_index(drop=True)


_OUTPUT_COLUMNS = (
    S.ACCOUNT_ID, S.ALERT_ID, COLD, S.ALERT_TITLE, S.ITEM_TYPE, S.ITEM_ID, S.ITEM_LABEL,
    FROM_OWN, FROM_MEDOID, FROM_SIMILAR, FROM_POPULAR, FROM_TITLE,
    *FEATURE_COLUMNS, PRIOR,
    N_USED, N_RESOLVED_USED, N_LAST, DEF_SESSIONS, SOURCE_ALERT_ID, SOURCE_TITLE, SOURCE_N_USED,
    SOURCE_SESSIONS, N_SOURCES, ACCOUNT_N_USED,
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
    return candidate_features(history_stats(session_items(sessions, items), as_of, params, assignments), targets, params)


# ---------------------------------------------------------------------------
# labels and training lists
# ---------------------------------------------------------------------------
def graded_labels(hist: SessionItems, start_s: float, end_s: float) -> pd.DataFrame:
    """What the sessions that started in ``[start_s, end_s)`` did with each item.

    Parameters
    ----------
    hist : SessionItems
    start_s, end_s : float
        Epoch seconds.

    Returns
    -------
    pandas.DataFrame
        ``session_id, account_id, alert_id, item_type, item_id, grade``: 1 used,
        2 used in a resolved session, 3 the last item before the session's
        ``alert_resolved``. Sorted by (account_id, alert_id, session_id, item).
    """
    p = hist.pairs
    p = p[(p["_start_s"] >= start_s) & (p["_start_s"] < end_s)]
    grade = np.where(
        p[S.RESOLVED].to_numpy() & p["_is_last"].to_numpy(),
        GRADE_LAST,
        np.where(p[S.RESOLVED].to_numpy(), GRADE_RESOLVED, GRADE_USED),
    )
    out = p[[S.SESSION_ID] + _KEY + _ITEM].assign(**{GRADE: grade.astype("int64")})
    return out.sort_values(_KEY + [S.SESSION_ID] + _ITEM, kind="mergesort").reset_index(drop=True)


def training_lists(
    hist: SessionItems,
    window_start: pd.Timestamp,
    window_end: pd.Timestamp,
    params: FeatureParams,
    train_days: int = 7,
    cold_copies: bool = True,
    assignments: pd.DataFrame | None = None,
    gains: tuple[float, float, float] = (1.0, 3.0, 7.0),
) -> pd.DataFrame:
    """Labelled candidate lists of the last ``train_days`` days of the window.

    For each cutoff ``c = window_end - j days`` (``j = 1..train_days``, not before
    ``window_start + 1 day``), features are computed as of ``c`` and labelled by
    the sessions that started in ``[c, c + 1 day)``: one list per (definition,
    cutoff) with such sessions. Each session's ``gains[grade - 1]`` (by default
    ``2 ** grade - 1``: 1, 3, 7) over the
    list's candidates are normalized to sum to 1, and the list's ``gain`` is
    their mean over its sessions (a softmax cross-entropy on it equals the sum of
    the per-session losses divided by the session count); ``list_weight`` is the
    number of sessions that used at least one candidate. With ``cold_copies``,
    every list is repeated with ``cold = True`` (the definition's own history
    ignored), so the model also learns to rank for never-investigated definitions.

    Returns
    -------
    pandas.DataFrame
        :func:`candidate_features` columns plus ``cutoff`` (epoch s), ``list_id``
        (int, 0.. in (cutoff, account_id, alert_id, cold) order), ``gain`` and
        ``list_weight``. Empty when no cutoff has labelled sessions.
    """
    start_s = pd.Timestamp(window_start).timestamp()
    end_s = pd.Timestamp(window_end).timestamp()
    frames = []
    for j in range(int(train_days), 0, -1):
        c = end_s - j * _DAY_S
        if c < start_s + _DAY_S:
            continue
        labels = graded_labels(hist, c, c + _DAY_S)
        if labels.empty:
            continue
        sess = hist.sessions
        day_sess = sess[(sess["_start_s"] >= c) & (sess["_start_s"] < c + _DAY_S)]
        titles = day_sess[_non_blank_mask(day_sess[S.ALERT_TITLE])].drop_duplicates(_KEY, keep="last")
        targets = labels[_KEY].drop_duplicates().merge(titles[_KEY + [S.ALERT_TITLE]], on=_KEY, how="left")
        targets[COLD] = COLD_NONE
        if cold_copies:
            targets = pd.concat([targets, targets.assign(**{COLD: COLD_NEW}), targets.assign(**{COLD: COLD_TWIN})],
                                ignore_index=True)
        stats = history_stats(hist, c, params, assignments)
        feats = candidate_features(stats, targets, params)
        if feats.empty:
            continue
        gain_of = np.asarray((0.0, *gains), dtype=float)
        graded = labels.assign(_g=gain_of[labels[GRADE].to_numpy(dtype=np.int64)])
        joined = feats[_KEY + [COLD] + _ITEM].reset_index().merge(graded, on=_KEY + _ITEM, how="inner")
        # normalize per (list, session) over the candidates the session used
        joined["_g"] = joined["_g"] / joined.groupby(_KEY + [COLD, S.SESSION_ID])["_g"].transform("sum")
        n_sess = joined.groupby(_KEY + [COLD])[S.SESSION_ID].nunique().rename(LIST_WEIGHT).reset_index()
        per_row = joined.groupby("index")["_g"].sum()
        feats = feats.assign(**{GAIN: 0.0})
        feats.loc[per_row.index, GAIN] = per_row.to_numpy()
        feats = feats.merge(n_sess, on=_KEY + [COLD], how="inner")
        feats[GAIN] = feats[GAIN] / feats[LIST_WEIGHT]
        feats[CUTOFF] = c
        frames.append(feats)
    if not frames:
        return _empty_features().assign(**{CUTOFF: pd.Series([], dtype=float), LIST_ID: pd.Series([], dtype="int64"),
                                          GAIN: pd.Series([], dtype=float), LIST_WEIGHT: pd.Series([], dtype=float)})
    out = pd.concat(frames, ignore_index=True)
    out[LIST_ID] = out.groupby([CUTOFF] + _KEY + [COLD], sort=True).ngroup().astype("int64")
    out[LIST_WEIGHT] = out[LIST_WEIGHT].astype(float)
    return out.sort_values([LIST_ID, PRIOR, S.ITEM_TYPE, S.ITEM_ID], ascending=[True, False, True, True],
                           kind="mergesort").reset_index(drop=True)


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
    known = definitions[_KEY + [S.ALERT_TITLE]].rename(columns={S.ALERT_TITLE: "_known"})
    t = t.merge(known, on=_KEY, how="left")
    title = t[S.ALERT_TITLE].where(_non_blank_mask(t[S.ALERT_TITLE]), t["_known"])
    t = t.assign(**{S.ALERT_TITLE: title.where(_non_blank_mask(title), "")}).drop(columns="_known")
    t = t.sort_values(_KEY + [COLD], kind="mergesort").drop_duplicates(_KEY + [COLD], keep="last")
    return t.reset_index(drop=True)


def _similar_pairs(targets: pd.DataFrame, definitions: pd.DataFrame, params: FeatureParams) -> pd.DataFrame:
    """``account_id, alert_id, cold, source_alert_id, _sim`` (0-1): the most similar titled
    definitions with history, never the target itself; ties by the source's alert_id."""
    columns = _KEY + [COLD, SOURCE_ALERT_ID, "_sim"]
    frames = []
    titled = definitions[_non_blank_mask(definitions[S.ALERT_TITLE])]
    by_account = dict(iter(titled.groupby(S.ACCOUNT_ID, sort=True)))
    for account, group in targets[_non_blank_mask(targets[S.ALERT_TITLE])].groupby(S.ACCOUNT_ID, sort=True):
        sources = by_account.get(account)
        if sources is None:
            continue
        # a twin keeps itself, every other target drops it: one more match than the sources kept
        rows, cols, scores = best_matches(group[S.ALERT_TITLE].tolist(), sources[S.ALERT_TITLE].tolist(),
                                          params.borrow_sources + 1, params.similar_title_threshold)
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
    pairs = pairs.sort_values(_KEY + [COLD, "_sim", SOURCE_ALERT_ID], ascending=[True, True, True, False, True],
                              kind="mergesort")
    return pairs.groupby(_KEY + [COLD], sort=False).head(params.borrow_sources).reset_index(drop=True)


def _borrowed(pairs: pd.DataFrame, stats: HistoryStats, targets: pd.DataFrame) -> pd.DataFrame:
    """Per (target, item) of similar definitions: similarity-weighted use and last shares,
    and the source that lent the most (for the reason)."""
    columns = _KEY + [COLD] + _ITEM + ["borrowed_use", "borrowed_last_share", "borrowed_best_use",
                                        "borrowed_best_last_share", SOURCE_ALERT_ID, SOURCE_TITLE,
                                        SOURCE_N_USED, SOURCE_SESSIONS, N_SOURCES]
    if pairs.empty or stats.own.empty:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    total_sim = pairs.groupby(_KEY + [COLD], sort=False)["_sim"].sum().rename("_sim_total").reset_index()
    src = stats.own[_KEY + _ITEM + ["own_use_long", "own_last_share", N_USED]].rename(
        columns={S.ALERT_ID: SOURCE_ALERT_ID, N_USED: SOURCE_N_USED}
    )
    cand = pairs.merge(src, on=[S.ACCOUNT_ID, SOURCE_ALERT_ID], how="inner")
    if cand.empty:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    cand["_use"] = cand["_sim"] * cand["own_use_long"]
    cand["_last"] = cand["_sim"] * cand["own_last_share"]
    cand = cand.sort_values(_KEY + [COLD] + _ITEM + ["_use", "_sim", SOURCE_ALERT_ID],
                            ascending=[True, True, True, True, True, False, False, True], kind="mergesort")
    grouped = cand.groupby(_KEY + [COLD] + _ITEM, sort=True)
    agg = grouped.agg(_use=("_use", "sum"), _last=("_last", "sum"), **{N_SOURCES: (SOURCE_ALERT_ID, "size")})
    best = grouped.head(1).set_index(_KEY + [COLD] + _ITEM)[[SOURCE_ALERT_ID, SOURCE_N_USED]]
    out = agg.join(best).reset_index().merge(total_sim, on=_KEY + [COLD], how="left")
    out["borrowed_use"] = out["_use"] / out["_sim_total"]
    out["borrowed_last_share"] = out["_last"] / out["_sim_total"]
    # the most similar source alone (pairs are sorted by similarity, then source id)
    first = pairs.groupby(_KEY + [COLD], sort=False).head(1)[_KEY + [COLD, SOURCE_ALERT_ID]]
    top = cand.merge(first, on=_KEY + [COLD, SOURCE_ALERT_ID], how="inner")[
        _KEY + [COLD] + _ITEM + ["own_use_long", "own_last_share"]
    ].rename(columns={"own_use_long": "borrowed_best_use", "own_last_share": "borrowed_best_last_share"})
    out = out.merge(top, on=_KEY + [COLD] + _ITEM, how="left")
    out["borrowed_best_use"] = out["borrowed_best_use"].fillna(0.0)
    out["borrowed_best_last_share"] = out["borrowed_best_last_share"].fillna(0.0)
    defs = stats.definitions[_KEY + [S.ALERT_TITLE, "def_sessions"]].rename(
        columns={S.ALERT_ID: SOURCE_ALERT_ID, S.ALERT_TITLE: SOURCE_TITLE, "def_sessions": SOURCE_SESSIONS}
    )
    out = out.merge(defs, on=[S.ACCOUNT_ID, SOURCE_ALERT_ID], how="left")
    return out[columns]


def _title_candidates(targets: pd.DataFrame, stats: HistoryStats, params: FeatureParams) -> pd.DataFrame:
    """Per target, the ``n_title`` account items whose label is most similar to its title
    (rapidfuzz ``token_set_ratio``, ``processor=default_process``, at least ``title_item_threshold``)."""
    columns = _KEY + [COLD] + _ITEM + [FROM_TITLE]
    frames = []
    if params.n_title <= 0:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    catalog = stats.account[[S.ACCOUNT_ID] + _ITEM].merge(stats.labels, on=[S.ACCOUNT_ID] + _ITEM, how="left")
    catalog[S.ITEM_LABEL] = catalog[S.ITEM_LABEL].where(catalog[S.ITEM_LABEL].notna(), catalog[S.ITEM_ID])
    by_account = dict(iter(catalog.groupby(S.ACCOUNT_ID, sort=True)))
    for account, group in targets[_non_blank_mask(targets[S.ALERT_TITLE])].groupby(S.ACCOUNT_ID, sort=True):
        items = by_account.get(account)
        if items is None:
            continue
        # best first; ties by the catalog order (item_type, item_id)
        rows, cols, _ = best_matches(group[S.ALERT_TITLE].tolist(), items[S.ITEM_LABEL].astype(str).tolist(),
                                     params.n_title, params.title_item_threshold)
        frames.append(pd.DataFrame({
            S.ACCOUNT_ID: np.full(len(rows), account, dtype="int64"),
            S.ALERT_ID: group[S.ALERT_ID].to_numpy(dtype=object)[rows],
            COLD: group[COLD].to_numpy()[rows],
            S.ITEM_TYPE: items[S.ITEM_TYPE].to_numpy(dtype=object)[cols],
            S.ITEM_ID: items[S.ITEM_ID].to_numpy(dtype=object)[cols],
            FROM_TITLE: True,
        }))
    if not frames:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    return pd.concat(frames, ignore_index=True)[columns]


def _without_own_history(cand: pd.DataFrame, stats: HistoryStats) -> None:
    """Account-wide shares of the rows of ``cold`` targets, recomputed without the target's own
    sessions (in place on the working frame ``cand``: the raw sums are subtracted)."""
    shares = (("account_use_long", "_acc_wl", "_raw_wl", "_tot_wl", "def_wl"),
              ("account_use_short", "_acc_ws", "_raw_ws", "_tot_ws", "def_ws"),
              ("account_last_share", "_acc_wll", "_raw_wll", "_tot_wlr", "def_wlr"))
    cold = cand[COLD].to_numpy() == COLD_NEW  # a twin's "parent" (itself) stays in the account
    if not cold.any() or stats.own.empty:
        return
    raw = stats.own[_KEY + _ITEM + ["_raw_wl", "_raw_ws", "_raw_wll"]].rename(
        columns={"_raw_wl": "_o_wl", "_raw_ws": "_o_ws", "_raw_wll": "_o_wll"})
    sub = cand.loc[cold, _KEY + _ITEM + [c for _, a, _, t, _ in shares for c in (a, t)]]
    sub = sub.merge(raw, on=_KEY + _ITEM, how="left").merge(
        stats.definitions[_KEY + ["def_wl", "def_ws", "def_wlr"]], on=_KEY, how="left")
    for feature, acc, own, total, definition in shares:
        own_col = {"_raw_wl": "_o_wl", "_raw_ws": "_o_ws", "_raw_wll": "_o_wll"}[own]
        num = sub[acc].fillna(0.0).to_numpy() - sub[own_col].fillna(0.0).to_numpy()
        den = sub[total].fillna(0.0).to_numpy() - sub[definition].fillna(0.0).to_numpy()
        cand.loc[cold, feature] = np.where(sub[acc].notna().to_numpy(), _ratio(np.clip(num, 0.0, None), den), np.nan)


def _account_position(stats: HistoryStats) -> pd.DataFrame:
    """Account-wide typical position and log offset of each item (weighted by definition use)."""
    own = stats.own
    cols = [S.ACCOUNT_ID] + _ITEM
    if own.empty:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in cols + ["_acc_pos", "_acc_log_offset"]})
    w = own[N_USED].to_numpy(dtype=float)
    tmp = own[cols].assign(_wp=own["own_position"] * w, _wo=own["own_log_offset"] * w, _w=w)
    agg = tmp.groupby(cols, sort=True)[["_wp", "_wo", "_w"]].sum().reset_index()
    return agg.assign(_acc_pos=agg["_wp"] / agg["_w"], _acc_log_offset=agg["_wo"] / agg["_w"])[
        cols + ["_acc_pos", "_acc_log_offset"]
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
    affinity = np.where(cand["_has_own"].to_numpy(), cand["own_use_long"].to_numpy(dtype=float),
                        cand["borrowed_use"].to_numpy(dtype=float))
    frame = cand[_KEY + [COLD] + _ITEM].assign(_a=affinity, _row=np.arange(len(cand)))
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
        target = coded.groupby(_KEY + [COLD], sort=True).ngroup().to_numpy()
        codes = coded["_code"].to_numpy(dtype=np.int64)
        a = np.zeros((int(target.max()) + 1, len(keys)))
        np.add.at(a, (target, codes), coded["_a"].to_numpy(dtype=float))
        total = a.sum(axis=1, keepdims=True)
        scores = np.divide(a @ jac, total, out=np.zeros((a.shape[0], len(keys))), where=total > 0)
        out[coded["_row"].to_numpy()] = scores[target, codes]
    return out


def _item_labels(items: pd.DataFrame) -> pd.DataFrame:
    """One label per (account, item): the most frequent (normalize_items makes it unique)."""
    cols = [S.ACCOUNT_ID] + _ITEM + [S.ITEM_LABEL]
    lab = items.loc[items[S.ITEM_ID].notna() & items[S.ITEM_LABEL].notna(), cols]
    if lab.empty:
        return pd.DataFrame({c: pd.Series([], dtype="int64" if c == S.ACCOUNT_ID else object) for c in cols})
    lab = lab.astype({S.ACCOUNT_ID: "int64"})
    counts = lab.groupby(cols, sort=True).size().rename("_n").reset_index()
    counts = counts.sort_values([S.ACCOUNT_ID] + _ITEM + ["_n", S.ITEM_LABEL],
                                ascending=[True, True, True, False, True], kind="mergesort")
    return counts.drop_duplicates([S.ACCOUNT_ID] + _ITEM)[cols].reset_index(drop=True)


def _empty_features() -> pd.DataFrame:
    data: dict[str, pd.Series] = {}
    for c in _OUTPUT_COLUMNS:
        if c == S.ACCOUNT_ID or c in (N_USED, N_RESOLVED_USED, N_LAST, DEF_SESSIONS, SOURCE_N_USED,
                                      SOURCE_SESSIONS, N_SOURCES, ACCOUNT_N_USED):
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


def _epoch_s(values: pd.Series) -> np.ndarray:
    ts = pd.to_datetime(values, utc=True)
    return (ts.astype("int64").to_numpy() / 1e9).astype(float)


def _ratio(num: pd.Series | np.ndarray, den: pd.Series | np.ndarray) -> np.ndarray:
    n = np.asarray(num, dtype=float)
    d = np.asarray(den, dtype=float)
    return np.divide(n, d, out=np.zeros_like(n), where=d > 0)


def _non_blank(value: object) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _non_blank_mask(values: pd.Series) -> np.ndarray:
    """A boolean array (never an object Series, which would select columns when empty)."""
    return np.fromiter((_non_blank(v) for v in values), dtype=bool, count=len(values))
