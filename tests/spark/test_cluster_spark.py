"""--engine spark: the same per-group clustering through applyInPandas gives the pool's clusters."""

from __future__ import annotations

import pandas as pd
import pytest

from alertrec.stages import cluster as C
from tests.unit.test_cluster import _many_groups

pytestmark = pytest.mark.spark


def test_spark_engine_gives_the_same_clusters_as_the_process_pool(spark):
    sessions, items = _many_groups()
    local = C.cluster_sessions(sessions, items, C.ClusterParams())
    on_spark = C.cluster_sessions_spark(spark, sessions, items, C.ClusterParams(), buckets=3)
    for name in ("assignments", "medoids", "support", "groups"):
        pd.testing.assert_frame_equal(getattr(local, name), getattr(on_spark, name), check_dtype=False)
    assert local.groups["n_clusters"].max() == 2


def test_both_engines_give_the_same_clusters_on_the_fixtures(spark):
    from alertrec.config import Config
    from alertrec.io.inputs import read_inputs
    from alertrec.stages.extract import extract_sessions
    from alertrec.stages.normalize import normalize_items
    from tests.conftest import FIXTURE_DAY, FIXTURES

    config = Config(input_root=str(FIXTURES), date=FIXTURE_DAY)
    alerts, actions, _ = read_inputs(spark, config)
    ex = extract_sessions(spark, alerts, actions, config)
    items = normalize_items(ex.items, link_threshold=config.query_link_threshold)
    local = C.cluster_sessions(ex.sessions, items, C.ClusterParams())
    on_spark = C.cluster_sessions_spark(spark, ex.sessions, items, C.ClusterParams(), buckets=4)
    for name in ("assignments", "medoids", "support", "groups"):
        pd.testing.assert_frame_equal(getattr(local, name), getattr(on_spark, name), check_dtype=False)
    assert (local.groups["n_clusters"] >= 2).any()  # the fixtures do have several patterns somewhere
