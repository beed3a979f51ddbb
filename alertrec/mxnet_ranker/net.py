"""The network of the MXNet ranker: the only module of alertrec that imports mxnet.

Its interface is numpy in, numpy out: :class:`ListScorer` (``prior_scale * prior +
MLP(x)``), :func:`new_net`, :func:`train` (listwise softmax cross-entropy, Adam),
:func:`eval_loss`, :func:`forward`, :func:`params_bytes` / :func:`load_params` (the
``model.params`` bytes of a model folder), and :func:`train_next_step_scorer` for the
serving folders. Swapping the framework means rewriting this file, nothing else
(docs/adr/0005-mxnet-ranker.md).

Importing it changes no process-wide state: mxnet is imported with the synchronous
``NaiveEngine`` and one OpenMP thread (unless the environment says otherwise), which
makes training bit-reproducible, and the environment is restored afterwards.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np


@contextlib.contextmanager
def _mxnet_import_environment() -> Iterator[None]:
    """What importing mxnet 1.9.1 needs, for the duration of the import only.

    Threads and engine are read by MXNet and OpenMP when the library loads: the synchronous
    engine with one OpenMP thread makes training bit-reproducible and keeps MXNet from
    oversubscribing the cores that Spark and the process pool share (an operator's own
    value of a variable wins). The retired mxnet's import still touches ``np.bool``, which
    numpy 1.24 removed (numpy < 2 is pinned). Both are undone afterwards, with the variables
    mxnet's import sets itself, so importing this module leaves the process as it was.
    """
    wanted = {"MXNET_ENGINE_TYPE": "NaiveEngine", "OMP_NUM_THREADS": "1", "MXNET_CPU_WORKER_NTHREADS": "1"}
    saved = dict(os.environ)
    for name, value in wanted.items():
        os.environ.setdefault(name, value)
    alias = "bool" not in np.__dict__
    if alias:
        np.bool = bool  # type: ignore[attr-defined]
    try:
        with warnings.catch_warnings():  # mxnet 1.9 imports numpy/distutils APIs that warn on import
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        # mxnet's own import sets KMP_* variables too (read by OpenMP when it loads, which it has)
        for name in set(os.environ) - set(saved):
            del os.environ[name]
        os.environ.update(saved)
        if alias:
            del np.bool  # type: ignore[attr-defined]


with _mxnet_import_environment():
    import mxnet as mx
    from mxnet import autograd, gluon

    # MXNet picks its engine at the first operation, not at import: start it here, while the
    # variables are set, so it is the synchronous one whatever the environment is later
    mx.nd.zeros((1,)).asnumpy()

from alertrec.mxnet_ranker.lists import ListData  # noqa: E402

log = logging.getLogger(__name__)

FRAMEWORK = f"mxnet {mx.__version__}"
_PARAMS_FILE = "model.params"  # the temporary file gluon saves to and loads from
_MASK_LOGIT = -1.0e4


class ListScorer(gluon.HybridBlock):
    """``prior_scale * prior + MLP(x)``, one score per candidate.

    Parameters
    ----------
    hidden : tuple of int
        Widths of the hidden ReLU layers.
    prior_init : float
        Initial ``prior_scale``.

    Inputs ``x`` ``(..., n_features)`` and ``prior`` ``(...)``; output ``(...)``.
    """

    def __init__(self, hidden: tuple[int, ...] = (32, 16), prior_init: float = 5.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        with self.name_scope():
            self.body = gluon.nn.HybridSequential()
            for width in hidden:
                self.body.add(gluon.nn.Dense(width, activation="relu", flatten=False))
            self.out = gluon.nn.Dense(1, flatten=False, weight_initializer=mx.init.Zero())
            self.prior_scale = self.params.get("prior_scale", shape=(1,), init=mx.init.Constant(prior_init))

    def hybrid_forward(self, F_, x, prior, prior_scale):
        mlp = F_.squeeze(self.out(self.body(x)), axis=-1)
        return mlp + F_.broadcast_mul(prior, prior_scale)


def new_net(hidden: tuple[int, ...], seed: int, n_features: int) -> ListScorer:
    """A :class:`ListScorer` initialized from ``seed``, its parameter shapes materialized."""
    mx.random.seed(seed)
    net = ListScorer(hidden)
    net.initialize(mx.init.Xavier(rnd_type="uniform", magnitude=2.0), ctx=mx.cpu())
    net.hybridize()
    net(mx.nd.zeros((1, n_features)), mx.nd.zeros((1,)))  # materialize the parameter shapes
    return net


def train(
    net: ListScorer,
    data: ListData,
    lists: np.ndarray,
    epochs: int,
    lr: float,
    weight_decay: float,
    batch_lists: int,
    seed: int,
) -> list[float]:
    """Minimize the weighted listwise softmax cross-entropy; returns the loss per epoch."""
    if len(lists) == 0 or epochs <= 0:
        return []
    mx.random.seed(seed)
    rng = np.random.default_rng(seed)
    objective = _ListLoss(net)
    objective.hybridize()
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": lr, "wd": weight_decay})
    losses = []
    for _ in range(epochs):
        order = lists[rng.permutation(len(lists))]
        total, weight = 0.0, 0.0
        for start in range(0, len(order), batch_lists):
            batch = take_lists(data, np.sort(order[start : start + batch_lists]))
            with autograd.record():
                loss = objective(*batch)
            loss.backward()
            trainer.step(1)
            w = float(batch[-1].sum().asscalar())
            total += float(loss.asscalar()) * w
            weight += w
        losses.append(total / max(weight, 1e-12))
    return losses


def take_lists(data: ListData, rows: np.ndarray):
    """``x, prior, mask, gain, weight`` of the lists ``rows`` as NDArrays (taken from copies
    converted once per :class:`~alertrec.mxnet_ranker.lists.ListData`, not per step)."""
    if data.tensors is None:
        data.tensors = tuple(_nd(a) for a in (data.x, data.prior, data.mask, data.gain, data.weight))
    index = _nd(rows)
    return tuple(mx.nd.take(a, index, axis=0) for a in data.tensors)


class _ListLoss(gluon.HybridBlock):
    """Weighted mean over lists of the softmax cross-entropy of the gains (padding masked out)."""

    def __init__(self, net: ListScorer, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.net = net

    def hybrid_forward(self, F_, x, prior, mask, gain, weight):
        logits = self.net(x, prior) * mask + (1.0 - mask) * _MASK_LOGIT
        logp = F_.log_softmax(logits, axis=1)
        per_list = -F_.sum(gain * logp * mask, axis=1)
        return F_.sum(per_list * weight) / F_.maximum(F_.sum(weight), 1e-12)


def eval_loss(net: ListScorer, data: ListData, rows: np.ndarray) -> float:
    """The weighted listwise loss of ``net`` on the lists ``rows``."""
    return float(_ListLoss(net)(*take_lists(data, np.sort(rows))).asscalar())


def forward(net: ListScorer, x: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Scores (float64) of the rows ``x`` with their ``prior``."""
    if len(x) == 0:
        return np.zeros(0)
    return net(_nd(x), _nd(prior)).asnumpy().astype(np.float64)


