"""One account, end to end: the one composition of the per-account stages.

Everything after the Spark SQL extraction is per account: explode → normalize → cluster →
features → (shared model) → the account's model → scores → reasons. This module is the
only place that wires those stages; the nightly pipeline (through the process pool or
Spark executors), ``alertrec evaluate`` and the notebook call it, the engines only decide
where it runs. Pure: frames and plain values in, frames, bytes and counts out; no path,
clock, environment or Spark session.

The learned ranker needs one model shared by all accounts, so the work has two halves:

* :func:`prepare_account` (explode, normalize, cluster, training lists) runs per account
  and yields a bounded, deterministic sample of its training lists (:func:`sample_lists`);
* :func:`train_shared_model` fits the shared model once on the merged samples;
* :func:`finish_account` fine-tunes the account's own model from the shared one, scores its
  fired definitions and writes the reasons.

:func:`recommend_account` is both halves for one account (with a shared model given or
trained on the account alone) and :func:`recommend_accounts` runs the whole flow in-process
over several accounts (notebooks, evaluation, tests).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from alertrec import schema as S
from alertrec.config import Config
from alertrec.stages.cluster import ClusterParams, Clusters, account_tasks, assemble, cluster_account, group_stats
from alertrec.stages.explode import explode_items
from alertrec.stages.normalize import normalize_items
from alertrec.stages.normalize.linking import drop_linked_queries
from alertrec.stages.normalize.registry import empty_registry, new_registry_entries
from alertrec.stages.rank import PopularityRanker, Ranker

log = logging.getLogger(__name__)

__all__ = [
    "PreparedAccount",
    "AccountResult",
    "cluster_params",
    "prepare_account",
    "sample_lists",
    "merge_samples",
    "train_shared_model",
    "finish_account",
    "recommend_account",
    "prepare_accounts",
    "finish_accounts",
    "recommend_accounts",
]

_SAMPLE_KEY = "_sample_key"


def cluster_params(config: Config) -> ClusterParams:
    """The cluster stage's settings from the run's config."""
    return ClusterParams(
        max_sessions=config.cluster_max_sessions,
        embedding_dim=config.embedding_dim,
        window=config.cluster_window,
        max_clusters=config.cluster_max_clusters,
        min_silhouette=config.cluster_min_silhouette,
    )


@dataclass
class PreparedAccount:
    """The first half of one account's work (see :func:`prepare_account`).

    Attributes
    ----------
    account_id : int
    sessions : pandas.DataFrame
        The account's sessions (docs/frames.md).
    items : pandas.DataFrame
        Exploded and normalized items (``item_id``, ``item_label``, ``canonical``).
    fired : pandas.DataFrame
        The account's fired definitions.
    clusters : Clusters
        Investigation patterns of the account's alerts.
    lists : pandas.DataFrame or None
        Training lists of the learned ranker (None for the popularity yardstick).
    counts : dict
        Rows per stage and the explode quarantine.
    timings_s : dict
    registry_entries : pandas.DataFrame
        The account's canonical query forms that the registry it was given did not hold,
        with the ids they got (the driver appends them to the registry).
    """

    account_id: int
    sessions: pd.DataFrame
    items: pd.DataFrame
    fired: pd.DataFrame
    clusters: Clusters
    lists: pd.DataFrame | None
    counts: dict[str, Any]
    timings_s: dict[str, float] = field(default_factory=dict)
    registry_entries: pd.DataFrame = field(default_factory=empty_registry)


@dataclass
class AccountResult:
    """One account's output.

    Attributes
    ----------
    account_id : int
    recommendations : pandas.DataFrame
        The contract's columns, sorted by (alert_id, rank).
    model_files : dict
        ``<scope>/<version>/<file>`` → bytes (the account's model and encoding; empty for
        the yardstick), written under ``ROOT/models/``.
    model : dict
        ``version``, ``own_model`` (whether the account has a fine-tuned model).
    clusters : Clusters
    counts : dict
        As :attr:`PreparedAccount.counts` plus ``recommendations`` and the cluster summary.
    timings_s : dict
    """

    account_id: int
    recommendations: pd.DataFrame
    model_files: dict[str, bytes]
    model: dict[str, Any]
    clusters: Clusters
    counts: dict[str, Any]
    timings_s: dict[str, float] = field(default_factory=dict)


def make_ranker(config: Config) -> Ranker:
    """The ranker the config names; the MXNet one is imported only when used (mxnet is heavy)."""
    if config.ranker == "popularity":
        return PopularityRanker()
    from alertrec.mxnet_ranker import MXNetRanker

    return MXNetRanker()


# ---------------------------------------------------------------------------
# the first half
# ---------------------------------------------------------------------------
def prepare_account(
    account_id: int,
    sessions: pd.DataFrame,
    items: pd.DataFrame,
    fired: pd.DataFrame,
    config: Config,
    registry: pd.DataFrame | None = None,
) -> PreparedAccount:
    """Explode, normalize, cluster and (learned ranker) build the training lists of one account.

    Parameters
    ----------
    account_id : int
    sessions, items, fired : pandas.DataFrame
        The account's rows of the extraction's frames (docs/frames.md); ``items`` with the
        payload fields of the extraction. Not modified; any order.
    config : Config
        ``query_link_threshold``, the cluster settings, the window, ``ranker``.
    registry : pandas.DataFrame, optional
        The account's rows of the query registry read at the start of the run
        (:mod:`alertrec.stages.normalize.registry`): registered forms keep their ids.
        ``None``: none (a first run; ids as the window alone decides them).

    Returns
    -------
    PreparedAccount
    """
    timings: dict[str, float] = {}
    t = time.perf_counter()
    sessions = sessions.sort_values([S.ACCOUNT_ID, S.USER_ID, S.STARTED_AT, S.SESSION_ID], kind="mergesort")
    sessions = sessions.reset_index(drop=True)
    items = items.sort_values([S.SESSION_ID, S.SEQ], kind="mergesort").reset_index(drop=True)
    fired = fired.sort_values([S.ACCOUNT_ID, S.ALERT_ID], kind="mergesort").reset_index(drop=True)
    exploded, quarantine = explode_items(items)
    timings["explode"] = time.perf_counter() - t
    t = time.perf_counter()
    reg = registry if registry is not None else empty_registry()
    normalized = normalize_items(
        exploded, link_threshold=config.query_link_threshold, registry=reg, day=config.date.isoformat()
    )
    entries = new_registry_entries(normalized, reg, config.date.isoformat())
    timings["normalize"] = time.perf_counter() - t
    t = time.perf_counter()
    clusters = cluster_one_account(account_id, sessions, normalized, cluster_params(config))
    timings["cluster"] = time.perf_counter() - t
    lists = None
    if config.ranker != "popularity":
        t = time.perf_counter()
        lists = make_ranker(config).training_lists(sessions, normalized, config, clusters)  # type: ignore[attr-defined]
        timings["features"] = time.perf_counter() - t
    queries = normalized[S.ITEM_TYPE] == S.ITEM_QUERY
    counts = {
        "sessions": int(len(sessions)),
        "items": int(len(items)),
        "fired_definitions": int(len(fired)),
        "explode_quarantined": {k: int(v) for k, v in quarantine[S.REASON].value_counts().sort_index().items()},
        "distinct_items": int(normalized[[S.ITEM_TYPE, S.ITEM_ID]].drop_duplicates().shape[0]),
        "distinct_query_texts": int(normalized.loc[queries, S.ITEM_KEY].nunique()),
        "distinct_queries": int(normalized.loc[queries, S.ITEM_ID].nunique()),
        "training_lists": 0 if lists is None or lists.empty else int(lists["list_id"].nunique()),
        "resolved": int(sessions[S.RESOLVED].sum()),
        "by_end_reason": {k: int(v) for k, v in sessions[S.END_REASON].value_counts().sort_index().items()},
        "duration_sum_s": float(sessions[S.DURATION_S].sum()),
        "alert_definitions": int(sessions[S.ALERT_ID].nunique()),
        "registry_forms_added": int(len(entries)),
    }
    return PreparedAccount(int(account_id), sessions, normalized, fired, clusters, lists, counts, timings, entries)


def cluster_one_account(
    account_id: int, sessions: pd.DataFrame, items: pd.DataFrame, params: ClusterParams
) -> Clusters:
    """The cluster stage for one account's sessions and normalized items."""
    tasks = account_tasks(sessions, items, params)
    if not tasks:
        return assemble(sessions.iloc[:0], items.iloc[:0], [], group_stats(sessions.iloc[:0], items.iloc[:0], params))
    (task,) = tasks
    result = cluster_account(task)
    timings = {
        "encode_s": round(result.encode_s, 4),
        "dtw_s": round(result.dtw_s, 4),
        "linkage_s": round(result.linkage_s, 4),
    }
    c = result.clusters
    return Clusters(c.assignments, c.medoids, c.support, c.groups, timings)


