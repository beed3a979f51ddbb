"""MXNetRanker: the ranker contract, save/load, determinism, and that training learns the labels."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alertrec import schema as S
from alertrec.mxnet_ranker import MODEL_VERSION, MXNetRanker
from alertrec.stages import features as F
from alertrec.stages.normalize import normalize_items
from alertrec.stages.rank import Ranker
from tests.ranker_contract import RankerContract, Sess, build_frames, contract_world, make_config

REPO = Path(__file__).resolve().parents[2]
D, Q = "dashboard", "query"


def small() -> MXNetRanker:
    """Few epochs: the contract world is tiny and these tests run on shared machines."""
    return MXNetRanker(epochs=3, account_epochs=2, min_account_sessions=1)


class TestMXNetContract(RankerContract):
    def make_ranker(self) -> Ranker:
        return small()


# --------------------------------------------------------------------------
# save / load, determinism
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fitted():
    sessions, items, fired, config = contract_world()
    return small().fit(sessions, items, fired, config), (sessions, items, fired, config)


def test_files_are_laid_out_per_scope_and_version(fitted):
    ranker, _ = fitted
    files = ranker.to_files()
    assert re.fullmatch(rf"{MODEL_VERSION}-20260201-[0-9a-f]{{10}}", ranker.version_)
    scopes = {name.split("/")[0] for name in files}
    assert "shared" in scopes
    for name, data in files.items():
        _scope, version, filename = name.split("/")
        assert version == ranker.version_ and filename in ("model.params", "encoding.json")
        assert isinstance(data, bytes) and data
    assert {s for s in scopes if s != "shared"} == {str(a) for a in ranker.training_["account_models"]}


def test_loading_the_files_back_gives_identical_scores(fitted):
    ranker, (sessions, items, fired, config) = fitted
    first = ranker.recommend(fired)
    loaded = MXNetRanker.from_files(ranker.to_files()).use_history(sessions, items, fired, config)
    pd.testing.assert_frame_equal(first, loaded.recommend(fired))
    feats = F.candidate_features(ranker.stats_, fired, ranker.feature_params_)
    np.testing.assert_array_equal(ranker.score_features(feats), loaded.score_features(feats))
    assert loaded.version_ == ranker.version_
    assert loaded.to_files() == ranker.to_files()


def test_a_loaded_model_refuses_other_features(fitted):
    ranker, _ = fitted
    files = ranker.to_files()
    name = next(n for n in files if n.startswith("shared/") and n.endswith("encoding.json"))
    files[name] = files[name].replace(b'"own_use_long"', b'"something_else"')
    with pytest.raises(ValueError, match="other features"):
        MXNetRanker.from_files(files)


def test_two_fits_give_bit_identical_models(fitted):
    ranker, (sessions, items, fired, config) = fitted
    again = small().fit(sessions.iloc[::-1], items.sample(frac=1.0, random_state=1), fired, config)
    assert again.to_files() == ranker.to_files()
    other_seed = small().fit(sessions, items, fired, config.replace(seed=1))
    assert other_seed.version_ != ranker.version_


def test_recommend_before_fit_is_an_error():
    with pytest.raises(RuntimeError, match="before fit"):
        MXNetRanker().recommend(pd.DataFrame({S.ACCOUNT_ID: [1], S.ALERT_ID: ["a"]}))


# --------------------------------------------------------------------------
# it learns what the labels say
# --------------------------------------------------------------------------
def _cause_world():
    """One definition, three sessions a day for 12 days. Every session opens the generic
    dashboard G first; then the cause: C1 (two sessions of three) or C2, and resolves.

    By use (what the prior and popularity see) G is first: every session used it. By
    the labels, C1 is the last item before resolution twice as often as C2 and G never."""
    sessions = []
    for day in range(12):
        for j in range(3):
            cause = "c1" if j < 2 else "c2"
            sessions.append(
                Sess(
                    f"s{day}-{j}",
                    1,
                    "a",
                    "Queue depth growing on api",
                    day + 0.1 + j * 0.2,
                    True,
                    ((D, "g", "Generic"), (D, cause, cause.upper())),
                )
            )
    return build_frames(sessions, [(1, "a", "Queue depth growing on api")])


def test_training_puts_the_cause_above_the_generic_item():
    sessions, items, fired = _cause_world()
    items = normalize_items(items)
    config = make_config(top_k=3)
    prior = F.make_features(
        sessions, items, fired, pd.Timestamp(config.window_end), F.FeatureParams.from_config(config)
    )
    assert prior.iloc[0][S.ITEM_ID] == "g"  # the prior (use share) ranks the generic item first
    ranker = MXNetRanker(epochs=60, min_account_sessions=10**9).fit(sessions, items, fired, config)
    recs = ranker.recommend(fired)
    order = list(recs[S.ITEM_ID])
    assert order[0] == "c1" and order.index("c2") < order.index("g"), order
    assert ranker.training_["lists"] == 21  # 7 days: warm, new and twin copies
    assert "the last step before resolution in" in recs.iloc[0][S.REASON_TEXT]


def test_reasons_name_the_source():
    sessions, items, fired, config = contract_world()
    recs = small().fit(sessions, items, fired, config).recommend(fired)
    a2 = recs[recs[S.ALERT_ID] == "a2"]
    assert a2[S.REASON_TEXT].str.startswith("borrowed from similar alert 'High 5xx rate on api'").any()
    a4 = recs[recs[S.ALERT_ID] == "a4"]
    assert a4[S.REASON_TEXT].str.contains("popular in this account|named like this alert").all()


# --------------------------------------------------------------------------
# the one mxnet module
# --------------------------------------------------------------------------
def test_only_mxnet_ranker_imports_mxnet():
    importers = sorted(
        str(p.relative_to(REPO))
        for p in (REPO / "alertrec").rglob("*.py")
        if re.search(r"^\s*(import mxnet|from mxnet)", p.read_text(encoding="utf-8"), re.MULTILINE)
    )
    assert importers == ["alertrec/mxnet_ranker/net.py"]
