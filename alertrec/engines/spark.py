"""The Spark engine: the same per-account tasks in ``applyInPandas`` on the executors (EMR).

Accounts are spread over buckets, biggest first onto the least loaded bucket, and each
bucket is one Spark task that runs its accounts one after the other in a Python worker;
the task's results come back pickled (small summaries: the data stays in the staging
area). A task that fails comes back as its error text and is raised naming the account.
"""

from __future__ import annotations

import heapq
import logging
import pickle
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from alertrec.engines.tasks import AccountTask
from alertrec.parallel import WorkerError

log = logging.getLogger(__name__)

_RESULT_SCHEMA = "task long, ok boolean, result binary"


def buckets_for(costs: Sequence[float], n_buckets: int) -> list[int]:
    """Bucket of each task: longest-processing-time first onto the least loaded bucket."""
    heap = [(0.0, b) for b in range(max(1, n_buckets))]
    out = [0] * len(costs)
    for i in sorted(range(len(costs)), key=lambda i: (-costs[i], i)):
        load, b = heapq.heappop(heap)
        out[i] = b
        heapq.heappush(heap, (load + costs[i], b))
    return out


def run_spark(
    spark: Any, func: Callable[[AccountTask], Any], tasks: Sequence[AccountTask], n_buckets: int | None = None
) -> list[Any]:
    """Run ``func`` over ``tasks`` on the executors; results in task order.

    Parameters
    ----------
    spark : pyspark.sql.SparkSession
    func : callable
        A module-level task of :mod:`alertrec.engines.tasks`.
    tasks : sequence of AccountTask
    n_buckets : int, optional
        Spark tasks; defaults to twice the default parallelism, at most one per account.

    Raises
    ------
    WorkerError
        Naming the account whose task failed.
    """
    if not tasks:
        return []
    n = n_buckets or max(1, min(len(tasks), 2 * int(spark.sparkContext.defaultParallelism)))
    buckets = buckets_for([float(max(t.rows, 1)) for t in tasks], n)
    shared = tasks[0].shared_files  # the same for every task: shipped once, not per task
    slim = [AccountTask(t.account_id, t.rows, t.staging, t.config) for t in tasks]
    frame = pd.DataFrame({"task": range(len(tasks)), "bucket": buckets})

    def run_bucket(pdf: pd.DataFrame) -> pd.DataFrame:
        from alertrec.parallel import init_worker_threads

        init_worker_threads()
        rows = []
        for i in sorted(pdf["task"].tolist(), key=lambda i: -slim[i].rows):
            t = slim[i]
            task = AccountTask(t.account_id, t.rows, t.staging, t.config, shared)
            try:
                rows.append((i, True, pickle.dumps(func(task), protocol=pickle.HIGHEST_PROTOCOL)))
            except Exception as exc:  # reported to the driver, naming the account
                text = f"account {t.account_id}: {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=6)}"
                rows.append((i, False, text.encode("utf-8")))
        return pd.DataFrame(rows, columns=["task", "ok", "result"])

    sdf = spark.createDataFrame(frame).repartition(n, "bucket")
    out = sdf.groupBy("bucket").applyInPandas(run_bucket, schema=_RESULT_SCHEMA).collect()
    results: list[Any] = [None] * len(tasks)
    for row in out:
        if not row["ok"]:
            message = bytes(row["result"]).decode("utf-8")
            log.error("spark task failed: %s", message)
            raise WorkerError(f"task {message.splitlines()[0]}")
        results[int(row["task"])] = pickle.loads(bytes(row["result"]))  # our own tasks' output: safe to unpickle
    return results
