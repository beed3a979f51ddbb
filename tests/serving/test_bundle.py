"""The serving folder: its files, the round trip, and the answers of Bundle.recommend."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from alertrec.serving import BadRequest, load_bundle
from alertrec.serving.bundle import serving_prefix
from alertrec.serving.model import BundleNotFound
from tests.serving.conftest import (
    ACCOUNT,
    DAY,
    DEPLOY_ID,
    POOL_ID,
    POOL_QUERY,
    dashboard,
    event,
    opened,
    published_lists,
    query,
)


def test_files_and_manifest(serving_files):
    manifest = json.loads(serving_files["manifest.json"])
    assert manifest["day"] == "2026-02-01" and manifest["account_id"] == ACCOUNT
    assert manifest["model_version"].startswith("nextstep-v1-20260201-")
    assert set(manifest["files"]) == set(serving_files) - {"manifest.json"}
    for name, meta in manifest["files"].items():
        assert meta["bytes"] == len(serving_files[name])
    assert "ranker/shared/mxnet-v1-test/model.params" in serving_files
    assert manifest["training"]["lists"] > 0
    assert manifest["total_bytes"] < 200_000
    catalog = json.loads(serving_files["catalog.json"])
    ids = {(r["item_type"], r["item_id"]) for r in catalog["items"]}
    assert ("query", DEPLOY_ID) in ids and ("dashboard", "dash-pg") in ids
    assert set(catalog["canonical"].values()) == {DEPLOY_ID, POOL_ID}


def test_round_trip_through_a_folder(serving_root, serving_files):
    bundle = load_bundle(str(serving_root / serving_prefix(DAY, ACCOUNT)))
    assert bundle.account_id == ACCOUNT and bundle.day == DAY
    assert bundle.model_version == json.loads(serving_files["manifest.json"])["model_version"]
    assert sorted(bundle.lists) == ["a1", "a2"]


def test_missing_folder(tmp_path):
    with pytest.raises(BundleNotFound):
        load_bundle(str(tmp_path / "nothing-here"))


def test_a_changed_file_is_refused(serving_root, tmp_path):
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(serving_root / serving_prefix(DAY, ACCOUNT), folder)
    (folder / "lists.json").write_bytes((folder / "lists.json").read_bytes().replace(b"Kafka", b"Kafkb"))
    with pytest.raises(ValueError, match="sha256"):
        load_bundle(str(folder))


def test_only_alert_opened_is_the_published_list(serving_root):
    bundle = load_bundle(str(serving_root / serving_prefix(DAY, ACCOUNT)))
    recs = published_lists()
    for alert_id in ("a1", "a2"):
        answer = bundle.recommend(alert_id, [opened(alert_id)])
        expected = recs[recs["alert_id"] == alert_id]
        got = answer["recommendations"]
        assert [r["rank"] for r in got] == list(expected["rank"])
        assert [(r["item_type"], r["item_id"], r["item_label"], r["score"], r["reason"]) for r in got] == list(
            zip(
                expected["item_type"],
                expected["item_id"],
                expected["item_label"],
                expected["score"],
                expected["reason"],
            )
        )
    assert len(bundle.recommend("a1", [opened()], top_k=2)["recommendations"]) == 2


def test_used_items_are_excluded_and_the_pattern_decides(serving_root):
    bundle = load_bundle(str(serving_root / serving_prefix(DAY, ACCOUNT)))
    deploy = bundle.recommend(
        "a1", [opened(), dashboard("e1", 60, "dash-overview"), dashboard("e2", 120, "dash-deploys")]
    )
    ids = [r["item_id"] for r in deploy["recommendations"]]
    assert "dash-overview" not in ids and "dash-deploys" not in ids
    assert ids[0] == DEPLOY_ID  # always the next step after the deploys dashboard
    assert [r["rank"] for r in deploy["recommendations"]] == list(range(1, len(ids) + 1))
    scores = [r["score"] for r in deploy["recommendations"]]
    assert scores == sorted(scores, reverse=True)
    pool = bundle.recommend("a1", [opened(), dashboard("e1", 60, "dash-overview"), query("e2", 120, POOL_QUERY, "sql")])
    assert pool["recommendations"][0]["item_id"] == "dash-pg"
    assert POOL_ID not in [r["item_id"] for r in pool["recommendations"]]


def test_raw_query_texts_map_to_the_published_ids(serving_root):
    bundle = load_bundle(str(serving_root / serving_prefix(DAY, ACCOUNT)))
    # other literals and another term order than any text of the history
    answer = bundle.recommend("a1", [opened(), query("e1", 60, "version:deadbeef0042 AND service:api")])
    assert DEPLOY_ID not in [r["item_id"] for r in answer["recommendations"]]


def test_dirty_events_are_judged_like_the_log(serving_root):
    bundle = load_bundle(str(serving_root / serving_prefix(DAY, ACCOUNT)))
    clean = [opened(), dashboard("e1", 60, "dash-overview"), dashboard("e2", 120, "dash-deploys")]
    dirty = [
        dashboard("e2", 120, "dash-deploys"),  # out of order
        opened(),
        event("x1", 30, "page_view", "{}"),  # unknown action
        event("x2", 40, "dashboard_opened", '{"dashboard": {"id": "dash-pg"'),  # truncated JSON
        event("x3", 45, "query_run", '{"query": {}}'),  # missing field
        {"event_id": "x4", "action": "dashboard_opened", "payload": "{}"},  # no ts
        dashboard("e1", 60, "dash-overview"),
        dashboard("e1", 61, "dash-pg"),  # a duplicate event_id
    ]
    assert bundle.recommend("a1", dirty) == bundle.recommend("a1", clean)
    after_resolve = [*clean, event("r", 130, "alert_resolved", "{}"), dashboard("e9", 140, "dash-pg")]
    ids = [r["item_id"] for r in bundle.recommend("a1", after_resolve)["recommendations"]]
    assert "dash-pg" in ids  # what came after the alert_resolved does not count as used


def test_unknown_items_fall_back_to_the_list(serving_root):
    bundle = load_bundle(str(serving_root / serving_prefix(DAY, ACCOUNT)))
    answer = bundle.recommend("a1", [opened(), dashboard("e1", 60, "dash-never-seen")])
    assert [r["item_id"] for r in answer["recommendations"]] == list(
        published_lists().query("alert_id == 'a1'")["item_id"]
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"alert_id": "", "events": []},
        {"alert_id": 3, "events": []},
        {"alert_id": "a1", "events": "x"},
        {"alert_id": "a1", "events": [1]},
        {"alert_id": "a1", "events": [], "top_k": 0},
        {"alert_id": "a1", "events": [], "top_k": "5"},
    ],
)
def test_bad_arguments(serving_root, kwargs):
    bundle = load_bundle(str(serving_root / serving_prefix(DAY, ACCOUNT)))
    with pytest.raises(BadRequest):
        bundle.recommend(**kwargs)


def test_the_serving_path_never_imports_mxnet():
    code = (
        "import sys, alertrec.serving, alertrec.serving.app, alertrec.serving.replay; "
        "sys.exit(1 if 'mxnet' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_the_same_input_gives_the_same_bytes(serving_files):
    from alertrec.config import Config
    from alertrec.serving.bundle import build_serving_files
    from alertrec.stages.cluster import ClusterParams, cluster_sessions
    from tests.serving.conftest import RANKER_FILES, account_frames

    sessions, items = account_frames()
    shuffled = sessions.sample(frac=1.0, random_state=1)  # row order does not matter either
    clusters = cluster_sessions(sessions, items, ClusterParams())
    again = build_serving_files(
        ACCOUNT,
        DAY,
        shuffled,
        items,
        clusters,
        published_lists(),
        RANKER_FILES,
        Config(input_root="x", date=DAY, seed=3),
        epochs=5,
    )
    assert again == serving_files


def test_features_of_a_prefix_by_hand(serving_files):
    from alertrec.serving.model import Bundle
    from alertrec.serving.nextstep.prefix import FEATURES, prefix_features

    bundle = Bundle.from_files(serving_files)
    code = bundle.catalog.code
    prefix = [code("dashboard", "dash-overview"), code("dashboard", "dash-deploys")]
    import numpy as np

    f = prefix_features(bundle.stats, "a1", np.array(prefix), 120.0, bundle.catalog.is_query)
    assert not set(prefix) & set(f.codes.tolist())
    x = dict(zip(FEATURES, f.x[list(f.codes).index(code("query", DEPLOY_ID))]))
    # 20 of 20 investigations went from the deploys dashboard to the deploy query
    assert x["trans_alert"] == 1.0
    assert x["own_use"] == 0.5 and x["last_share"] == 0.5  # one of the two modes, always its root cause
    assert x["static_inv_rank"] == 0.5  # rank 2 of the published list
    assert x["knn_cause"] == pytest.approx(1.0 * 20 * (2 / 6**0.5) / (20 * (2 / 6**0.5) + 20 * (1 / 6**0.5)))
    assert x["log_elapsed"] == pytest.approx(np.log1p(120.0)) and x["log_steps"] == pytest.approx(np.log1p(2))
    pg = dict(zip(FEATURES, f.x[list(f.codes).index(code("dashboard", "dash-pg"))]))
    assert pg["trans_alert"] == 0.0
