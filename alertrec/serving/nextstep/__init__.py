"""The next-step model: features of an investigation's prefix and the numpy scorer."""

from __future__ import annotations

from alertrec.serving.nextstep.features import (  # noqa: F401 - the package's names
    _F,
    CSR,
    FEATURES,
    MAX_CANDIDATES,
    AlertStats,
    Catalog,
    HistoryStats,
    PrefixFeatures,
    Scorer,
    Sequences,
    TrainingLists,
    build_catalog,
    history_stats,
    prefix_features,
    session_sequences,
    training_lists,
)
