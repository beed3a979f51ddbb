"""The learned ranker (``mxnet-v1``): an MXNet Gluon list scorer behind :class:`~alertrec.stages.rank.Ranker`.

This is the only module that imports mxnet (docs/adr/0005-mxnet-ranker.md): swapping
the framework means rewriting this file, nothing else. Candidates, features and
labels are pure functions of :mod:`alertrec.stages.features`.

Model
-----
Every candidate item of a definition gets the score

    s(x) = prior_scale * prior(x) + MLP(standardized features(x))

with ``prior`` the popularity-like :data:`alertrec.stages.features.PRIOR` and a
``Dense(32, relu) -> Dense(16, relu) -> Dense(1)`` MLP whose output layer starts at
zero, so an untrained model ranks like the prior. It is trained *listwise*: for
each (definition, day) in the last ``train_days`` days of the window, the features
are computed as of that day's midnight and a softmax over the definition's
candidate list is fitted (cross-entropy) to the normalized graded gains of what the
sessions of that day did (grade 1 used, 2 used in a resolved session, 3 the last item
before ``alert_resolved``; gains 1, 2 and 12 by default, so the item that revealed the
cause dominates). Two cold copies of every list teach it never-investigated
definitions: one without the definition's own history (a new alert unlike the others)
and one that lends it its own history at title similarity 1 (a cloned or renamed alert,
the common cold start: ``alertrec.stages.features.COLD_TWIN``).

One shared model is trained on every account's lists; an account with at least
``min_account_sessions`` labelled sessions also gets its own model, fine-tuned from
the shared one, kept only when it beats the shared model on the account's most
recent training day.

Determinism: ``mx.random.seed`` and ``numpy.random.default_rng`` from the config's
seed; inputs sorted before anything order-dependent; the MXNet engine is the
synchronous ``NaiveEngine`` with one OpenMP thread (set below unless the
environment says otherwise), so the same input gives bit-identical parameters.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import asdict
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

import pandas as pd  # noqa: E402

from alertrec import schema as S  # noqa: E402
from alertrec.config import Config  # noqa: E402
from alertrec.stages import features as F  # noqa: E402
from alertrec.stages.rank import Ranker, candidate_reasons, empty_recommendations, finish_recommendations  # noqa: E402

log = logging.getLogger(__name__)

__all__ = ["MXNetRanker", "ListScorer", "MODEL_VERSION"]

MODEL_VERSION = "mxnet-v1"
SHARED = "shared"
_PARAMS_FILE = "model.params"
_ENCODING_FILE = "encoding.json"
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

    def hybrid_forward(self, F_, x, prior, prior_scale):  # noqa: N803 - gluon's signature
        mlp = F_.squeeze(self.out(self.body(x)), axis=-1)
        return mlp + F_.broadcast_mul(prior, prior_scale)


class MXNetRanker(Ranker):
    """Listwise MXNet ranker over :mod:`alertrec.stages.features` candidates.

    Parameters
    ----------
    hidden : tuple of int
        Hidden layer widths of the MLP.
    epochs : int
        Passes over the training lists of the shared model.
    batch_lists : int
        Candidate lists per gradient step.
    learning_rate : float
        Adam step size.
    weight_decay : float
        L2 penalty.
    train_days : int
        Days at the end of the window whose sessions label the training lists.
    cold_copies : bool
        Also train on copies of the lists without the definition's own history.
    min_account_sessions : int
        Labelled sessions an account needs for a model of its own.
    account_epochs : int
        Fine-tuning passes of a per-account model.
    gains : tuple of float
        Training gain of grade 1 (used), 2 (used in a resolved session), 3 (last item
        before resolution).
    feature_params : dict, optional
        Overrides of :class:`~alertrec.stages.features.FeatureParams`.
    seed : int, optional
        Overrides the config's seed.

    Attributes
    ----------
    config_ : Config
    feature_params_ : FeatureParams
    scaling_ : dict
        ``{"mean": [...], "std": [...]}`` per feature of ``FEATURE_COLUMNS``.
    nets_ : dict
        ``"shared"`` and one entry per account with its own model (key: account id).
    version_ : str
        The trained version: ``mxnet-v1-<day>-<digest of the parameters and encodings>``.
    training_ : dict
        Lists, rows, losses and accounts of the last fit.
    stats_ : HistoryStats
        The serving history (as of ``config.window_end``).
    """

    model_version = MODEL_VERSION

    def __init__(
        self,
        hidden: tuple[int, ...] = (32, 16),
        epochs: int = 30,
        batch_lists: int = 64,
        learning_rate: float = 0.005,
        weight_decay: float = 1e-4,
        train_days: int = 7,
        cold_copies: bool = True,
        min_account_sessions: int = 300,
        account_epochs: int = 10,
        gains: tuple[float, float, float] = (1.0, 2.0, 12.0),
        feature_params: dict[str, Any] | None = None,
        seed: int | None = None,
    ) -> None:
        self.hidden = tuple(hidden)
        self.epochs = epochs
        self.batch_lists = batch_lists
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.train_days = train_days
        self.cold_copies = cold_copies
        self.min_account_sessions = min_account_sessions
        self.account_epochs = account_epochs
        self.gains = tuple(gains)
        self.feature_params = feature_params
        self.seed = seed

    # ------------------------------------------------------------------
    def fit(
        self,
        sessions: pd.DataFrame,
        items: pd.DataFrame,
        fired: pd.DataFrame,
        config: Config,
        clusters: Any = None,
    ) -> "MXNetRanker":
        """Train on the window's investigations and prepare the serving features.

        Parameters
        ----------
        sessions, items, fired, config
            As :meth:`Ranker.fit` (``items`` normalized). ``fired`` only names
            definitions; the learning uses sessions and items.
        clusters : alertrec.stages.cluster.Clusters, optional
            The cluster stage's output; its ``assignments`` feed the cluster
            support features.

        Returns
        -------
        MXNetRanker
            ``self``.
        """
        _check_items(items)
        lists = self.training_lists(sessions, items, config, clusters)
        self.fit_shared(lists, config)
        data = _ListData.build(lists, self.scaling_, self.feature_params_.max_candidates)
        accounts = self._account_models(self.nets_[SHARED], data, self._seed())
        self.nets_.update(accounts)
        self.training_["account_models"] = sorted(int(a) for a in accounts)
        self._serving_history(F.session_items(sessions, items), _assignments(clusters))
        self.version_ = self._version()
        return self

    # ------------------------------------------------------------------
    # the per-account flow: lists per account -> one shared model -> each account's model
    # ------------------------------------------------------------------
    def training_lists(
        self, sessions: pd.DataFrame, items: pd.DataFrame, config: Config, clusters: Any = None
    ) -> pd.DataFrame:
        """The labelled candidate lists of the window (:func:`~alertrec.stages.features.training_lists`)
        with this ranker's settings; pure, nothing is stored. ``items`` normalized."""
        params = F.FeatureParams.from_config(config, **(self.feature_params or {}))
        return F.training_lists(
            F.session_items(sessions, items), pd.Timestamp(config.window_start), pd.Timestamp(config.window_end),
            params, train_days=self.train_days, cold_copies=self.cold_copies, assignments=_assignments(clusters),
            gains=self.gains,
        )

    def fit_shared(self, lists: pd.DataFrame, config: Config) -> "MXNetRanker":
        """Train the shared model (and the feature scaling) on ``lists`` of any accounts.

        Parameters
        ----------
        lists : pandas.DataFrame
            :meth:`training_lists` rows, possibly of several accounts (``list_id`` unique
            per list; renumbered here).
        config : Config

        Returns
        -------
        MXNetRanker
            ``self``, with ``nets_ = {"shared": ...}``, ``scaling_``, ``feature_params_``.
        """
        self.config_ = config
        self.feature_params_ = F.FeatureParams.from_config(config, **(self.feature_params or {}))
        lists = renumber_lists(lists)
        self.scaling_ = _scaling(lists)
        data = _ListData.build(lists, self.scaling_, self.feature_params_.max_candidates)
        seed = self._seed()
        shared = self._new_net(seed)
        losses = self._train(shared, data, np.arange(data.n_lists), self.epochs, self.learning_rate, seed)
        self.nets_: dict[Any, ListScorer] = {SHARED: shared}
        self.training_ = {
            "lists": int(data.n_lists),
            "rows": int(len(lists)),
            "labelled_sessions": int(data.weight_sessions[~data.cold].sum()) if data.n_lists else 0,
            "final_loss": losses[-1] if losses else None,
            "account_models": [],
        }
        self.version_ = self._version()
        log.info("mxnet shared model %s: %d training lists (%d rows), final loss %s",
                 self.version_, data.n_lists, len(lists), f"{losses[-1]:.4f}" if losses else "n/a")
        return self

    def fit_account(
        self,
        account_id: int,
        lists: pd.DataFrame,
        sessions: pd.DataFrame,
        items: pd.DataFrame,
        config: Config,
        clusters: Any = None,
    ) -> "MXNetRanker":
        """One account's model, fine-tuned from the shared one, and its serving history.

        Needs the shared model (:meth:`fit_shared` or :meth:`from_files`). The account gets
        its own model when it has ``min_account_sessions`` labelled sessions and the
        fine-tuned model beats the shared one on its most recent training day; its other
        nets are dropped. Then ``recommend`` ranks the account's definitions.

        Parameters
        ----------
        account_id : int
        lists : pandas.DataFrame
            The account's :meth:`training_lists`.
        sessions, items, config, clusters
            The account's frames, as :meth:`fit`.

        Returns
        -------
        MXNetRanker
            ``self``.
        """
        if not hasattr(self, "nets_") or SHARED not in self.nets_:
            raise RuntimeError("MXNetRanker.fit_account needs the shared model (fit_shared or from_files)")
        _check_items(items)
        self.config_ = config
        self.nets_ = {SHARED: self.nets_[SHARED]}
        lists = renumber_lists(lists)
        data = _ListData.build(lists, self.scaling_, self.feature_params_.max_candidates)
        own = self._account_models(self.nets_[SHARED], data, self._seed())
        self.nets_.update({int(k): v for k, v in own.items() if int(k) == int(account_id)})
        self.training_ = {**getattr(self, "training_", {}), "account_models": sorted(int(a) for a in own),
                          "account_lists": int(data.n_lists)}
        self._serving_history(F.session_items(sessions, items), _assignments(clusters))
        self.version_ = self._version()
        return self

    def _seed(self) -> int:
        return int(self.config_.seed if self.seed is None else self.seed)

    def use_history(
        self,
        sessions: pd.DataFrame,
        items: pd.DataFrame,
        fired: pd.DataFrame,
        config: Config,
        clusters: Any = None,
    ) -> "MXNetRanker":
        """Prepare the serving features of a window without training (a loaded model).

        Same arguments as :meth:`fit`; the trained networks and encodings are kept.
        """
        if not hasattr(self, "nets_"):
            raise RuntimeError("MXNetRanker.use_history needs a trained or loaded model")
        _check_items(items)
        self.config_ = config
        self._serving_history(F.session_items(sessions, items), _assignments(clusters))
        return self

    # ------------------------------------------------------------------
    def recommend(self, fired: pd.DataFrame) -> pd.DataFrame:
        """Top ``config.top_k`` candidates per fired definition by model score.

        Parameters
        ----------
        fired : pandas.DataFrame
            ``account_id, alert_id, alert_title`` (the title is compared with the
            other definitions' titles and with item labels). Not modified.

        Returns
        -------
        pandas.DataFrame
            The contract's recommendations; ties by item_type, then item_id.
        """
        if not hasattr(self, "stats_"):
            raise RuntimeError("MXNetRanker.recommend was called before fit (or use_history)")
        feats = F.candidate_features(self.stats_, _targets(fired), self.feature_params_)
        if feats.empty:
            return empty_recommendations()
        feats = feats.assign(**{S.SCORE: self.score_features(feats)})
        k = int(self.config_.top_k)
        ranked = feats.sort_values(
            [S.ACCOUNT_ID, S.ALERT_ID, S.SCORE, S.ITEM_TYPE, S.ITEM_ID],
            ascending=[True, True, False, True, True], kind="mergesort",
        )
        ranked = ranked[ranked.groupby([S.ACCOUNT_ID, S.ALERT_ID], sort=False).cumcount() < k].copy()
        ranked[S.RANK] = ranked.groupby([S.ACCOUNT_ID, S.ALERT_ID], sort=False).cumcount() + 1
        ranked[S.REASON_TEXT] = candidate_reasons(ranked, int(self.config_.history_days))
        return finish_recommendations(ranked, self.model_version, self.config_.generated_at)

    def score_features(self, feats: pd.DataFrame) -> np.ndarray:
        """Model scores (float64) of rows of :func:`~alertrec.stages.features.candidate_features`.

        Each row is scored by its account's own model when there is one, else by
        the shared model.
        """
        x = _standardize(feats, self.scaling_)
        prior = feats[F.PRIOR].to_numpy(dtype=np.float32)
        accounts = feats[S.ACCOUNT_ID].to_numpy(dtype=np.int64)
        out = np.zeros(len(feats), dtype=np.float64)
        todo = np.ones(len(feats), dtype=bool)
        for key, net in sorted(self.nets_.items(), key=lambda kv: str(kv[0])):
            if key == SHARED:
                continue
            rows = accounts == int(key)
            if rows.any():
                out[rows] = _forward(net, x[rows], prior[rows])
                todo &= ~rows
        if todo.any():
            out[todo] = _forward(self.nets_[SHARED], x[todo], prior[todo])
        return out

    # ------------------------------------------------------------------
    def to_files(self) -> dict[str, bytes]:
        """The trained model as files: ``<shared|account_id>/<version>/model.params`` and
        ``.../encoding.json`` (feature names and scaling, vocabularies, architecture,
        feature settings). The pipeline writes them under ``ROOT/models/``."""
        if not hasattr(self, "nets_"):
            raise RuntimeError("MXNetRanker.to_files needs a trained model")
        version = getattr(self, "version_", None) or self._version()
        encoding = self._encoding(version)
        files: dict[str, bytes] = {}
        for key, net in self.nets_.items():
            scope = SHARED if key == SHARED else str(int(key))
            files[f"{scope}/{version}/{_PARAMS_FILE}"] = _params_bytes(net)
            files[f"{scope}/{version}/{_ENCODING_FILE}"] = _json_bytes({**encoding, "scope": scope})
        return files

    @classmethod
    def from_files(cls, files: dict[str, bytes]) -> "MXNetRanker":
        """A ranker with the networks and encodings of :meth:`to_files` (call
        :meth:`use_history` before :meth:`recommend`)."""
        shared = [k for k in files if k.startswith(SHARED + "/") and k.endswith("/" + _ENCODING_FILE)]
        if len(shared) != 1:
            raise ValueError(f"expected one {SHARED}/<version>/{_ENCODING_FILE}, found {sorted(shared)}")
        encoding = json.loads(files[shared[0]].decode("utf-8"))
        if encoding.get("features") != list(F.FEATURE_COLUMNS):
            raise ValueError("the saved model was trained on other features than this code computes")
        ranker = cls(**encoding["ranker"])
        ranker.feature_params_ = F.FeatureParams(**encoding["feature_params"])
        ranker.scaling_ = encoding["scaling"]
        ranker.version_ = encoding["version"]
        ranker.training_ = encoding.get("training", {})
        ranker.nets_ = {}
        for scope in [SHARED] + [str(a) for a in encoding["vocabularies"]["account_models"]]:
            params = files.get(f"{scope}/{ranker.version_}/{_PARAMS_FILE}")
            if params is None:
                raise ValueError(f"missing {scope}/{ranker.version_}/{_PARAMS_FILE}")
            net = ListScorer(tuple(encoding["ranker"]["hidden"]))
            _load_params(net, params)
            ranker.nets_[SHARED if scope == SHARED else int(scope)] = net
        return ranker

    # ------------------------------------------------------------------
    def _new_net(self, seed: int) -> ListScorer:
        mx.random.seed(seed)
        net = ListScorer(self.hidden)
        net.initialize(mx.init.Xavier(rnd_type="uniform", magnitude=2.0), ctx=mx.cpu())
        net.hybridize()
        n = len(F.FEATURE_COLUMNS)
        net(mx.nd.zeros((1, n)), mx.nd.zeros((1,)))  # materialize the parameter shapes
        return net

    def _train(
        self, net: ListScorer, data: "_ListData", lists: np.ndarray, epochs: int, lr: float, seed: int
    ) -> list[float]:
        """Minimize the weighted listwise softmax cross-entropy; returns the loss per epoch."""
        if len(lists) == 0 or epochs <= 0:
            return []
        mx.random.seed(seed)
        rng = np.random.default_rng(seed)
        objective = _ListLoss(net)
        objective.hybridize()
        trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": lr, "wd": self.weight_decay})
        losses = []
        for _ in range(epochs):
            order = lists[rng.permutation(len(lists))]
            total, weight = 0.0, 0.0
            for start in range(0, len(order), self.batch_lists):
                batch = data.batch(np.sort(order[start:start + self.batch_lists]))
                with autograd.record():
                    loss = objective(*batch)
                loss.backward()
                trainer.step(1)
                w = float(batch[-1].sum().asscalar())
                total += float(loss.asscalar()) * w
                weight += w
            losses.append(total / max(weight, 1e-12))
        return losses

    def _account_models(self, shared: ListScorer, data: "_ListData", seed: int) -> dict[int, ListScorer]:
        """Fine-tuned per-account models, kept where they beat the shared model on the last day."""
        out: dict[int, ListScorer] = {}
        if data.n_lists == 0 or self.account_epochs <= 0:
            return out
        for account in np.unique(data.account):
            own = np.flatnonzero(data.account == account)
            sessions = int(data.weight_sessions[own][~data.cold[own]].sum())
            if sessions < self.min_account_sessions:
                continue
            last = data.cutoff[own].max()
            train, valid = own[data.cutoff[own] < last], own[data.cutoff[own] == last]
            if len(train) == 0 or len(valid) == 0:
                continue
            lr = self.learning_rate / 2.0
            trial = self._copy(shared)
            self._train(trial, data, train, self.account_epochs, lr, seed + int(account) % 100_003)
            if _eval_loss(trial, data, valid) >= _eval_loss(shared, data, valid):
                continue
            final = self._copy(shared)
            self._train(final, data, own, self.account_epochs, lr, seed + int(account) % 100_003)
            out[int(account)] = final
        return out

    def _copy(self, net: ListScorer) -> ListScorer:
        clone = ListScorer(self.hidden)
        _load_params(clone, _params_bytes(net))
        return clone

    def _serving_history(self, hist: F.SessionItems, assignments: pd.DataFrame | None) -> None:
        self.stats_ = F.history_stats(hist, pd.Timestamp(self.config_.window_end), self.feature_params_, assignments)

    def _encoding(self, version: str) -> dict[str, Any]:
        params = {
            "hidden": list(self.hidden), "epochs": self.epochs, "batch_lists": self.batch_lists,
            "learning_rate": self.learning_rate, "weight_decay": self.weight_decay,
            "train_days": self.train_days, "cold_copies": self.cold_copies,
            "min_account_sessions": self.min_account_sessions, "account_epochs": self.account_epochs,
            "gains": list(self.gains), "feature_params": self.feature_params, "seed": self.seed,
        }
        return {
            "model_version": self.model_version,
            "version": version,
            "framework": f"mxnet {mx.__version__}",
            "features": list(F.FEATURE_COLUMNS),
            "prior": "own_use_long + 0.5 * borrowed_use + 0.1 * account_use_long",
            "scaling": self.scaling_,
            "vocabularies": {
                "item_type": {S.ITEM_DASHBOARD: 0.0, S.ITEM_QUERY: 1.0},
                "account_models": sorted(int(k) for k in self.nets_ if k != SHARED),
            },
            "feature_params": asdict(self.feature_params_),
            "ranker": params,
            "training": getattr(self, "training_", {}),
        }

    def _version(self) -> str:
        digest = hashlib.sha1()
        for key in sorted(self.nets_, key=str):
            digest.update(str(key).encode())
            digest.update(_params_bytes(self.nets_[key]))
        digest.update(_json_bytes({"scaling": self.scaling_, "features": list(F.FEATURE_COLUMNS)}))
        day = self.config_.date.strftime("%Y%m%d") if hasattr(self, "config_") else "unknown"
        return f"{self.model_version}-{day}-{digest.hexdigest()[:10]}"


