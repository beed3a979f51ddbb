"""The learned ranker (``mxnet-v1``): an MXNet Gluon list scorer behind :class:`~alertrec.stages.rank.Ranker`.

The network lives in :mod:`alertrec.mxnet_ranker.net`, the only module that imports mxnet
(docs/adr/0005-mxnet-ranker.md): swapping the framework means rewriting that file, nothing
else. Candidates, features and labels are pure functions of :mod:`alertrec.stages.features`;
the padded training arrays are :mod:`alertrec.mxnet_ranker.lists`.

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
synchronous ``NaiveEngine`` with one OpenMP thread (set by :mod:`alertrec.mxnet_ranker.net`
unless the environment says otherwise), so the same input gives bit-identical parameters.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from alertrec import schema as S
from alertrec.config import Config
from alertrec.mxnet_ranker.lists import ListData, feature_scaling, renumber_lists, standardize
from alertrec.mxnet_ranker.net import (
    FRAMEWORK,
    ListScorer,
    eval_loss,
    forward,
    load_params,
    new_net,
    params_bytes,
    train,
)
from alertrec.stages import features as F
from alertrec.stages.rank import Ranker, candidate_reasons, empty_recommendations, finish_recommendations

log = logging.getLogger(__name__)

__all__ = ["MXNetRanker", "MODEL_VERSION", "SHARED"]

MODEL_VERSION = "mxnet-v1"
SHARED = "shared"
_PARAMS_FILE = "model.params"
_ENCODING_FILE = "encoding.json"


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
        self.gains: tuple[float, float, float] = (float(gains[0]), float(gains[1]), float(gains[2]))
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
    ) -> MXNetRanker:
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
        data = ListData.build(lists, self.scaling_, self.feature_params_.max_candidates)
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
            F.session_items(sessions, items),
            pd.Timestamp(config.window_start),
            pd.Timestamp(config.window_end),
            params,
            train_days=self.train_days,
            cold_copies=self.cold_copies,
            assignments=_assignments(clusters),
            gains=self.gains,
        )

    def fit_shared(self, lists: pd.DataFrame, config: Config) -> MXNetRanker:
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
        self.scaling_ = feature_scaling(lists)
        data = ListData.build(lists, self.scaling_, self.feature_params_.max_candidates)
        seed = self._seed()
        shared = self._new_net(seed)
        losses = self._train(shared, data, np.arange(data.n_lists), self.epochs, self.learning_rate, seed)
        self.nets_: dict[Any, ListScorer] = {SHARED: shared}
        self.training_: dict[str, Any] = {
            "lists": int(data.n_lists),
            "rows": int(len(lists)),
            "labelled_sessions": int(data.weight_sessions[~data.cold].sum()) if data.n_lists else 0,
            "final_loss": losses[-1] if losses else None,
            "account_models": [],
        }
        self.version_ = self._version()
        log.info(
            "mxnet shared model %s: %d training lists (%d rows), final loss %s",
            self.version_,
            data.n_lists,
            len(lists),
            f"{losses[-1]:.4f}" if losses else "n/a",
        )
        return self

    def fit_account(
        self,
        account_id: int,
        lists: pd.DataFrame,
        sessions: pd.DataFrame,
        items: pd.DataFrame,
        config: Config,
        clusters: Any = None,
    ) -> MXNetRanker:
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
        data = ListData.build(lists, self.scaling_, self.feature_params_.max_candidates)
        own = self._account_models(self.nets_[SHARED], data, self._seed())
        self.nets_.update({int(k): v for k, v in own.items() if int(k) == int(account_id)})
        self.training_ = {
            **getattr(self, "training_", {}),
            "account_models": sorted(int(a) for a in own),
            "account_lists": int(data.n_lists),
        }
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
    ) -> MXNetRanker:
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
            ascending=[True, True, False, True, True],
            kind="mergesort",
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
        x = standardize(feats, self.scaling_)
        prior = feats[F.PRIOR].to_numpy(dtype=np.float32)
        accounts = feats[S.ACCOUNT_ID].to_numpy(dtype=np.int64)
        out = np.zeros(len(feats), dtype=np.float64)
        todo = np.ones(len(feats), dtype=bool)
        for key, net in sorted(self.nets_.items(), key=lambda kv: str(kv[0])):
            if key == SHARED:
                continue
            rows = accounts == int(key)
            if rows.any():
                out[rows] = forward(net, x[rows], prior[rows])
                todo &= ~rows
        if todo.any():
            out[todo] = forward(self.nets_[SHARED], x[todo], prior[todo])
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
            files[f"{scope}/{version}/{_PARAMS_FILE}"] = params_bytes(net)
            files[f"{scope}/{version}/{_ENCODING_FILE}"] = _json_bytes({**encoding, "scope": scope})
        return files

    @classmethod
    def from_files(cls, files: dict[str, bytes]) -> MXNetRanker:
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
            load_params(net, params)
            ranker.nets_[SHARED if scope == SHARED else int(scope)] = net
        return ranker

    # ------------------------------------------------------------------
    def _new_net(self, seed: int) -> ListScorer:
        return new_net(self.hidden, seed, len(F.FEATURE_COLUMNS))

    def _train(
        self, net: ListScorer, data: ListData, lists: np.ndarray, epochs: int, lr: float, seed: int
    ) -> list[float]:
        """Minimize the weighted listwise softmax cross-entropy; returns the loss per epoch."""
        return train(net, data, lists, epochs, lr, self.weight_decay, self.batch_lists, seed)

    def _account_models(self, shared: ListScorer, data: ListData, seed: int) -> dict[int, ListScorer]:
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
            if eval_loss(trial, data, valid) >= eval_loss(shared, data, valid):
                continue
            final = self._copy(shared)
            self._train(final, data, own, self.account_epochs, lr, seed + int(account) % 100_003)
            out[int(account)] = final
        return out

    def _copy(self, net: ListScorer) -> ListScorer:
        clone = ListScorer(self.hidden)
        load_params(clone, params_bytes(net))
        return clone

    def _serving_history(self, hist: F.SessionItems, assignments: pd.DataFrame | None) -> None:
        self.stats_ = F.history_stats(hist, pd.Timestamp(self.config_.window_end), self.feature_params_, assignments)

    def _encoding(self, version: str) -> dict[str, Any]:
        params = {
            "hidden": list(self.hidden),
            "epochs": self.epochs,
            "batch_lists": self.batch_lists,
            "learning_rate": self.learning_rate,
            "weight_decay": self.weight_decay,
            "train_days": self.train_days,
            "cold_copies": self.cold_copies,
            "min_account_sessions": self.min_account_sessions,
            "account_epochs": self.account_epochs,
            "gains": list(self.gains),
            "feature_params": self.feature_params,
            "seed": self.seed,
        }
        return {
            "model_version": self.model_version,
            "version": version,
            "framework": FRAMEWORK,
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
            digest.update(params_bytes(self.nets_[key]))
        digest.update(_json_bytes({"scaling": self.scaling_, "features": list(F.FEATURE_COLUMNS)}))
        day = self.config_.date.strftime("%Y%m%d") if hasattr(self, "config_") else "unknown"
        return f"{self.model_version}-{day}-{digest.hexdigest()[:10]}"


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
