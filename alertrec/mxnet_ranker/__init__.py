"""The learned ranker (``mxnet-v1``): an MXNet Gluon list scorer behind :class:`~alertrec.stages.rank.Ranker`.

``ranker``
    :class:`MXNetRanker`: training on the window's lists (one shared model, fine-tuned
    per-account models), scoring, reasons, the model files (docs/adr/0005-mxnet-ranker.md).
``lists``
    the training lists as padded arrays and the feature scaling (numpy and pandas only).
``net``
    the network (:class:`ListScorer`), its training and scoring, the parameter bytes and
    the next-step scorer of the serving folders: the only module that imports mxnet.

Importing this package imports mxnet (the process pool's forkserver preloads it once),
and changes no process-wide state.
"""

from __future__ import annotations

import logging

# net first: mxnet is imported before pandas, as when this package was one module
from alertrec.mxnet_ranker.net import ListScorer, train_next_step_scorer  # isort: skip
from alertrec.mxnet_ranker.lists import renumber_lists
from alertrec.mxnet_ranker.ranker import MODEL_VERSION, SHARED, MXNetRanker

log = logging.getLogger(__name__)

__all__ = ["MXNetRanker", "ListScorer", "MODEL_VERSION", "SHARED", "renumber_lists", "train_next_step_scorer"]
