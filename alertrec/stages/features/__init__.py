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
of the model's score (see ``alertrec/mxnet_ranker/ranker.py``).

Labels (:func:`graded_labels`): what a later session did with an item, graded
1 = used, 2 = used in a resolved session, 3 = the last item before the
session's ``alert_resolved`` (the step that revealed the cause).

No function here mutates its inputs, reads a clock, a path or the environment.

The package, one file per step (pure functions, no I/O):

* ``columns.py`` -- the column names, target modes and grades above;
* ``params.py`` -- :class:`FeatureParams`;
* ``history.py`` -- :func:`session_items`, :func:`history_stats` (the history as of ``as_of``) and
  :func:`history_stats_at` (the same at several cutoffs in one pass);
* ``candidates.py`` -- :func:`candidate_features` and :func:`make_features`;
* ``training.py`` -- :func:`graded_labels` and :func:`training_lists`;
* ``arrays.py`` -- small array helpers.
"""

from __future__ import annotations

from alertrec.stages.features.candidates import candidate_features, make_features
from alertrec.stages.features.columns import (
    ACCOUNT_N_USED,
    COLD,
    COLD_NEW,
    COLD_NONE,
    COLD_TWIN,
    CUTOFF,
    DEF_SESSIONS,
    FEATURE_COLUMNS,
    FROM_MEDOID,
    FROM_OWN,
    FROM_POPULAR,
    FROM_SIMILAR,
    FROM_TITLE,
    GAIN,
    GRADE,
    GRADE_LAST,
    GRADE_RESOLVED,
    GRADE_USED,
    LIST_ID,
    LIST_WEIGHT,
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
from alertrec.stages.features.history import (
    HistoryStats,
    SessionItems,
    StackedStats,
    history_stats,
    history_stats_at,
    session_items,
)
from alertrec.stages.features.params import FeatureParams
from alertrec.stages.features.training import graded_labels, training_lists

__all__ = [
    "candidate_features",
    "make_features",
    "ACCOUNT_N_USED",
    "COLD",
    "COLD_NEW",
    "COLD_NONE",
    "COLD_TWIN",
    "CUTOFF",
    "DEF_SESSIONS",
    "FEATURE_COLUMNS",
    "FROM_MEDOID",
    "FROM_OWN",
    "FROM_POPULAR",
    "FROM_SIMILAR",
    "FROM_TITLE",
    "GAIN",
    "GRADE",
    "GRADE_LAST",
    "GRADE_RESOLVED",
    "GRADE_USED",
    "LIST_ID",
    "LIST_WEIGHT",
    "N_LAST",
    "N_RESOLVED_USED",
    "N_SOURCES",
    "N_USED",
    "PRIOR",
    "SOURCE_ALERT_ID",
    "SOURCE_N_USED",
    "SOURCE_SESSIONS",
    "SOURCE_TITLE",
    "HistoryStats",
    "SessionItems",
    "history_stats",
    "history_stats_at",
    "StackedStats",
    "session_items",
    "FeatureParams",
    "graded_labels",
    "training_lists",
]