def _list_keys(lists: pd.DataFrame, seed: int) -> pd.Series:
    """A deterministic 64-bit key per list: a hash of (seed, account, alert, cutoff); the cold
    copies of a list share their key, so a sample keeps or drops them together."""
    heads = lists.drop_duplicates("list_id")
    keys = []
    for account, alert, cutoff in zip(heads[S.ACCOUNT_ID], heads[S.ALERT_ID], heads["cutoff"]):
        digest = hashlib.blake2b(f"{seed}|{int(account)}|{alert}|{float(cutoff):.0f}".encode(), digest_size=8)
        keys.append(int.from_bytes(digest.digest(), "big") >> 1)
    return pd.Series(keys, index=heads["list_id"].to_numpy(), dtype="int64")


def sample_lists(lists: pd.DataFrame | None, cap: int, seed: int) -> pd.DataFrame | None:
    """The at most ``cap`` lists with the smallest keys (a bottom-k sample by hash).

    Taking the ``cap`` smallest keys per account and then the ``cap`` smallest of their
    union gives the same sample as taking them from all lists at once, whatever the
    order the accounts finish in: the shared model's input does not depend on the engine.
    """
    if lists is None or lists.empty:
        return lists
    keys = _list_keys(lists, seed)
    kept = keys.sort_values(kind="mergesort")
    kept = kept[kept.rank(method="dense") <= cap] if len(kept) else kept
    keep = set(kept.index.tolist())
    out = lists[lists["list_id"].isin(keep)]
    return out.assign(**{_SAMPLE_KEY: keys.loc[out["list_id"].to_numpy()].to_numpy()})