def _nd(values: np.ndarray):
    """A float32 NDArray copy of a numpy array (``mx.nd.array`` would touch a deprecated scipy path)."""
    return mx.nd.from_numpy(np.ascontiguousarray(values, dtype=np.float32), zero_copy=False)


def params_bytes(net: ListScorer) -> bytes:
    """The network's parameters as the bytes of a ``model.params`` file."""
    with tempfile.TemporaryDirectory(prefix="alertrec-mx-") as tmp:
        path = os.path.join(tmp, _PARAMS_FILE)
        net.save_parameters(path)
        with open(path, "rb") as fh:
            return fh.read()


def load_params(net: ListScorer, data: bytes) -> None:
    """Load :func:`params_bytes` into ``net`` (CPU) and hybridize it."""
    with tempfile.TemporaryDirectory(prefix="alertrec-mx-") as tmp:
        path = os.path.join(tmp, _PARAMS_FILE)
        with open(path, "wb") as fh:
            fh.write(data)
        net.load_parameters(path, ctx=mx.cpu())
    net.hybridize()


# ===========================================================================
# Next-step scorer of the serving folders (alertrec/serving, docs/adr/0006-serving.md)
# ---------------------------------------------------------------------------
# Appended section, owned by the serving code: trains the small listwise MLP that
# ranks the next step of an investigation and exports its weights to numpy, so
# that ``alertrec serve`` scores with numpy and never imports mxnet. Nothing above
# this line depends on it.
# ===========================================================================
def train_next_step_scorer(
    x: np.ndarray,
    prior: np.ndarray,
    mask: np.ndarray,
    gain: np.ndarray,
    hidden: tuple[int, ...] = (32, 16),
    epochs: int = 20,
    learning_rate: float = 0.005,
    weight_decay: float = 1e-4,
    batch_lists: int = 128,
    seed: int = 0,
) -> dict[str, Any]:
    """Fit ``prior_scale * prior + MLP(x)`` to next-step lists; return the weights as numpy.

    Parameters
    ----------
    x : numpy.ndarray
        ``(lists, width, features)`` standardized features (padding rows masked out).
    prior, mask, gain : numpy.ndarray
        ``(lists, width)``: the fixed prior score, 1 for real rows, normalized gains.
    hidden : tuple of int
        Hidden ReLU layer widths (:class:`ListScorer`).
    epochs, learning_rate, weight_decay, batch_lists : int, float, float, int
        Adam settings of the listwise softmax cross-entropy (:class:`_ListLoss`).
    seed : int
        Seeds ``mx.random`` and the batch order.

    Returns
    -------
    dict
        ``layers``: ``[(W, b), ...]`` float32 numpy (``W`` is ``(out, in)``, the Gluon
        layout; ReLU between layers), ``prior_scale`` (float), ``losses`` (per epoch).
    """
    n_lists, _, n_feat = x.shape
    mx.random.seed(seed)
    net = ListScorer(tuple(hidden))
    net.initialize(mx.init.Xavier(rnd_type="uniform", magnitude=2.0), ctx=mx.cpu())
    net.hybridize()
    net(mx.nd.zeros((1, n_feat)), mx.nd.zeros((1,)))
    losses: list[float] = []
    if n_lists:
        rng = np.random.default_rng(seed)
        weight = np.ones(n_lists, dtype=np.float32)
        arrays = tuple(_nd(a) for a in (x, prior, mask, gain, weight))
        objective = _ListLoss(net)
        objective.hybridize()
        trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": learning_rate, "wd": weight_decay})
        for _ in range(epochs):
            order = rng.permutation(n_lists)
            total = 0.0
            for start in range(0, n_lists, batch_lists):
                rows = _nd(np.sort(order[start : start + batch_lists]))
                batch = tuple(mx.nd.take(a, rows, axis=0) for a in arrays)
                with autograd.record():
                    loss = objective(*batch)
                loss.backward()
                trainer.step(1)
                total += float(loss.asscalar()) * len(order[start : start + batch_lists])
            losses.append(total / n_lists)
    layers = [
        (d.weight.data().asnumpy().astype(np.float32), d.bias.data().asnumpy().astype(np.float32))
        for d in [*list(net.body), net.out]
    ]
    return {"layers": layers, "prior_scale": float(net.prior_scale.data().asnumpy()[0]), "losses": losses}