# ---------------------------------------------------------------------------
# data of the training lists
# ---------------------------------------------------------------------------
class _ListData:
    """Training lists as padded arrays: ``(lists, max_candidates, features)``."""

    def __init__(self, x, prior, mask, gain, weight, weight_sessions, account, cutoff, cold) -> None:
        self.x, self.prior, self.mask, self.gain, self.weight = x, prior, mask, gain, weight
        self.weight_sessions, self.account, self.cutoff, self.cold = weight_sessions, account, cutoff, cold
        self.n_lists = len(weight)
        self._nd: tuple | None = None

    @classmethod
    def build(cls, lists: pd.DataFrame, scaling: dict[str, list[float]], max_candidates: int) -> "_ListData":
        n_feat = len(F.FEATURE_COLUMNS)
        if lists.empty:
            z = np.zeros((0, max_candidates), dtype=np.float32)
            return cls(np.zeros((0, max_candidates, n_feat), np.float32), z, z, z, np.zeros(0, np.float32),
                       np.zeros(0), np.zeros(0, np.int64), np.zeros(0), np.zeros(0, bool))
        list_id = lists[F.LIST_ID].to_numpy(dtype=np.int64)
        n_lists = int(list_id.max()) + 1
        pos = lists.groupby(F.LIST_ID, sort=False).cumcount().to_numpy()
        width = int(min(max_candidates, pos.max() + 1))
        x = np.zeros((n_lists, width, n_feat), dtype=np.float32)
        prior = np.zeros((n_lists, width), dtype=np.float32)
        mask = np.zeros((n_lists, width), dtype=np.float32)
        gain = np.zeros((n_lists, width), dtype=np.float32)
        x[list_id, pos] = _standardize(lists, scaling)
        prior[list_id, pos] = lists[F.PRIOR].to_numpy(dtype=np.float32)
        mask[list_id, pos] = 1.0
        gain[list_id, pos] = lists[F.GAIN].to_numpy(dtype=np.float32)
        head = lists.drop_duplicates(F.LIST_ID).sort_values(F.LIST_ID)
        sessions = head[F.LIST_WEIGHT].to_numpy(dtype=np.float64)
        weight = np.sqrt(sessions).astype(np.float32)  # busy definitions count more, but not linearly
        return cls(x, prior, mask, gain, weight, sessions, head[S.ACCOUNT_ID].to_numpy(dtype=np.int64),
                   head[F.CUTOFF].to_numpy(dtype=np.float64), head[F.COLD].to_numpy(dtype=bool))

    def batch(self, rows: np.ndarray):
        """``x, prior, mask, gain, weight`` of the lists ``rows`` as NDArrays (taken from copies
        converted once, not per step)."""
        if self._nd is None:
            self._nd = tuple(_nd(a) for a in (self.x, self.prior, self.mask, self.gain, self.weight))
        index = _nd(rows)
        return tuple(mx.nd.take(a, index, axis=0) for a in self._nd)