def merge_samples(samples: Iterable[pd.DataFrame | None], cap: int) -> pd.DataFrame:
    """The union of per-account samples cut to the ``cap`` smallest keys, in a fixed order."""
    parts = [s for s in samples if s is not None and not s.empty]
    if not parts:
        return pd.DataFrame()
    union = pd.concat(parts, ignore_index=True)
    union = union.sort_values([S.ACCOUNT_ID, "list_id"], kind="mergesort").reset_index(drop=True)
    # list ids are per account: make them unique (in account order) before cutting
    uid = union[S.ACCOUNT_ID].astype("int64").astype(str) + ":" + union["list_id"].astype(str)
    union = union.assign(list_id=pd.factorize(uid)[0].astype("int64"))
    keys = union.drop_duplicates("list_id").set_index("list_id")[_SAMPLE_KEY]
    ordered = keys.sort_values(kind="mergesort")
    keep = set(ordered[ordered.rank(method="dense") <= cap].index.tolist())
    out = union[union["list_id"].isin(keep)].drop(columns=[_SAMPLE_KEY])
    out = out.sort_values(["cutoff", S.ACCOUNT_ID, S.ALERT_ID, "cold", "list_id"], kind="mergesort")
    return out.reset_index(drop=True)


def train_shared_model(sample: pd.DataFrame, config: Config) -> dict[str, bytes]:
    """Fit the learned ranker's shared model on a merged sample; its files (empty for the yardstick)."""
    if config.ranker == "popularity":
        return {}
    ranker = make_ranker(config)
    ranker.fit_shared(sample, config)  # type: ignore[attr-defined]
    return ranker.to_files()  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------
