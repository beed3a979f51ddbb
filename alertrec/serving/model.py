"""A loaded serving folder: :func:`load_bundle` and :meth:`Bundle.recommend` (no mxnet here).

The Python API of the notebooks and the object that ``alertrec serve`` keeps per loaded
model; :meth:`Bundle.recommend` is exactly the answer of ``POST /models/<name>/invoke``.

Raw events are judged by the nightly job's rules (``docs/contract.md``): sorted by
(``ts``, ``event_id``), duplicate ``event_id`` counted once; unknown actions ignored;
events without ``event_id``, ``ts`` or ``action`` skipped; payloads that are not JSON
(:func:`alertrec.stages.explode.explode_one`) or miss the identifying field (a non-empty
``dashboard.id`` / ``query.text``) skipped; the investigation ends at the next
``alert_opened``, at an ``alert_resolved``, after a gap of more than the idle timeout or
after the maximum duration. Query texts are canonicalized with
:func:`alertrec.stages.normalize.canonical_query` and mapped to the catalog's ids (the
near-duplicate links of the nightly run included), else to
:func:`~alertrec.stages.normalize.query_item_id` of the canonical form.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from alertrec import schema as S
from alertrec.serving import nextstep as N
from alertrec.serving.nextstep.prefix import _F
from alertrec.stages.explode import R_EXPLODE_MALFORMED, explode_one
from alertrec.stages.normalize import canonical_query, query_item_id
from alertrec.stages.reasons import verb_of

log = logging.getLogger(__name__)

__all__ = ["Bundle", "BadRequest", "BundleNotFound", "load_bundle", "judge_events"]

MANIFEST = "manifest.json"
FORMAT = "alertrec-serving/1"
MAX_TOP_K = 100
MAX_EVENTS = 10_000
IDLE_TIMEOUT_S = 1800.0
MAX_DURATION_S = 4 * 3600.0


class BadRequest(ValueError):
    """The request is malformed (HTTP 400); the message says what is wrong."""


class BundleNotFound(FileNotFoundError):
    """No serving folder at the URL (HTTP 404)."""


@dataclass(frozen=True)
class Judged:
    """The investigation's items after the rules: ``items`` as (item_type, item_id) in order
    of first use, ``elapsed_s`` from the opening to the last event, and what was skipped."""

    items: list[tuple[str, str]]
    elapsed_s: float
    skipped: dict[str, int]


def _parse_ts(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith("Z") or text.endswith("z"):
        text = text[:-1] + "+00:00"
    try:
        ts = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=dt.UTC)
    return ts.timestamp()


def _string_field(obj: Any, *path: str) -> str | None:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj if isinstance(obj, str) and obj != "" else None


def judge_events(
    events: Any,
    canonical_ids: dict[str, str],
    idle_timeout_s: float = IDLE_TIMEOUT_S,
    max_duration_s: float = MAX_DURATION_S,
) -> Judged:
    """The items an investigation used so far, by the nightly job's rules (module docstring).

    Parameters
    ----------
    events : list of dict
        ``event_id, ts (ISO-8601), action, payload (JSON text)``.
    canonical_ids : dict
        Canonical query form -> item id (the catalog's).
    idle_timeout_s, max_duration_s : float
        The session limits of the nightly run.

    Returns
    -------
    Judged

    Raises
    ------
    BadRequest
        ``events`` is not a list of objects.
    """
    if not isinstance(events, list):
        raise BadRequest("'events' must be a list of event objects")
    if len(events) > MAX_EVENTS:
        raise BadRequest(f"at most {MAX_EVENTS} events per request")
    skipped: dict[str, int] = {}

    def skip(reason: str) -> None:
        skipped[reason] = skipped.get(reason, 0) + 1

    rows = []
    for e in events:
        if not isinstance(e, dict):
            raise BadRequest("every entry of 'events' must be an object")
        ts = _parse_ts(e.get(S.TS))
        event_id, action = e.get(S.EVENT_ID), e.get(S.ACTION)
        if ts is None or not isinstance(event_id, str) or not event_id or not isinstance(action, str):
            skip(S.R_MISSING_REQUIRED)
            continue
        payload = e.get(S.PAYLOAD)
        rows.append((ts, event_id, payload if isinstance(payload, str) else None, action))
    rows.sort(key=lambda r: (r[0], r[1], r[2] or ""))
    seen: set[str] = set()
    used: list[tuple[str, str]] = []
    used_set: set[tuple[str, str]] = set()
    start: float | None = None
    last_ts = 0.0  # read only once start is set (both are set together)
    for ts, event_id, payload, action in rows:
        if event_id in seen:
            skip(S.R_DUPLICATE)
            continue
        seen.add(event_id)
        if start is not None and (ts - last_ts > idle_timeout_s or ts - start > max_duration_s):
            break
        if action not in S.KNOWN_ACTIONS:
            skip(S.R_UNKNOWN_ACTION)
            if start is not None:
                last_ts = ts
            continue
        if action == S.ALERT_OPENED:
            if start is not None:
                break  # the next alert_opened ends the investigation
            start = last_ts = ts
            continue
        if start is None:
            start = ts  # events before any alert_opened: the first one opens
        last_ts = ts
        if action == S.ALERT_RESOLVED:
            break
        item_type = S.ITEM_DASHBOARD if action == S.DASHBOARD_OPENED else S.ITEM_QUERY
        _, reason = explode_one(item_type, payload)
        if reason == R_EXPLODE_MALFORMED or payload is None:  # explode_one: None is malformed
            skip(S.R_MALFORMED_PAYLOAD)
            continue
        obj = orjson.loads(payload)
        if item_type == S.ITEM_DASHBOARD:
            item_id = _string_field(obj, "dashboard", "id")
        else:
            text = _string_field(obj, "query", "text")
            if text is None:
                item_id = None
            else:
                canonical = canonical_query(text, _string_field(obj, "query", "language"))
                item_id = canonical_ids.get(canonical) or query_item_id(canonical)
        if item_id is None or item_id.isspace():
            skip(S.R_MISSING_PAYLOAD_FIELD)
            continue
        key = (item_type, item_id)
        if key not in used_set:
            used_set.add(key)
            used.append(key)
    elapsed = 0.0 if start is None or last_ts is None else max(last_ts - start, 0.0)
    return Judged(used, elapsed, skipped)


class Bundle:
    """One account's serving folder, loaded: catalog, lists, statistics and the scorer.

    Build it with :func:`load_bundle` (a folder or ``s3://`` prefix) or
    :meth:`from_files` (the bytes of :func:`alertrec.serving.bundle.build_serving_files`).
    """

    def __init__(self, files: dict[str, bytes], url: str | None = None) -> None:
        manifest = json.loads(files[MANIFEST])
        if manifest.get("format") != FORMAT:
            raise ValueError(f"not a serving folder of format {FORMAT}: {manifest.get('format')!r}")
        for name, meta in manifest["files"].items():
            if name in files and len(files[name]) != meta["bytes"]:
                raise ValueError(f"{name} has {len(files[name])} bytes, the manifest says {meta['bytes']}")
        self.url = url
        self.manifest = manifest
        self.model_version: str = manifest["model_version"]
        self.account_id: int = int(manifest["account_id"])
        self.day = dt.date.fromisoformat(manifest["day"])
        doc = json.loads(files["catalog.json"])
        self.catalog = N.Catalog.from_json(doc)
        self.titles: dict[str, str] = doc.get("alerts", {})
        self.lists: dict[str, list[dict[str, Any]]] = json.loads(files["lists.json"])
        with np.load(io.BytesIO(files["stats.npz"]), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        self.stats = N.HistoryStats.from_arrays(arrays, [str(a) for a in arrays["alert_ids"]])
        with np.load(io.BytesIO(files["nextstep.npz"]), allow_pickle=False) as z:
            self.scorer = N.Scorer.from_arrays({k: z[k] for k in z.files})
        self._is_query = self.catalog.is_query
        small = sum(len(files[n]) for n in ("catalog.json", "lists.json"))
        self.memory_bytes = int(
            self.stats.nbytes() + 6 * small + 4096 + sum(w.nbytes + b.nbytes for w, b in self.scorer.layers)
        )

    @classmethod
    def from_files(cls, files: dict[str, bytes], url: str | None = None) -> Bundle:
        """A bundle from the file bytes of a serving folder."""
        return cls(files, url)

    # ------------------------------------------------------------------
    def recommend(
        self, alert_id: str, events: list[dict[str, Any]], top_k: int = 10, alert_title: str | None = None
    ) -> dict[str, Any]:
        """The next items to look at, best first, without the items already used.

        Parameters
        ----------
        alert_id : str
            The alert definition being investigated.
        events : list of dict
            The investigation's raw UI events so far (``event_id, ts, action, payload``),
            the ``alert_opened`` first; judged by the nightly rules.
        top_k : int
            At most this many items (1..100).
        alert_title : str, optional
            Informational (the lists are keyed by ``alert_id``).

        Returns
        -------
        dict
            ``{"model_version": str, "recommendations": [{"rank", "item_type", "item_id",
            "item_label", "score", "reason"}, ...]}``; with only the ``alert_opened``, the
            day's published list of the alert.

        Raises
        ------
        BadRequest
            A malformed argument.
        """
        if not isinstance(alert_id, str) or not alert_id:
            raise BadRequest("'alert_id' must be a non-empty string")
        if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
            raise BadRequest(f"'top_k' must be an integer within 1..{MAX_TOP_K}")
        if alert_title is not None and not isinstance(alert_title, str):
            raise BadRequest("'alert_title' must be a string")
        judged = judge_events(events, self.catalog.canonical)
        rows = self.rank(alert_id, judged.items, judged.elapsed_s, top_k)
        return {"model_version": self.model_version, "recommendations": rows}

    def rank(self, alert_id: str, used: list[tuple[str, str]], elapsed_s: float, top_k: int) -> list[dict[str, Any]]:
        """The ranked answer for items ``used`` (in order) and ``elapsed_s`` since the opening."""
        published = self.lists.get(alert_id, [])
        used_set = set(used)
        prefix = np.array([self.catalog.code(t, i) for t, i in used], dtype=np.int64)
        if not used or not (prefix >= 0).any():
            rows = [r for r in published if (r[S.ITEM_TYPE], r[S.ITEM_ID]) not in used_set]
            if rows or (not used and alert_id in self.lists):
                return [
                    {**{k: r[k] for k in (S.ITEM_TYPE, S.ITEM_ID, S.ITEM_LABEL, S.SCORE, S.REASON_TEXT)}, S.RANK: n + 1}
                    for n, r in enumerate(rows[:top_k])
                ]
        codes, scores, feats = self.score(alert_id, prefix, elapsed_s)
        order = np.lexsort((codes, -scores))[:top_k]
        reasons = {(r[S.ITEM_TYPE], r[S.ITEM_ID]): r[S.REASON_TEXT] for r in published}
        out = []
        for n, j in enumerate(order):
            c = int(codes[j])
            key = (str(self.catalog.item_type[c]), str(self.catalog.item_id[c]))
            out.append(
                {
                    S.RANK: n + 1,
                    S.ITEM_TYPE: key[0],
                    S.ITEM_ID: key[1],
                    S.ITEM_LABEL: str(self.catalog.item_label[c]),
                    S.SCORE: round(float(scores[j]), 6),
                    S.REASON_TEXT: self._reason(alert_id, prefix, c, feats[j], reasons.get(key)),
                }
            )
        return out

    def score(self, alert_id: str, prefix: np.ndarray, elapsed_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Candidate codes, their scores and features for a prefix of catalog codes."""
        f = N.prefix_features(self.stats, alert_id, prefix, elapsed_s, self._is_query)
        if len(f.codes) == 0:
            return f.codes, np.zeros(0), f.x
        return f.codes, self.scorer.score(f.x, f.prior), f.x

    def rank_codes(self, alert_id: str, prefix: np.ndarray, elapsed_s: float, top_k: int) -> np.ndarray:
        """Catalog codes of the top ``top_k`` (the replay's fast path; same order as :meth:`rank`)."""
        if len(prefix) == 0 or not (prefix >= 0).any():
            a = self.stats.alerts.get(alert_id)
            listed = a.list_codes if a is not None else np.zeros(0, np.int64)
            rows = [int(c) for c in listed if c not in set(prefix.tolist())]
            if rows or (len(prefix) == 0 and alert_id in self.lists):
                return np.array(rows[:top_k], dtype=np.int64)
        codes, scores, _ = self.score(alert_id, prefix, elapsed_s)
        return codes[np.lexsort((codes, -scores))[:top_k]]

    # ------------------------------------------------------------------
    def _label(self, code: int) -> str:
        label = str(self.catalog.item_label[code])
        return label if len(label) <= 60 else label[:59] + "…"

    def _reason(self, alert_id: str, prefix: np.ndarray, code: int, x: np.ndarray, published: str | None) -> str:
        f = _F
        verb = verb_of(self.catalog.item_type[code])
        a = self.stats.alerts.get(alert_id)
        last = int(prefix[-1]) if len(prefix) else -1
        if a is not None and last >= 0 and a.local[last] >= 0 and x[f["trans_alert"]] > 0:
            row = a.trans[int(a.local[last]) + 1]
            n = int(row[a.local[code]]) if a.local[code] >= 0 else 0
            return (
                f"{verb} next after '{self._label(last)}' in {n} of {int(row.sum())} investigations "
                f"of this alert that used it"
            )
        if x[f["pattern_ahead"]] > 0:
            return (
                f"the next step of the investigation pattern this one follows "
                f"({round(100 * x[f['pattern_support']])}% of its investigations {verb} it)"
            )
        if x[f["knn_alert"]] > 0:
            return f"{verb} in {round(100 * x[f['knn_alert']])}% of the similar investigations of this alert"
        if published:
            return published
        if x[f["cooc_mean"]] > 0 and last >= 0:
            return f"{verb} together with '{self._label(last)}' in this account ({round(100 * x[f['cooc_mean']])}%)"
        return f"popular in this account: {verb} in {round(100 * x[f['account_pop']])}% of its investigations"


def load_bundle(url: str) -> Bundle:
    """Load the serving folder at ``url`` (a local folder or an ``s3://`` prefix).

    Reads ``manifest.json`` and the files the answers need (not the MXNet files under
    ``ranker/``), checks their sizes and sha256 digests.

    Raises
    ------
    BundleNotFound
        No ``manifest.json`` there.
    ValueError
        A file differs from the manifest, or the format is unknown.
    """
    from alertrec.io.storage import storage_for

    storage = storage_for(url)
    try:
        manifest_bytes = storage.read_bytes(MANIFEST)
    except FileNotFoundError:
        raise BundleNotFound(f"no serving folder at {url} (no {MANIFEST})") from None
    manifest = json.loads(manifest_bytes)
    files = {MANIFEST: manifest_bytes}
    for name, meta in manifest.get("files", {}).items():
        if name.startswith("ranker/"):
            continue
        data = storage.read_bytes(name)
        if hashlib.sha256(data).hexdigest() != meta["sha256"]:
            raise ValueError(f"{url}/{name} does not match its sha256 in the manifest")
        files[name] = data
    return Bundle(files, url=str(url))