class _ListLoss(gluon.HybridBlock):
    """Weighted mean over lists of the softmax cross-entropy of the gains (padding masked out)."""

    def __init__(self, net: ListScorer, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.net = net

    def hybrid_forward(self, F_, x, prior, mask, gain, weight):  # noqa: N803 - gluon's signature
        logits = self.net(x, prior) * mask + (1.0 - mask) * _MASK_LOGIT
        logp = F_.log_softmax(logits, axis=1)
        per_list = -F_.sum(gain * logp * mask, axis=1)
        return F_.sum(per_list * weight) / F_.maximum(F_.sum(weight), 1e-12)


def _eval_loss(net: ListScorer, data: _ListData, rows: np.ndarray) -> float:
    return float(_ListLoss(net)(*data.batch(np.sort(rows))).asscalar())


def _forward(net: ListScorer, x: np.ndarray, prior: np.ndarray) -> np.ndarray:
    if len(x) == 0:
        return np.zeros(0)
    return net(_nd(x), _nd(prior)).asnumpy().astype(np.float64)


def _nd(values: np.ndarray):
    """A float32 NDArray copy of a numpy array (``mx.nd.array`` would touch a deprecated scipy path)."""
    return mx.nd.from_numpy(np.ascontiguousarray(values, dtype=np.float32), zero_copy=False)


# ---------------------------------------------------------------------------
# encodings
# ---------------------------------------------------------------------------
def _scaling(lists: pd.DataFrame) -> dict[str, list[float]]:
    """Mean and standard deviation of each feature over the training rows (std 1 when constant)."""
    if lists.empty:
        n = len(F.FEATURE_COLUMNS)
        return {"mean": [0.0] * n, "std": [1.0] * n}
    values = lists[list(F.FEATURE_COLUMNS)].to_numpy(dtype=np.float64)
    mean = values.mean(axis=0)
    std = values.std(axis=0)
    std = np.where(std > 1e-9, std, 1.0)
    return {"mean": [float(v) for v in mean], "std": [float(v) for v in std]}


def _standardize(frame: pd.DataFrame, scaling: dict[str, list[float]]) -> np.ndarray:
    values = frame[list(F.FEATURE_COLUMNS)].to_numpy(dtype=np.float64)
    return ((values - np.asarray(scaling["mean"])) / np.asarray(scaling["std"])).astype(np.float32)


def _params_bytes(net: ListScorer) -> bytes:
    with tempfile.TemporaryDirectory(prefix="alertrec-mx-") as tmp:
        path = os.path.join(tmp, _PARAMS_FILE)
        net.save_parameters(path)
        with open(path, "rb") as fh:
            return fh.read()


def _load_params(net: ListScorer, data: bytes) -> None:
    with tempfile.TemporaryDirectory(prefix="alertrec-mx-") as tmp:
        path = os.path.join(tmp, _PARAMS_FILE)
        with open(path, "wb") as fh:
            fh.write(data)
        net.load_parameters(path, ctx=mx.cpu())
    net.hybridize()


def renumber_lists(lists: pd.DataFrame) -> pd.DataFrame:
    """Lists of any origin with ``list_id`` 0.. in (cutoff, account_id, alert_id, cold, list_id)
    order, the order :func:`~alertrec.stages.features.training_lists` numbers them in."""
    if lists.empty:
        return lists
    heads = lists.drop_duplicates(F.LIST_ID)[[F.LIST_ID, F.CUTOFF, S.ACCOUNT_ID, S.ALERT_ID, F.COLD]]
    heads = heads.sort_values([F.CUTOFF, S.ACCOUNT_ID, S.ALERT_ID, F.COLD, F.LIST_ID], kind="mergesort")
    number = pd.Series(np.arange(len(heads), dtype=np.int64), index=heads[F.LIST_ID].to_numpy())
    out = lists.assign(**{F.LIST_ID: number.loc[lists[F.LIST_ID].to_numpy()].to_numpy()})
    return out.sort_values([F.LIST_ID], kind="mergesort").reset_index(drop=True)


def _json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, sort_keys=True, indent=1) + "\n").encode("utf-8")


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def _check_items(items: pd.DataFrame) -> None:
    missing = [c for c in (S.ITEM_ID, S.ITEM_LABEL) if c not in items.columns]
    if missing:
        raise ValueError(f"items lacks {missing}: pass the output of normalize_items, not the raw items")


def _assignments(clusters: Any) -> pd.DataFrame | None:
    if clusters is None:
        return None
    return getattr(clusters, "assignments", clusters)


def _targets(fired: pd.DataFrame) -> pd.DataFrame:
    cols = [S.ACCOUNT_ID, S.ALERT_ID] + ([S.ALERT_TITLE] if S.ALERT_TITLE in fired.columns else [])
    return fired[cols]


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
                rows = _nd(np.sort(order[start:start + batch_lists]))
                batch = tuple(mx.nd.take(a, rows, axis=0) for a in arrays)
                with autograd.record():
                    loss = objective(*batch)
                loss.backward()
                trainer.step(1)
                total += float(loss.asscalar()) * len(order[start:start + batch_lists])
            losses.append(total / n_lists)
    layers = [(d.weight.data().asnumpy().astype(np.float32), d.bias.data().asnumpy().astype(np.float32))
              for d in list(net.body) + [net.out]]
    return {"layers": layers, "prior_scale": float(net.prior_scale.data().asnumpy()[0]), "losses": losses}