# the second half
# ---------------------------------------------------------------------------
def finish_account(prepared: PreparedAccount, config: Config, shared_files: Mapping[str, bytes]) -> AccountResult:
    """Fit the account's model (from the shared one), rank its fired definitions, explain.

    Parameters
    ----------
    prepared : PreparedAccount
    config : Config
        ``top_k``, ``generated_at``, ranker settings.
    shared_files : mapping
        The shared model's files (:func:`train_shared_model`); ignored by the yardstick.

    Returns
    -------
    AccountResult
    """
    t = time.perf_counter()
    p = prepared
    model: dict[str, Any] = {}
    files: dict[str, bytes] = {}
    if config.ranker == "popularity":
        ranker: Any = PopularityRanker().fit(p.sessions, p.items, p.fired, config, clusters=p.clusters)
        model = {"version": ranker.model_version, "own_model": False}
    else:
        from alertrec.mxnet_ranker import SHARED, MXNetRanker

        ranker = MXNetRanker.from_files(dict(shared_files))
        ranker.fit_account(
            p.account_id,
            p.lists if p.lists is not None else pd.DataFrame(),
            p.sessions,
            p.items,
            config,
            clusters=p.clusters,
        )
        own = p.account_id in ranker.nets_
        files = {k: v for k, v in ranker.to_files().items() if not k.startswith(SHARED + "/")}
        model = {"version": ranker.version_, "own_model": bool(own)}
    timings = dict(p.timings_s)
    timings["fit_account"] = time.perf_counter() - t
    t = time.perf_counter()
    recs = recommend_in_batches(ranker, p.fired, config.score_batch_definitions)
    recs = drop_linked_queries(recs, p.items, config.query_link_threshold)
    timings["score"] = time.perf_counter() - t
    counts = {
        **p.counts,
        "recommendations": int(len(recs)),
        "definitions_with_rows": int(recs[S.ALERT_ID].nunique()) if len(recs) else 0,
    }
    return AccountResult(p.account_id, recs, files, model, p.clusters, counts, timings)


def recommend_in_batches(ranker: Any, fired: pd.DataFrame, batch: int) -> pd.DataFrame:
    """``ranker.recommend`` over ``batch`` fired definitions at a time, concatenated.

    A definition's list depends only on the fitted history and its own row, so the
    batches give the lists of one call over all of them (tested), while only one batch's
    candidates and features are held at a time: an account with 50,000 definitions and
    thirty candidates each would otherwise hold 1.5 million feature rows at once.

    Parameters
    ----------
    ranker
        A fitted ranker (``recommend(fired) -> recommendations``).
    fired : pandas.DataFrame
        The account's fired definitions, sorted by (account_id, alert_id).
    batch : int
        Definitions per call (``Config.score_batch_definitions``).

    Returns
    -------
    pandas.DataFrame
        The recommendations, sorted as one call sorts them (by account, alert, rank).
    """
    if len(fired) <= batch:
        return ranker.recommend(fired)
    parts = [ranker.recommend(fired.iloc[start : start + batch]) for start in range(0, len(fired), batch)]
    filled = [part for part in parts if len(part)]
    return pd.concat(filled, ignore_index=True) if filled else parts[0]


def recommend_account(
    account_id: int,
    sessions: pd.DataFrame,
    items: pd.DataFrame,
    fired: pd.DataFrame,
    config: Config,
    shared_files: Mapping[str, bytes] | None = None,
    registry: pd.DataFrame | None = None,
) -> AccountResult:
    """One account end to end: :func:`prepare_account` then :func:`finish_account`.

    Parameters
    ----------
    account_id : int
    sessions, items, fired : pandas.DataFrame
        The account's rows of the extraction's frames.
    config : Config
    shared_files : mapping, optional
        The shared model; when None (learned ranker) it is trained on this account's own
        sample, as the nightly job would for a window holding only this account.
    registry : pandas.DataFrame, optional
        The query registry (any accounts' rows; this account's are used).

    Returns
    -------
    AccountResult
    """
    prepared = prepare_account(account_id, sessions, items, fired, config, _registry_of(registry, account_id))
    if shared_files is None:
        sample = merge_samples(
            [sample_lists(prepared.lists, config.shared_max_lists, config.seed)], config.shared_max_lists
        )
        shared_files = train_shared_model(sample, config)
    return finish_account(prepared, config, shared_files)


