"""The Spark session: built in one place, always in UTC."""

from __future__ import annotations

import logging
import os
import sys
from importlib import resources

from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

#: the Spark conf naming the Python of the workers and of the driver
PYTHON_CONF = "spark.pyspark.python"
DRIVER_PYTHON_CONF = "spark.pyspark.driver.python"
#: the variable a spark-submit (EMR) sets instead; when it is set, it wins
PYSPARK_PYTHON_ENV = "PYSPARK_PYTHON"


def build_spark(
    master: str = "local[*]",
    driver_memory: str = "2g",
    shuffle_partitions: int | None = None,
    app_name: str = "alertrec",
) -> SparkSession:
    """Get or create the Spark session alertrec runs on.

    On EMR (spark-submit) the master and memory come from the submission and
    the builder only adds the settings alertrec relies on: UTC session time
    zone, Arrow transfers to pandas, partition values kept as strings. In a
    local run without ``PYSPARK_PYTHON``, the Python workers (``applyInPandas``)
    run this interpreter: ``spark.pyspark.python`` and
    ``spark.pyspark.driver.python`` in the session's conf, applied to its
    context; the process environment is left as it is.

    Parameters
    ----------
    master : str
        Spark master URL, used only when no session exists yet.
    driver_memory : str
        Driver heap for local mode (``spark.driver.memory``).
    shuffle_partitions : int, optional
        ``spark.sql.shuffle.partitions``; defaults to 4 per local core.
    app_name : str
        Application name shown in the Spark UI and logs.

    Returns
    -------
    pyspark.sql.SparkSession
    """
    builder = (
        SparkSession.builder.appName(app_name)
        .master(master)
        .config("spark.driver.memory", driver_memory)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
        .config("spark.sql.adaptive.enabled", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.executor.extraJavaOptions", "-Duser.timezone=UTC")
        # local files without Hadoop's .crc sidecars: a stale `.x.parquet.crc` left next to a
        # re-exported x.parquet would otherwise fail the read of a good file (the input check
        # lists such files as skipped, not data)
        .config("spark.hadoop.fs.file.impl", "org.apache.hadoop.fs.RawLocalFileSystem")
        .config("spark.hadoop.fs.file.impl.disable.cache", "true")
    )
    java_opts = "-Duser.timezone=UTC"
    if master.startswith("local"):
        # a quiet console in local runs (warnings and errors only); EMR keeps the cluster's logging
        log4j = resources.files("alertrec.io").joinpath("log4j2.properties")
        java_opts += f" -Dlog4j.configurationFile={log4j}"
    builder = builder.config("spark.driver.extraJavaOptions", java_opts)
    local_python = master.startswith("local") and not os.environ.get(PYSPARK_PYTHON_ENV)
    if local_python:
        # Python workers (applyInPandas) must run the driver's interpreter, i.e. this
        # virtualenv. Said in the session's conf, not in os.environ, so nothing outlives
        # the session; on EMR the submission sets PYSPARK_PYTHON to the packed environment.
        builder = builder.config(PYTHON_CONF, sys.executable).config(DRIVER_PYTHON_CONF, sys.executable)
    if shuffle_partitions is not None:
        builder = builder.config("spark.sql.shuffle.partitions", str(shuffle_partitions))
    elif master.startswith("local"):
        builder = builder.config("spark.sql.shuffle.partitions", "8")
    session = builder.getOrCreate()
    if local_python:
        _use_worker_python(session)
    session.sparkContext.setLogLevel("ERROR")
    log.info("spark %s ready (master %s)", session.version, session.sparkContext.master)
    return session


def _use_worker_python(session: SparkSession) -> None:
    """Make the session's Python workers run the interpreter its conf names (``spark.pyspark.python``).

    A driver started from Python (not by spark-submit) takes the workers' Python
    from ``PYSPARK_PYTHON`` only, when its context starts, and falls back to
    ``python3`` on the ``PATH``. Setting it on the context instead scopes it to
    this session: nothing is written into the process environment.
    """
    context = session.sparkContext
    python = context.getConf().get(PYTHON_CONF, None)
    if python and context.pythonExec != python:
        context.pythonExec = python
        log.debug("python workers run %s", python)


def active_stages() -> str | None:
    """``Spark stage 12: 5/8 tasks`` for the active Spark stages of this process, or None."""
    from pyspark import SparkContext

    try:
        sc = SparkContext._active_spark_context
        if sc is None:
            return None
        tracker = sc.statusTracker()
        parts = []
        for stage_id in sorted(tracker.getActiveStageIds())[:3]:
            info = tracker.getStageInfo(stage_id)
            if info is not None:
                parts.append(f"{stage_id}: {info.numCompletedTasks}/{info.numTasks} tasks")
        return ("Spark stage " + ", ".join(parts)) if parts else None
    except Exception:  # the JVM may be starting or stopping
        return None


def submitted_master() -> str | None:
    """The master spark-submit was given (``spark.master`` of the JVM that started this driver)."""
    from pyspark import SparkConf, SparkContext

    SparkContext._ensure_initialized()  # connects to spark-submit's JVM (PYSPARK_GATEWAY_PORT)
    return SparkConf().get("spark.master", None)


def has_rows(spark: SparkSession, path: str) -> bool | None:
    """Whether the Parquet under ``path`` holds a row; None when Spark finds no such path.

    Raises
    ------
    InputError
        Spark cannot read what is there.
    """
    from pyspark.errors import AnalysisException

    from alertrec.errors import InputError

    try:
        frame = spark.read.parquet(path)
    except AnalysisException as exc:
        condition = exc.getCondition() or ""
        if condition.startswith("PATH_NOT_FOUND"):
            return None
        if condition.startswith("UNABLE_TO_INFER_SCHEMA"):
            return False  # a folder with no Parquet file in it
        raise InputError(f"cannot read the day's input {path}: {str(exc).splitlines()[0]}") from None
    return frame.limit(1).count() > 0
