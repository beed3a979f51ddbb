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