def _registry_of(registry: pd.DataFrame | None, account_id: int) -> pd.DataFrame | None:
    """One account's rows of a registry frame (None stays None)."""
    if registry is None:
        return None
    return registry[registry[S.ACCOUNT_ID] == int(account_id)].reset_index(drop=True)


def prepare_accounts(
    sessions: pd.DataFrame,
    items: pd.DataFrame,
    fired: pd.DataFrame,
    config: Config,
    registry: pd.DataFrame | None = None,
) -> list[PreparedAccount]:
    """:func:`prepare_account` for every account of the frames, in account order, in this process.

    Parameters
    ----------
    sessions, items, fired : pandas.DataFrame
        The extraction's frames (any accounts).
    config : Config
    registry : pandas.DataFrame, optional
        The query registry (any accounts' rows).

    Returns
    -------
    list of PreparedAccount
        One per account that has sessions or fired definitions, by account id.
    """
    accounts = sorted(set(sessions[S.ACCOUNT_ID].astype("int64")) | set(fired[S.ACCOUNT_ID].astype("int64")))
    s_by = dict(iter(sessions.groupby(S.ACCOUNT_ID, sort=False)))
    i_by = dict(iter(items.groupby(S.ACCOUNT_ID, sort=False)))
    f_by = dict(iter(fired.groupby(S.ACCOUNT_ID, sort=False)))
    return [
        prepare_account(
            a,
            s_by.get(a, sessions.iloc[:0]),
            i_by.get(a, items.iloc[:0]),
            f_by.get(a, fired.iloc[:0]),
            config,
            _registry_of(registry, a),
        )
        for a in accounts
    ]


def finish_accounts(prepared: list[PreparedAccount], config: Config) -> tuple[pd.DataFrame, list[AccountResult]]:
    """The shared model on the merged samples of ``prepared``, then :func:`finish_account` for each.

    Parameters
    ----------
    prepared : list of PreparedAccount
        From :func:`prepare_accounts`. Only the training lists depend on ``config.ranker``
        (the yardstick ignores them), so accounts prepared for the learned ranker can be
        finished with either ranker.
    config : Config

    Returns
    -------
    (pandas.DataFrame, list of AccountResult)
        All recommendations (sorted by account, alert, rank) and the per-account results.
    """
    cap = config.shared_max_lists
    sample = merge_samples([sample_lists(p.lists, cap, config.seed) for p in prepared], cap)
    shared = train_shared_model(sample, config)
    results = [finish_account(p, config, shared) for p in prepared]
    parts = [r.recommendations for r in results if len(r.recommendations)]
    if parts:
        recs = pd.concat(parts, ignore_index=True)
    elif results:
        recs = results[0].recommendations
    else:
        from alertrec.stages.rank import empty_recommendations

        recs = empty_recommendations()
    return recs, results


def recommend_accounts(
    sessions: pd.DataFrame,
    items: pd.DataFrame,
    fired: pd.DataFrame,
    config: Config,
    registry: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, list[AccountResult]]:
    """The nightly job's per-account flow in this process, over every account of the frames.

    For notebooks, the evaluation and tests on small windows: the same functions the
    engines run, in the same order, so the result is the published day's
    (:func:`prepare_accounts`, then :func:`finish_accounts`).

    Returns
    -------
    (pandas.DataFrame, list of AccountResult)
        All recommendations (sorted by account, alert, rank) and the per-account results.
    """
    return finish_accounts(prepare_accounts(sessions, items, fired, config, registry), config)
