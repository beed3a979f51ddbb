"""The history as (session, item) pairs, and its aggregates as of an instant.

:func:`session_items` joins the sessions with their normalized items once;
:func:`history_stats` slices that history before ``as_of`` and aggregates it per
definition, per (definition, item), per (account, item), per cluster and as the
account's item co-occurrence (the package docstring lists the features they feed).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from alertrec import schema as S
from alertrec.stages.features.arrays import _epoch_s, _non_blank_mask, _ratio
from alertrec.stages.features.columns import (
    _CLUSTER,
    _DAY_S,
    _IS_MEDOID,
    _ITEM,
    _KEY,
    ACCOUNT_N_USED,
    N_LAST,
    N_RESOLVED_USED,
    N_USED,
)
from alertrec.stages.features.params import FeatureParams
from alertrec.stages.reasons import item_labels

log = logging.getLogger(__name__)


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
    sess = sessions[
        [S.SESSION_ID, S.ACCOUNT_ID, S.ALERT_ID, S.ALERT_TITLE, S.USER_ID, S.STARTED_AT, S.ENDED_AT, S.RESOLVED]
    ].drop_duplicates(S.SESSION_ID)
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
        first = its.drop_duplicates([S.SESSION_ID, *_ITEM], keep="first")
        last_flag = its[its["_is_last"]][[S.SESSION_ID, *_ITEM]].assign(_last=True)
        first = first.merge(last_flag, on=[S.SESSION_ID, *_ITEM], how="left")
        first["_is_last"] = first["_last"].eq(True).to_numpy()
        first = first.rename(columns={"_ts_s": "_first_ts_s"})
        pairs = first[[S.SESSION_ID, *_ITEM, "_first_ts_s", "_pos", "_log_offset", "_is_last", "_last_ts_s"]].merge(
            sess[[S.SESSION_ID, S.ACCOUNT_ID, S.ALERT_ID, S.USER_ID, "_start_s", "_end_s", S.RESOLVED]],
            on=S.SESSION_ID,
        )
        pairs = pairs.sort_values([S.ACCOUNT_ID, S.ALERT_ID, "_start_s", S.SESSION_ID, *_ITEM], kind="mergesort")
        pairs = pairs[list(_PAIR_COLUMNS)].reset_index(drop=True)
    labels = item_labels(items)
    return SessionItems(sessions=sess, pairs=pairs, labels=labels)


_PAIR_COLUMNS = (
    S.SESSION_ID,
    S.ACCOUNT_ID,
    S.ALERT_ID,
    S.USER_ID,
    S.ITEM_TYPE,
    S.ITEM_ID,
    "_start_s",
    "_end_s",
    S.RESOLVED,
    "_first_ts_s",
    "_pos",
    "_log_offset",
    "_is_last",
    "_last_ts_s",
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
    cooc: Mapping[int, tuple[pd.DataFrame, np.ndarray]]  # account -> (items with _code, jaccard matrix)
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
    sess, pairs = _before(hist, as_of_s)
    if exclude is not None and not exclude.empty:
        keys = exclude[_KEY].astype({S.ACCOUNT_ID: "int64", S.ALERT_ID: str}).assign(_x=True)
        sess = sess.merge(keys, on=_KEY, how="left")
        sess = sess[sess["_x"].isna()].drop(columns="_x")
        pairs = pairs.merge(keys, on=_KEY, how="left")
        pairs = pairs[pairs["_x"].isna()].drop(columns="_x")
    sess = sess.assign(_as_of=as_of_s)
    pairs = pairs.assign(_as_of=as_of_s)
    return _aggregate(sess, pairs, as_of_s, hist.labels, params, assignments, dict(_cooccurrence(pairs)))


@dataclass(frozen=True)
class StackedStats:
    """:func:`history_stats` at several cutoffs in one frame set (see :func:`history_stats_at`).

    ``stats`` holds, in its ``account_id`` columns, a *stack key* per (account, cutoff):
    ``position of the account in accounts * len(cutoffs) + position of the cutoff``.
    The key grows with (account_id, cutoff), so every per-key aggregate runs over the
    rows, and in the order, that :func:`history_stats` at that cutoff uses for that
    account. ``stats.as_of_s`` is NaN (each row carries its own cutoff).
    """

    stats: HistoryStats
    accounts: np.ndarray  # int64, sorted
    cutoffs: tuple[float, ...]

    def stack(self, frame: pd.DataFrame, cutoff: float) -> pd.DataFrame:
        """The rows of ``frame`` (real ``account_id``) of known accounts, keyed for ``cutoff``."""
        return _stack_frame(self.accounts, len(self.cutoffs), frame, self.cutoffs.index(cutoff))

    def unstack(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """The real ``account_id`` and the cutoff of each row of a frame keyed by the stack key."""
        key = frame[S.ACCOUNT_ID].to_numpy(dtype=np.int64)
        n = len(self.cutoffs)
        return self.accounts[key // n], np.asarray(self.cutoffs, dtype=float)[key % n]


def _stack_frame(accounts: np.ndarray, n: int, frame: pd.DataFrame, k: int) -> pd.DataFrame:
    account = frame[S.ACCOUNT_ID].to_numpy(dtype=np.int64)
    code = np.searchsorted(accounts, account)
    known = code < len(accounts)
    known[known] = accounts[code[known]] == account[known]
    return frame[known].assign(**{S.ACCOUNT_ID: code[known] * n + k})


def history_stats_at(
    hist: SessionItems,
    cutoffs: Sequence[float],
    params: FeatureParams,
    assignments: pd.DataFrame | None = None,
) -> StackedStats:
    """:func:`history_stats` at each of ``cutoffs`` (epoch seconds, increasing), in one pass.

    The history before each cutoff is stacked under a key per (account, cutoff), and
    aggregated once: the same numbers as one :func:`history_stats` call per cutoff
    (the training lists' cutoffs share the fixed cost of the pandas operations). The
    co-occurrence matrices are computed when asked for, one (account, cutoff) at a time.

    Returns
    -------
    StackedStats
    """
    cuts = tuple(float(c) for c in cutoffs)
    accounts = np.unique(hist.sessions[S.ACCOUNT_ID].to_numpy(dtype=np.int64))
    n = len(cuts)
    s_parts, p_parts = [], []
    for k, c in enumerate(cuts):
        sess, pairs = _before(hist, c)
        s_code = np.searchsorted(accounts, sess[S.ACCOUNT_ID].to_numpy(dtype=np.int64))
        p_code = np.searchsorted(accounts, pairs[S.ACCOUNT_ID].to_numpy(dtype=np.int64))
        s_parts.append(sess.assign(**{S.ACCOUNT_ID: s_code * n + k, "_as_of": c}))
        p_parts.append(pairs.assign(**{S.ACCOUNT_ID: p_code * n + k, "_as_of": c}))
    sess = pd.concat(s_parts, ignore_index=True)
    pairs = pd.concat(p_parts, ignore_index=True)
    labels = pd.concat([_stack_frame(accounts, n, hist.labels, k) for k in range(n)], ignore_index=True)
    stats = _aggregate(sess, pairs, float("nan"), labels, params, assignments, _LazyCooccurrence(pairs))
    return StackedStats(stats=stats, accounts=accounts, cutoffs=cuts)


def _before(hist: SessionItems, as_of_s: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The sessions that started before ``as_of_s`` and their item uses before it."""
    sess = hist.sessions[hist.sessions["_start_s"] < as_of_s]
    pairs = hist.pairs[(hist.pairs["_start_s"] < as_of_s) & (hist.pairs["_first_ts_s"] < as_of_s)]
    return sess, pairs


def _aggregate(
    sess: pd.DataFrame,
    pairs: pd.DataFrame,
    as_of_s: float,
    labels: pd.DataFrame,
    params: FeatureParams,
    assignments: pd.DataFrame | None,
    cooc: Mapping[int, tuple[pd.DataFrame, np.ndarray]],
) -> HistoryStats:
    """The aggregates of :func:`history_stats` over rows that carry their own instant (``_as_of``)."""
    s_as_of = sess["_as_of"].to_numpy(dtype=float)
    ended = sess["_end_s"].to_numpy() < s_as_of
    resolved = sess[S.RESOLVED].to_numpy() & ended
    age = np.clip((s_as_of - sess["_start_s"].to_numpy()) / _DAY_S, 0.0, None)
    sess = sess.assign(
        _res=resolved,
        _wl=np.power(0.5, age / params.half_life_days),
        _ws=np.power(0.5, age / params.short_half_life_days),
    )
    sess = sess.assign(_wlr=sess["_wl"] * sess["_res"], _wsr=sess["_ws"] * sess["_res"])

    p_as_of = pairs["_as_of"].to_numpy(dtype=float)
    p_ended = pairs["_end_s"].to_numpy() < p_as_of
    p_res = pairs[S.RESOLVED].to_numpy() & p_ended
    # the last item counts only when the session's last item was used before as_of
    p_last = pairs["_is_last"].to_numpy() & p_res & (pairs["_last_ts_s"].to_numpy() < p_as_of)
    p_age = np.clip((p_as_of - pairs["_start_s"].to_numpy()) / _DAY_S, 0.0, None)
    wl = np.power(0.5, p_age / params.half_life_days)
    ws = np.power(0.5, p_age / params.short_half_life_days)
    pairs = pairs.assign(
        _res=p_res,
        _last=p_last,
        _age=p_age,
        _wl=wl,
        _ws=ws,
        _wlr=wl * p_res,
        _wll=wl * p_last,
        _wsl=ws * p_last,
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
    titles = sess[_non_blank_mask(sess[S.ALERT_TITLE])].drop_duplicates(_KEY, keep="last")[[*_KEY, S.ALERT_TITLE]]
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
    own = own.merge(definitions[[*_KEY, "def_users", "def_wl", "def_ws", "def_wlr", "def_wsr"]], on=_KEY, how="left")
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

    acc_tot = (
        sess.groupby(S.ACCOUNT_ID, sort=True)
        .agg(acc_wl=("_wl", "sum"), acc_ws=("_ws", "sum"), acc_wlr=("_wlr", "sum"))
        .reset_index()
    )
    account = (
        pairs.groupby([S.ACCOUNT_ID, *_ITEM], sort=True)
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
            **{c: account[c] for c in [S.ACCOUNT_ID, *_ITEM]},
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
        cooc=cooc,
        labels=labels,
    )


def _cluster_features(pairs: pd.DataFrame, assignments: pd.DataFrame | None) -> pd.DataFrame:
    """Per (definition, item): the best support over its clusters and whether a medoid used it."""
    columns = _KEY + _ITEM + ["cluster_support", "in_medoid"]
    if assignments is None or assignments.empty or pairs.empty:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    a = assignments[[S.SESSION_ID, _CLUSTER, _IS_MEDOID]]
    a = a[a[_CLUSTER] >= 0]
    joined = pairs[[S.SESSION_ID, *_KEY, *_ITEM]].merge(a, on=S.SESSION_ID, how="inner")
    if joined.empty:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    # one row per (account, session): a stack of cutoffs holds a session once per cutoff
    once = joined.drop_duplicates([S.ACCOUNT_ID, S.SESSION_ID])
    sizes = once.groupby([*_KEY, _CLUSTER], sort=True).size().rename("_size")
    counts = joined.groupby([*_KEY, _CLUSTER, *_ITEM], sort=True).size().rename("_n").reset_index()
    counts = counts.merge(sizes.reset_index(), on=[*_KEY, _CLUSTER])
    counts = counts[counts["_size"] >= 2]
    counts["cluster_support"] = counts["_n"] / counts["_size"]
    support = counts.groupby(_KEY + _ITEM, sort=True)["cluster_support"].max().reset_index()
    medoid = joined[joined[_IS_MEDOID].astype(bool)][_KEY + _ITEM].drop_duplicates().assign(in_medoid=1.0)
    out = support.merge(medoid, on=_KEY + _ITEM, how="outer")
    out["cluster_support"] = out["cluster_support"].fillna(0.0)
    out["in_medoid"] = out["in_medoid"].fillna(0.0)
    return out[columns].sort_values(_KEY + _ITEM, kind="mergesort").reset_index(drop=True)


def _cooccurrence(pairs: pd.DataFrame) -> Iterator[tuple[int, tuple[pd.DataFrame, np.ndarray]]]:
    """Per account: its items (with ``_code``) and the Jaccard similarity of their session sets."""
    for account, group in pairs.groupby(S.ACCOUNT_ID, sort=True):
        yield int(account), _jaccard(group)


def _jaccard(group: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """One account's items (with ``_code``) and the Jaccard similarity of their session sets."""
    keys = group[_ITEM].drop_duplicates().sort_values(_ITEM, kind="mergesort").reset_index(drop=True)
    keys["_code"] = np.arange(len(keys), dtype=np.int64)
    coded = group[[S.SESSION_ID, *_ITEM]].merge(keys, on=_ITEM)
    sess_codes, sess_index = np.unique(coded[S.SESSION_ID].to_numpy(dtype=object).astype(str), return_inverse=True)
    x = sparse.csr_matrix(
        (np.ones(len(coded)), (sess_index, coded["_code"].to_numpy())), shape=(len(sess_codes), len(keys))
    )
    c = (x.T @ x).toarray()
    diag = np.diag(c)
    union = diag[:, None] + diag[None, :] - c
    jac = np.divide(c, union, out=np.zeros_like(c), where=union > 0)
    np.fill_diagonal(jac, 0.0)
    return keys, jac


class _LazyCooccurrence(Mapping[int, tuple[pd.DataFrame, np.ndarray]]):
    """The co-occurrence of :func:`_cooccurrence`, computed per account when looked up and not
    kept: a stack of cutoffs holds one item-by-item matrix at a time, not one per cutoff."""

    def __init__(self, pairs: pd.DataFrame) -> None:
        self._pairs = pairs[[S.ACCOUNT_ID, S.SESSION_ID, *_ITEM]]
        self._rows = self._pairs.groupby(S.ACCOUNT_ID, sort=True).indices

    def __getitem__(self, account: int) -> tuple[pd.DataFrame, np.ndarray]:
        return _jaccard(self._pairs.iloc[self._rows[account]])

    def __iter__(self) -> Iterator[int]:
        return iter(int(a) for a in self._rows)

    def __len__(self) -> int:
        return len(self._rows)
