"""The serving folder of one account: ``build_serving_files`` (pure: frames in, file bytes out).

Contract (``docs/contract.md``, "Serving"): the nightly run leaves, for each account, a
self-contained folder ``ROOT/models/serving/dt=D/account=<account_id>/`` with everything
needed to answer the account's requests as of day ``D``, written before the day's
``_SUCCESS``. This module computes its files; the caller writes them.

Files (relative names)
----------------------
=======================  ==================================================================
``manifest.json``        format, model_version, day, account, training summary, and every
                         other file with its size and sha256 (a loader checks both, so the
                         order in which the caller writes the files does not matter)
``catalog.json``         the items (item_type, item_id, item_label: the published labels)
                         and the canonical query forms -> item ids
``lists.json``           the day's published lists per alert (the contract's columns)
``patterns.json``        the investigation patterns per alert: medoid item sequences, sizes,
                         the items' support (for people; the scorer reads ``stats.npz``)
``stats.npz``            the history statistics of :mod:`alertrec.serving.nextstep`
                         (transitions, co-occurrence, kNN incidence, pattern support)
``nextstep.npz``         the next-step MLP exported to numpy (weights, scaling, features)
``ranker/<scope>/...``   the day's MXNet list-scorer files as ``MXNetRanker.to_files`` gives
                         them (audit and reproduction; the server does not read them)
=======================  ==================================================================

The next-step scorer is trained here on the account's own sessions, by time folds of
``fold_days``: the lists of one fold's sessions (every prefix of at least one item) get the
features of the statistics of the other folds, so no session sees its own counts; the
MLP is fitted by ``alertrec.mxnet_ranker.train_next_step_scorer`` (mxnet is imported only
by that module, and only when this function trains).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
from typing import Any

import numpy as np
import pandas as pd

from alertrec import schema as S
from alertrec.config import Config
from alertrec.serving import nextstep as N

log = logging.getLogger(__name__)

__all__ = ["build_serving_files", "serving_prefix", "FORMAT", "MANIFEST", "NEXTSTEP_VERSION"]

FORMAT = "alertrec-serving/1"
NEXTSTEP_VERSION = "nextstep-v1"
MANIFEST = "manifest.json"
CATALOG = "catalog.json"
LISTS = "lists.json"
PATTERNS = "patterns.json"
STATS = "stats.npz"
NEXTSTEP = "nextstep.npz"
RANKER_DIR = "ranker"
SERVING_DIR = "serving"
FOLD_DAYS = 7
EPOCHS = 40
CAUSE_GAIN = 6.0
_LIST_COLUMNS = (S.RANK, S.ITEM_TYPE, S.ITEM_ID, S.ITEM_LABEL, S.SCORE, S.REASON_TEXT, S.MODEL_VERSION)


def serving_prefix(day: dt.date, account_id: int) -> str:
    """The folder of an account's serving files under the output root:
    ``models/serving/dt=D/account=<id>``."""
    return f"{S.MODELS_DIR}/{SERVING_DIR}/dt={day.isoformat()}/account={int(account_id)}"


def build_serving_files(
    account_id: int,
    day: dt.date,
    sessions: pd.DataFrame,
    items: pd.DataFrame,
    clusters: Any,
    recommendations: pd.DataFrame,
    ranker_files: dict[str, bytes],
    config: Config,
    fold_days: int = FOLD_DAYS,
    epochs: int = EPOCHS,
    cause_gain: float = CAUSE_GAIN,
) -> dict[str, bytes]:
    """The serving folder of one account as relative file names -> bytes.

    Parameters
    ----------
    account_id : int
        The account; rows of other accounts in the frames are ignored.
    day : datetime.date
        The day ``D`` (the history is the window before it).
    sessions : pandas.DataFrame
        The extraction's sessions of the window (``session_id, account_id, alert_id,
        alert_title, started_at, resolved``).
    items : pandas.DataFrame
        Normalized items (``session_id, seq, offset_s, item_type, item_id, item_label,
        canonical``).
    clusters : alertrec.stages.cluster.Clusters or None
        The account's clusters (``assignments``, ``medoids``).
    recommendations : pandas.DataFrame
        The day's published rows of the account (contract columns).
    ranker_files : dict
        ``MXNetRanker.to_files()`` entries of the account (``<scope>/<version>/...``).
    config : Config
        ``seed``, ``history_days``.
    fold_days : int
        The window is cut into folds of this many days; each fold's sessions label
        training lists whose features come from the other folds' statistics.
    epochs : int
        Training passes of the next-step MLP.
    cause_gain : float
        Training gain of the root cause (the last item of a resolved session) on top of
        the next item's gain 1: the root cause should rise to rank 1 as soon as the
        prefix reveals the failure mode.

    Returns
    -------
    dict
        Relative file name -> bytes (see the module docstring); never mutates its inputs.
    """
    account_id = int(account_id)
    sess = sessions[sessions[S.ACCOUNT_ID].astype("int64") == account_id]
    its = items[items[S.ACCOUNT_ID].astype("int64") == account_id] if S.ACCOUNT_ID in items.columns else items
    its = its[its[S.SESSION_ID].isin(sess[S.SESSION_ID])]
    recs = recommendations
    if len(recs):
        recs = recs[recs[S.ACCOUNT_ID].astype("int64") == account_id]
    recs = recs.sort_values([S.ALERT_ID, S.RANK], kind="mergesort") if len(recs) else recs

    catalog = N.build_catalog(its, recs)
    lists_codes: dict[str, np.ndarray] = {}
    lists_doc: dict[str, list[dict[str, Any]]] = {}
    for alert_id, group in recs.groupby(S.ALERT_ID, sort=True) if len(recs) else []:
        lists_codes[str(alert_id)] = np.array(
            [catalog.code(t, i) for t, i in zip(group[S.ITEM_TYPE], group[S.ITEM_ID])], dtype=np.int64
        )
        lists_doc[str(alert_id)] = [
            {c: (int(r[c]) if c == S.RANK else float(r[c]) if c == S.SCORE else str(r[c])) for c in _LIST_COLUMNS}
            for r in group.to_dict("records")
        ]
    seqs = N.session_sequences(sess, its, catalog)
    titles = _titles(sess, recs)
    patterns_all = _patterns(clusters, seqs, account_id)

    # next-step training, by time folds: the lists of one fold's sessions are scored with the
    # statistics of the other folds (no session sees its own counts)
    end_s = pd.Timestamp(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)).value / 1e9
    fold = np.minimum(((end_s - seqs.started_s) // (86_400.0 * fold_days)).astype(np.int64), 10**6)
    parts = []
    for f in np.unique(fold):
        rest = _subset(seqs, fold != f)
        fold_stats = N.history_stats(rest, len(catalog), lists_codes, _patterns(clusters, rest, account_id))
        parts.append(N.training_lists(fold_stats, _subset(seqs, fold == f), catalog.is_query, cause_gain=cause_gain))
    lists = _concat(parts)
    scorer, training = _train(lists, int(config.seed) + account_id % 100_003, epochs)
    stats = N.history_stats(seqs, len(catalog), lists_codes, patterns_all)

    arrays, alert_order = stats.to_arrays()
    files: dict[str, bytes] = {
        CATALOG: _json({**catalog.to_json(), "alerts": titles}),
        LISTS: _json(lists_doc),
        PATTERNS: _json(_patterns_doc(stats, catalog, alert_order)),
        STATS: _npz({**arrays, "alert_ids": np.array(alert_order, dtype=str)}),
        NEXTSTEP: _npz(scorer.to_arrays()),
    }
    ranker_version = None
    for rel, data in sorted(ranker_files.items()):
        files[f"{RANKER_DIR}/{rel}"] = bytes(data)
        if ranker_version is None and rel.count("/") >= 2:
            ranker_version = rel.split("/")[1]
    digest = hashlib.sha1()
    for name in sorted(files):
        digest.update(name.encode())
        digest.update(files[name])
    version = f"{NEXTSTEP_VERSION}-{day.strftime('%Y%m%d')}-{digest.hexdigest()[:10]}"
    manifest = {
        "format": FORMAT,
        "model_version": version,
        "day": day.isoformat(),
        "account_id": account_id,
        "history_days": int(config.history_days),
        "ranker_version": ranker_version,
        "counts": {
            "items": len(catalog),
            "sessions": int(len(seqs.codes)),
            "alerts": len(alert_order),
            "lists": len(lists_doc),
        },
        "training": training,
        "files": {
            name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for name, data in sorted(files.items())
        },
        "total_bytes": int(sum(len(d) for d in files.values())),
    }
    files[MANIFEST] = _json(manifest)
    log.info(
        "serving folder of account %d for %s: %d files, %d bytes, %d training lists",
        account_id,
        day,
        len(files),
        manifest["total_bytes"],
        training["lists"],
    )
    return files


# ---------------------------------------------------------------------------
def _subset(seqs: N.Sequences, keep: np.ndarray) -> N.Sequences:
    idx = np.flatnonzero(keep)
    return N.Sequences(
        seqs.session_id[idx],
        seqs.alert_id[idx],
        seqs.resolved[idx],
        seqs.started_s[idx],
        [seqs.codes[i] for i in idx],
        [seqs.offsets[i] for i in idx],
    )


def _patterns(clusters: Any, seqs: N.Sequences, account_id: int) -> dict[str, tuple[list[np.ndarray], np.ndarray]]:
    """alert_id -> (medoid code sequences, cluster label per session of ``seqs`` of the alert)."""
    if clusters is None or getattr(clusters, "medoids", None) is None or clusters.medoids.empty:
        return {}
    med = clusters.medoids[clusters.medoids[S.ACCOUNT_ID].astype("int64") == account_id]
    asg = clusters.assignments[clusters.assignments[S.ACCOUNT_ID].astype("int64") == account_id]
    label_of = dict(zip(asg[S.SESSION_ID], asg["cluster"].astype(int)))
    seq_of = dict(zip(seqs.session_id, seqs.codes))
    out = {}
    for alert_id, group in med.groupby(S.ALERT_ID, sort=True):
        group = group.sort_values("cluster")
        medoids = [
            np.asarray(seq_of.get(sid, np.zeros(0, np.int64)), dtype=np.int64) for sid in group["medoid_session_id"]
        ]
        rows = np.flatnonzero(seqs.alert_id == str(alert_id))
        labels = np.array([label_of.get(seqs.session_id[i], -1) for i in rows], dtype=np.int64)
        out[str(alert_id)] = (medoids, labels)
    return out


def _titles(sess: pd.DataFrame, recs: pd.DataFrame) -> dict[str, str]:
    """alert_id -> the title of its latest session (for reasons and notebooks)."""
    s = sess.sort_values([S.STARTED_AT, S.SESSION_ID], kind="mergesort").drop_duplicates(S.ALERT_ID, keep="last")
    out = {str(a): str(t) for a, t in zip(s[S.ALERT_ID], s[S.ALERT_TITLE]) if isinstance(t, str)}
    return dict(sorted(out.items()))


def _patterns_doc(stats: N.HistoryStats, catalog: N.Catalog, order: list[str]) -> dict[str, Any]:
    doc = {}
    for alert_id in order:
        a = stats.alerts[alert_id]
        clusters = []
        for k, med in enumerate(a.medoids):
            top = np.argsort(-a.support[k], kind="stable")[:10]
            clusters.append(
                {
                    "cluster": k,
                    "size": int(a.cluster_size[k]),
                    "medoid": [f"{catalog.item_type[a.vocab[v]]}:{catalog.item_id[a.vocab[v]]}" for v in med],
                    "support": {
                        f"{catalog.item_type[a.vocab[v]]}:{catalog.item_id[a.vocab[v]]}": round(
                            float(a.support[k, v]), 4
                        )
                        for v in top
                        if a.support[k, v] > 0
                    },
                }
            )
        doc[alert_id] = {"sessions": a.n_sessions, "resolved": a.n_resolved, "patterns": clusters}
    return doc


def _concat(parts: list[N.TrainingLists]) -> N.TrainingLists:
    parts = [p for p in parts if p.n_lists]
    if not parts:
        return N.training_lists(
            N.history_stats(
                N.Sequences(np.zeros(0, object), np.zeros(0, object), np.zeros(0, bool), np.zeros(0), [], []), 0, {}
            ),
            N.Sequences(np.zeros(0, object), np.zeros(0, object), np.zeros(0, bool), np.zeros(0), [], []),
            np.zeros(0),
        )
    width = max(p.x.shape[1] for p in parts)

    def pad(a: np.ndarray) -> np.ndarray:
        shape = list(a.shape)
        shape[1] = width - a.shape[1]
        return np.concatenate([a, np.zeros(shape, a.dtype)], axis=1)

    return N.TrainingLists(
        *(np.concatenate([pad(getattr(p, k)) for p in parts]) for k in ("x", "prior", "mask", "gain"))
    )


def _train(lists: N.TrainingLists, seed: int, epochs: int) -> tuple[N.Scorer, dict[str, Any]]:
    n_feat = len(N.FEATURES)
    if lists.n_lists == 0:
        return N.Scorer(np.zeros(n_feat, np.float32), np.ones(n_feat, np.float32), []), {"lists": 0, "final_loss": None}
    rows = lists.x[lists.mask > 0].astype(np.float64)
    mean = rows.mean(axis=0)
    std = rows.std(axis=0)
    std = np.where(std > 1e-9, std, 1.0)
    x = ((lists.x - mean) / std * lists.mask[..., None]).astype(np.float32)
    from alertrec.mxnet_ranker import train_next_step_scorer  # mxnet only when training

    fitted = train_next_step_scorer(x, lists.prior, lists.mask, lists.gain, epochs=epochs, batch_lists=64, seed=seed)
    scorer = N.Scorer(mean.astype(np.float32), std.astype(np.float32), fitted["layers"], fitted["prior_scale"])
    losses = fitted["losses"]
    return scorer, {"lists": int(lists.n_lists), "final_loss": round(losses[-1], 5) if losses else None}


def _json(obj: Any) -> bytes:
    return (json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n").encode("utf-8")


def _npz(arrays: dict[str, np.ndarray]) -> bytes:
    """``np.savez_compressed`` layout with fixed zip timestamps, in key order: the same
    arrays give the same bytes (numpy stamps the current time)."""
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key in sorted(arrays):
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asanyarray(arrays[key]), allow_pickle=False)
            zf.writestr(info, member.getvalue())
    return buf.getvalue()
