"""The popularity yardstick (``popularity-v1``): :class:`PopularityRanker`.

``docs/adr/0003-popularity-yardstick.md`` says why it scores the way it does; its reason
texts and item labels are those of :mod:`alertrec.stages.reasons`.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from alertrec import schema as S
from alertrec.config import Config
from alertrec.stages.rank.base import Ranker, empty_recommendations, finish_recommendations
from alertrec.stages.reasons import borrowed_text, item_labels, own_use_text, popular_text, verb_of
from alertrec.stages.similarity import best_matches

log = logging.getLogger(__name__)

__all__ = ["PopularityRanker", "TIER_OWN", "TIER_BORROWED", "TIER_ACCOUNT"]

TIER_OWN = 1  # used in this definition's own investigations
TIER_BORROWED = 2  # used in investigations of definitions with a similar title (same account)
TIER_ACCOUNT = 3  # popular in the whole account

# internal column names (never leave this module)
_SCORE_RAW = "_raw"
_TIER = "_tier"
_N_USED = "_n_used"
_N_RESOLVED = "_n_resolved"
_N_SESSIONS = "_n_sessions"
_WEIGHT = "_weight"
_SOURCE = "_source_alert_id"
_SIMILARITY = "_similarity"
_KEY = [S.ACCOUNT_ID, S.ALERT_ID]
_ITEM = [S.ITEM_TYPE, S.ITEM_ID]


# --------------------------------------------------------------------------
# The popularity yardstick
# --------------------------------------------------------------------------
class PopularityRanker(Ranker):
    """Recency- and resolution-weighted popularity, with borrowing for thin definitions.

    The score of item ``i`` for definition ``(a, alert)`` is the sum, over
    that definition's sessions that used ``i`` (a session counts an item
    once), of ``w = 0.5 ** (age_days / half_life_days) * (1 + resolved_weight
    if resolved else 1)`` with ``age_days = (window_end - started_at)`` in days
    (never below 0).

    Each definition gets, in this order (an item appears once, at its first tier):

    1. its own items, by score;
    2. when fewer than ``top_k``: items of the at most ``borrow_sources``
       definitions of the same account whose titles are most similar
       (rapidfuzz ``token_set_ratio`` with ``default_process``, at least
       ``similar_title_threshold``; ties by alert_id), scored
       ``sum(similarity / 100 * source score)``;
    3. when still fewer: the account's most popular items (score summed over
       all the account's sessions).

    Within a tier the order is score descending, then ``item_type``, then
    ``item_id``. A lower tier's scores are multiplied by
    ``min(1, floor / its highest score)`` (and clipped at ``floor``), where
    ``floor`` is the lowest score shown in the tier above, so that scores
    never increase with rank while the order inside each tier is kept.

    Attributes
    ----------
    config_ : Config
        The settings it was fitted with.
    own_ : pandas.DataFrame
        ``account_id, alert_id, item_type, item_id, _raw`` (score),
        ``_n_used`` (sessions that used it), ``_n_resolved`` (of them resolved).
    definitions_ : pandas.DataFrame
        ``account_id, alert_id, alert_title, _n_sessions, _n_resolved``: every
        definition with investigations in the window.
    account_popularity_ : pandas.DataFrame
        ``account_id, item_type, item_id, _raw, _n_used``: account-wide.
    labels_ : pandas.DataFrame
        ``account_id, item_type, item_id, item_label``.
    """

    model_version = "popularity-v1"

    def __init__(self) -> None:
        pass  # no parameters: everything comes from the config given to fit

    # ------------------------------------------------------------------
    def fit(
        self, sessions: pd.DataFrame, items: pd.DataFrame, fired: pd.DataFrame, config: Config, clusters: Any = None
    ) -> PopularityRanker:
        """Count, per definition and per account, the weighted sessions that used each item.

        Parameters
        ----------
        sessions : pandas.DataFrame
            Uses ``session_id``, ``account_id``, ``alert_id``, ``alert_title``,
            ``started_at``, ``resolved``.
        items : pandas.DataFrame
            Output of ``normalize_items``; uses ``session_id``, ``account_id``,
            ``item_type``, ``item_id``, ``item_label``. Rows whose ``session_id`` is
            not in ``sessions``, or whose ``item_id`` is null, are ignored.
        fired : pandas.DataFrame
            Uses ``account_id``, ``alert_id``, ``alert_title``: the title of
            a definition's latest firing names it in borrowed reasons.
        config : Config
            Uses ``window_end``, ``half_life_days``, ``resolved_weight``,
            ``history_days``, ``top_k``, ``similar_title_threshold``,
            ``borrow_sources``, ``generated_at``.
        clusters : optional
            Ignored: the yardstick ranks by popularity alone.

        Returns
        -------
        PopularityRanker
            ``self``.
        """
        missing = [c for c in (S.ITEM_ID, S.ITEM_LABEL) if c not in items.columns]
        if missing:
            raise ValueError(f"items lacks {missing}: pass the output of normalize_items, not the raw items")
        self.config_ = config

        sess = _session_weights(sessions, config)
        self.definitions_ = _definitions(sess, fired)

        used = items.loc[items[S.ITEM_ID].notna(), [S.SESSION_ID, S.ITEM_TYPE, S.ITEM_ID]]
        used = used.drop_duplicates([S.SESSION_ID, *_ITEM])  # a session counts an item once
        session_columns = [S.SESSION_ID, S.ACCOUNT_ID, S.ALERT_ID, _WEIGHT, S.RESOLVED]
        uses = used.merge(sess[session_columns], on=S.SESSION_ID, how="inner")
        dropped = len(used) - len(uses)
        if dropped:
            log.warning("popularity: %d (session, item) pairs name a session that is not in sessions; ignored", dropped)
        uses = uses.sort_values([S.ACCOUNT_ID, S.ALERT_ID, S.SESSION_ID, *_ITEM], kind="mergesort")

        self.own_ = (
            uses.groupby(_KEY + _ITEM, sort=True)
            .agg(**{_SCORE_RAW: (_WEIGHT, "sum"), _N_USED: (S.SESSION_ID, "size"), _N_RESOLVED: (S.RESOLVED, "sum")})
            .reset_index()
            .astype({_N_USED: "int64", _N_RESOLVED: "int64"})
        )
        self.account_popularity_ = (
            uses.groupby([S.ACCOUNT_ID, *_ITEM], sort=True)
            .agg(**{_SCORE_RAW: (_WEIGHT, "sum"), _N_USED: (S.SESSION_ID, "size")})
            .reset_index()
            .astype({_N_USED: "int64"})
        )
        self.labels_ = item_labels(items)
        log.info(
            "popularity: %d sessions, %d definitions, %d (definition, item) pairs, %d accounts with items",
            len(sess),
            len(self.definitions_),
            len(self.own_),
            self.account_popularity_[S.ACCOUNT_ID].nunique(),
        )
        return self

    # ------------------------------------------------------------------
    def recommend(self, fired: pd.DataFrame) -> pd.DataFrame:
        """Top ``config.top_k`` items per fired definition (see the class docstring).

        Parameters
        ----------
        fired : pandas.DataFrame
            Uses ``account_id``, ``alert_id`` and ``alert_title`` (the title
            that is compared with other definitions' titles). Not modified.

        Returns
        -------
        pandas.DataFrame
            The contract's recommendations (:func:`finish_recommendations`).
        """
        if not hasattr(self, "own_"):
            raise RuntimeError("PopularityRanker.recommend was called before fit")
        config = self.config_
        k = int(config.top_k)
        targets = _targets(fired, self.definitions_)
        if targets.empty or self.account_popularity_.empty:
            return empty_recommendations()

        own = targets[_KEY].merge(self.own_, on=_KEY, how="inner")
        own[_TIER] = TIER_OWN
        own = _top_per_target(own, k)

        chosen = own
        need = _needing(targets, chosen, k)
        borrowed = self._borrowed(need, chosen)
        chosen = pd.concat([chosen, borrowed], ignore_index=True)
        need = _needing(targets, chosen, k)
        popular = self._account_wide(need, chosen, k)
        chosen = pd.concat([chosen, popular], ignore_index=True)

        chosen = chosen.sort_values(
            [*_KEY, _TIER, _SCORE_RAW, S.ITEM_TYPE, S.ITEM_ID],
            ascending=[True, True, True, False, True, True],
            kind="mergesort",
        ).reset_index(drop=True)
        chosen[S.RANK] = chosen.groupby(_KEY, sort=False).cumcount() + 1
        chosen[S.SCORE] = _tier_scaled_scores(chosen)
        chosen = chosen.merge(self.labels_, on=[S.ACCOUNT_ID, *_ITEM], how="left")
        chosen[S.ITEM_LABEL] = chosen[S.ITEM_LABEL].where(chosen[S.ITEM_LABEL].notna(), chosen[S.ITEM_ID])
        chosen[S.REASON_TEXT] = self._reasons(chosen)
        out = finish_recommendations(chosen, self.model_version, config.generated_at)
        log.info(
            "popularity: %d rows for %d of %d definitions (own %d, borrowed %d, account-wide %d)",
            len(out),
            out[_KEY].drop_duplicates().shape[0],
            len(targets),
            len(own),
            len(borrowed),
            len(popular),
        )
        return out

    # ------------------------------------------------------------------
    def _borrowed(self, need: pd.DataFrame, chosen: pd.DataFrame) -> pd.DataFrame:
        """Tier 2: items of the most title-similar definitions of the same account."""
        config = self.config_
        if need.empty or config.borrow_sources == 0 or self.own_.empty:
            return _no_rows(chosen)
        pairs = _similar_definitions(need, self.definitions_, config.similar_title_threshold, config.borrow_sources)
        if pairs.empty:
            return _no_rows(chosen)
        source_items = self.own_.rename(columns={S.ALERT_ID: _SOURCE})
        cand = pairs.merge(source_items, on=[S.ACCOUNT_ID, _SOURCE], how="inner")
        cand["_contribution"] = cand[_SIMILARITY] / 100.0 * cand[_SCORE_RAW]
        cand = _not_chosen(cand, chosen)
        if cand.empty:
            return _no_rows(chosen)
        # the source that contributed most names the reason (ties: most similar, then alert_id)
        cand = cand.sort_values(
            _KEY + _ITEM + ["_contribution", _SIMILARITY, _SOURCE],
            ascending=[True, True, True, True, False, False, True],
            kind="mergesort",
        )
        grouped = cand.groupby(_KEY + _ITEM, sort=True)
        best = grouped.head(1).set_index(_KEY + _ITEM)
        agg = grouped.agg(**{_SCORE_RAW: ("_contribution", "sum"), "_n_sources": (_SOURCE, "size")})
        rows = agg.join(best[[_SOURCE, _N_USED, _N_RESOLVED]]).reset_index()
        rows = rows.merge(need[[*_KEY, "_remaining"]], on=_KEY, how="inner")
        rows[_TIER] = TIER_BORROWED
        return _top_per_target(rows, rows["_remaining"])

    def _account_wide(self, need: pd.DataFrame, chosen: pd.DataFrame, k: int) -> pd.DataFrame:
        """Tier 3: the account's most popular items not chosen yet."""
        if need.empty:
            return _no_rows(chosen)
        # a definition has fewer than k rows chosen, so the account's top k items always fill it
        top = _top_per_group(self.account_popularity_, [S.ACCOUNT_ID], k)
        cand = need[[*_KEY, "_remaining"]].merge(top, on=S.ACCOUNT_ID, how="inner")
        cand = _not_chosen(cand, chosen)
        if cand.empty:
            return _no_rows(chosen)
        cand[_TIER] = TIER_ACCOUNT
        return _top_per_target(cand, cand["_remaining"])

    def _reasons(self, chosen: pd.DataFrame) -> np.ndarray:
        """One line per row, with real counts (see the ADR for the wording)."""
        history = int(self.config_.history_days)
        defs = self.definitions_.set_index(_KEY)
        n_sessions = defs[_N_SESSIONS].to_dict()
        titles = defs[S.ALERT_TITLE].to_dict()
        columns = [S.ACCOUNT_ID, S.ALERT_ID, S.ITEM_TYPE, _TIER, _N_USED, _N_RESOLVED, _SOURCE, "_n_sources"]
        for column in columns:
            if column not in chosen.columns:
                chosen = chosen.assign(**{column: np.nan})
        out = []
        for account, alert, item_type, tier, n_used, n_resolved, source, n_sources in zip(
            *(chosen[c].to_numpy(dtype=object) for c in columns)
        ):
            verb = verb_of(item_type)
            if tier == TIER_OWN:
                text = own_use_text(verb, n_used, n_sessions.get((account, alert), 0), history, n_resolved)
            elif tier == TIER_BORROWED:
                text = borrowed_text(
                    titles.get((account, source)), source, verb, n_used, n_sessions.get((account, source), 0), n_sources
                )
            else:
                text = popular_text(verb, n_used, history)
            out.append(text)
        return np.array(out, dtype=object)


# --------------------------------------------------------------------------
# Helpers (pure functions over frames)
# --------------------------------------------------------------------------
def _session_weights(sessions: pd.DataFrame, config: Config) -> pd.DataFrame:
    """One row per session: ids, title, resolved and its weight ``w``."""
    sess = sessions[[S.SESSION_ID, S.ACCOUNT_ID, S.ALERT_ID, S.ALERT_TITLE, S.STARTED_AT, S.RESOLVED]].copy()
    sess = sess.drop_duplicates(S.SESSION_ID)
    sess[S.RESOLVED] = sess[S.RESOLVED].fillna(False).astype(bool)
    sess[S.ACCOUNT_ID] = sess[S.ACCOUNT_ID].astype("int64")
    started = pd.to_datetime(sess[S.STARTED_AT], utc=True)
    age_days = ((pd.Timestamp(config.window_end) - started).dt.total_seconds() / 86400.0).clip(lower=0.0)
    recency = np.power(0.5, age_days.to_numpy(dtype=float) / float(config.half_life_days))
    resolved = np.where(sess[S.RESOLVED].to_numpy(), 1.0 + float(config.resolved_weight), 1.0)
    sess[_WEIGHT] = recency * resolved
    order = [S.ACCOUNT_ID, S.ALERT_ID, S.STARTED_AT, S.SESSION_ID]
    return sess.sort_values(order, kind="mergesort").reset_index(drop=True)


def _definitions(sess: pd.DataFrame, fired: pd.DataFrame) -> pd.DataFrame:
    """Definitions with investigations: counts and the title that names them."""
    counts = (
        sess.groupby(_KEY, sort=True)
        .agg(**{_N_SESSIONS: (S.SESSION_ID, "size"), _N_RESOLVED: (S.RESOLVED, "sum")})
        .reset_index()
        .astype({_N_SESSIONS: "int64", _N_RESOLVED: "int64"})
    )
    titled = sess[_non_blank(sess[S.ALERT_TITLE])]
    latest = titled.drop_duplicates(_KEY, keep="last")[[*_KEY, S.ALERT_TITLE]]  # sess is sorted by started_at
    defs = counts.merge(latest, on=_KEY, how="left")
    if not fired.empty and S.ALERT_TITLE in fired.columns:
        f = fired[[*_KEY, S.ALERT_TITLE]].copy()
        f[S.ACCOUNT_ID] = f[S.ACCOUNT_ID].astype("int64")
        f = f[_non_blank(f[S.ALERT_TITLE])].drop_duplicates(_KEY, keep="last")
        f = f.rename(columns={S.ALERT_TITLE: "_fired_title"})
        defs = defs.merge(f, on=_KEY, how="left")
        defs[S.ALERT_TITLE] = defs["_fired_title"].where(defs["_fired_title"].notna(), defs[S.ALERT_TITLE])
        defs = defs.drop(columns="_fired_title")
    return defs[[*_KEY, S.ALERT_TITLE, _N_SESSIONS, _N_RESOLVED]]


def _targets(fired: pd.DataFrame, definitions: pd.DataFrame) -> pd.DataFrame:
    """One row per fired definition with the title to compare (fired title, else the learned one)."""
    cols = _KEY + ([S.ALERT_TITLE] if S.ALERT_TITLE in fired.columns else [])
    t = fired[cols].copy()
    if S.ALERT_TITLE not in t.columns:
        t[S.ALERT_TITLE] = None
    t = t[t[S.ACCOUNT_ID].notna() & t[S.ALERT_ID].notna()]
    t[S.ACCOUNT_ID] = t[S.ACCOUNT_ID].astype("int64")
    t[S.ALERT_ID] = t[S.ALERT_ID].astype(str)
    t = t.sort_values(_KEY, kind="mergesort").drop_duplicates(_KEY, keep="last")
    known = definitions[[*_KEY, S.ALERT_TITLE]].rename(columns={S.ALERT_TITLE: "_known_title"})
    t = t.merge(known, on=_KEY, how="left")
    t[S.ALERT_TITLE] = t[S.ALERT_TITLE].where(_non_blank(t[S.ALERT_TITLE]), t["_known_title"])
    return t.drop(columns="_known_title").reset_index(drop=True)


def _non_blank(values: pd.Series) -> pd.Series:
    return values.map(lambda v: isinstance(v, str) and v.strip() != "").astype(bool)


def _top_per_group(frame: pd.DataFrame, keys: list[str], limit) -> pd.DataFrame:
    """The best rows per group by (score desc, item_type, item_id); ``limit``: int or per-row Series."""
    ordered = frame.sort_values(
        [*keys, _SCORE_RAW, S.ITEM_TYPE, S.ITEM_ID],
        ascending=[True] * len(keys) + [False, True, True],
        kind="mergesort",
    )
    position = ordered.groupby(keys, sort=False).cumcount()
    return ordered[position < limit].reset_index(drop=True)


def _top_per_target(frame: pd.DataFrame, limit) -> pd.DataFrame:
    """The best rows per definition; ``limit`` is an int or a per-row Series of slots left."""
    if isinstance(limit, pd.Series):
        return _top_limited(frame.assign(_limit=limit.to_numpy()))
    return _top_per_group(frame, _KEY, limit)


def _top_limited(frame: pd.DataFrame) -> pd.DataFrame:
    ordered = frame.sort_values(
        [*_KEY, _SCORE_RAW, S.ITEM_TYPE, S.ITEM_ID],
        ascending=[True, True, False, True, True],
        kind="mergesort",
    )
    position = ordered.groupby(_KEY, sort=False).cumcount().to_numpy()
    return ordered[position < ordered["_limit"].to_numpy()].drop(columns="_limit").reset_index(drop=True)


def _needing(targets: pd.DataFrame, chosen: pd.DataFrame, k: int) -> pd.DataFrame:
    """Targets with fewer than ``k`` rows chosen, with ``_remaining`` slots."""
    have = chosen.groupby(_KEY, sort=False).size().rename("_have").reset_index()
    t = targets.merge(have, on=_KEY, how="left")
    t["_remaining"] = k - t["_have"].fillna(0).astype("int64")
    return t[t["_remaining"] > 0].drop(columns="_have").reset_index(drop=True)


def _not_chosen(cand: pd.DataFrame, chosen: pd.DataFrame) -> pd.DataFrame:
    """Candidates whose item is not already chosen for their definition."""
    if chosen.empty:
        return cand
    taken = chosen[_KEY + _ITEM].assign(_taken=True)
    cand = cand.merge(taken, on=_KEY + _ITEM, how="left")
    return cand[cand["_taken"].isna()].drop(columns="_taken").reset_index(drop=True)


def _no_rows(like: pd.DataFrame) -> pd.DataFrame:
    return like.iloc[0:0].copy()


def _similar_definitions(need: pd.DataFrame, definitions: pd.DataFrame, threshold: float, limit: int) -> pd.DataFrame:
    """For each needing target, its at most ``limit`` most title-similar definitions of the same account.

    Returns ``account_id, alert_id, _source_alert_id, _similarity`` (0-100),
    similarity at least ``threshold`` and above 0, the target itself excluded;
    ties by the source's alert_id.
    """
    frames = []
    titled = definitions[_non_blank(definitions[S.ALERT_TITLE])]
    sources_by_account = dict(iter(titled.groupby(S.ACCOUNT_ID, sort=True)))
    targets = need[_non_blank(need[S.ALERT_TITLE])]
    for account, group in targets.groupby(S.ACCOUNT_ID, sort=True):
        sources = sources_by_account.get(account)
        if sources is None or sources.empty:
            continue
        # one more match than kept: the target itself is dropped below
        rows, cols, scores = best_matches(
            group[S.ALERT_TITLE].tolist(), sources[S.ALERT_TITLE].tolist(), limit + 1, threshold
        )
        if len(rows) == 0:
            continue
        frames.append(
            pd.DataFrame(
                {
                    S.ACCOUNT_ID: np.full(len(rows), account, dtype="int64"),
                    S.ALERT_ID: group[S.ALERT_ID].to_numpy(dtype=object)[rows],
                    _SOURCE: sources[S.ALERT_ID].to_numpy(dtype=object)[cols],
                    _SIMILARITY: scores,
                }
            )
        )
    if not frames:
        return pd.DataFrame(
            {
                S.ACCOUNT_ID: pd.Series([], dtype="int64"),
                S.ALERT_ID: pd.Series([], dtype=object),
                _SOURCE: pd.Series([], dtype=object),
                _SIMILARITY: pd.Series([], dtype=float),
            }
        )
    pairs = pd.concat(frames, ignore_index=True)
    pairs = pairs[pairs[S.ALERT_ID] != pairs[_SOURCE]]
    pairs = pairs.sort_values([*_KEY, _SIMILARITY, _SOURCE], ascending=[True, True, False, True], kind="mergesort")
    return pairs.groupby(_KEY, sort=False).head(limit).reset_index(drop=True)


def _tier_scaled_scores(chosen: pd.DataFrame) -> np.ndarray:
    """Scores non-increasing with rank: each lower tier is scaled under the tier above.

    Per definition, tier 1 keeps its raw scores; a lower tier's scores become
    ``min(raw * min(1, floor / highest raw of the tier), floor)``, where
    ``floor`` is the lowest (scaled) score of the nearest tier above it that
    has rows. Scaling by one factor keeps the order inside the tier.
    """
    raw = chosen[_SCORE_RAW].to_numpy(dtype=float)
    if len(chosen) == 0:
        return raw.copy()
    definition = chosen.groupby(_KEY, sort=False).ngroup().to_numpy()
    tiers = chosen[_TIER].to_numpy()
    n_defs = int(definition.max()) + 1
    floor = np.full(n_defs, np.nan)  # lowest score shown so far, per definition
    scores = raw.copy()
    for tier in (TIER_OWN, TIER_BORROWED, TIER_ACCOUNT):
        in_tier = tiers == tier
        if not in_tier.any():
            continue
        defs = definition[in_tier]
        top = np.full(n_defs, -np.inf)
        np.maximum.at(top, defs, raw[in_tier])
        has_floor = ~np.isnan(floor)
        factor = np.ones(n_defs)
        shrink = has_floor & (top > floor)
        factor[shrink] = floor[shrink] / top[shrink]
        scaled = raw[in_tier] * factor[defs]
        capped = has_floor[defs]
        scaled[capped] = np.minimum(scaled[capped], floor[defs][capped])
        scores[in_tier] = scaled
        low = np.full(n_defs, np.inf)
        np.minimum.at(low, defs, scaled)
        present = np.isfinite(low)
        floor[present] = low[present]
    return scores
