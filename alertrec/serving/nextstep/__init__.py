"""The next-step model: features of an investigation's prefix and the numpy scorer.

Contract terms (``docs/contract.md``, "Serving"): an investigation's events so far
become the *prefix*, the distinct items (dashboards, canonical queries) it used, in
order of first use. For every item not yet used the model computes the features of
:data:`FEATURES` from the account's history statistics (:class:`HistoryStats`, kept
in the serving folder as arrays) and scores them with a small MLP whose weights were
trained nightly (``alertrec.mxnet_ranker.train_next_step_scorer``) and exported to
numpy, so a server answers without mxnet.

Nothing here imports mxnet, reads a clock, a path or the environment.

Modules
-------
catalog
    :class:`Catalog`, :func:`build_catalog`: the account's items and their codes.
sequences
    :class:`Sequences`, :func:`session_sequences`: each session's items in order of first use.
stats
    :class:`AlertStats`, :class:`CSR`, :class:`HistoryStats`, :func:`history_stats`: the
    history statistics (per alert definition and account-wide).
prefix
    :data:`FEATURES`, :class:`PrefixFeatures`, :func:`prefix_features`: a prefix's
    candidates and their features (the feature table is in its docstring).
scorer
    :class:`Scorer`: the numpy forward of the exported MLP.
training
    :class:`TrainingLists`, :func:`training_lists`: the scorer's training lists.
"""

from __future__ import annotations

from alertrec.serving.nextstep.catalog import Catalog, build_catalog
from alertrec.serving.nextstep.prefix import FEATURES, MAX_CANDIDATES, PrefixFeatures, prefix_features
from alertrec.serving.nextstep.scorer import Scorer
from alertrec.serving.nextstep.sequences import Sequences, session_sequences
from alertrec.serving.nextstep.stats import CSR, AlertStats, HistoryStats, history_stats
from alertrec.serving.nextstep.training import TrainingLists, training_lists

__all__ = [
    "CSR",
    "FEATURES",
    "MAX_CANDIDATES",
    "AlertStats",
    "Catalog",
    "HistoryStats",
    "PrefixFeatures",
    "Scorer",
    "Sequences",
    "TrainingLists",
    "build_catalog",
    "history_stats",
    "prefix_features",
    "session_sequences",
    "training_lists",
]
