"""build_spark: the local Python workers run this interpreter, set in the session, not in os.environ."""

from __future__ import annotations

import os
import sys

import pandas as pd
import pytest

from alertrec.io.spark import DRIVER_PYTHON_CONF, PYSPARK_PYTHON_ENV, PYTHON_CONF

pytestmark = pytest.mark.spark


def test_the_workers_python_is_in_the_session_conf_not_in_the_environment(spark):
    if os.environ.get(PYSPARK_PYTHON_ENV) and os.environ[PYSPARK_PYTHON_ENV] != sys.executable:
        pytest.skip("PYSPARK_PYTHON was set before the session: the submission's choice wins")
    conf = spark.sparkContext.getConf()
    if PYSPARK_PYTHON_ENV not in os.environ:  # nothing was written into the environment
        assert conf.get(PYTHON_CONF) == sys.executable and conf.get(DRIVER_PYTHON_CONF) == sys.executable

    def interpreter(group: pd.DataFrame) -> pd.DataFrame:
        import sys as worker_sys

        return pd.DataFrame({"g": [int(group["g"].iloc[0])], "python": [worker_sys.executable]})

    frame = spark.createDataFrame(pd.DataFrame({"g": [1, 1, 2]}))
    rows = frame.groupBy("g").applyInPandas(interpreter, "g long, python string").collect()
    assert sorted((r.g, r.python) for r in rows) == [(1, sys.executable), (2, sys.executable)]
