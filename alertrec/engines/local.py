"""The local engine: the one process pool of :mod:`alertrec.parallel` over accounts."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from alertrec.engines.tasks import WORKER_MODULES, AccountTask, task_key
from alertrec.parallel import ProcessPoolMapper, single_threaded

log = logging.getLogger(__name__)


def run_local(
    func: Callable[[AccountTask], Any], tasks: Sequence[AccountTask], workers: int, min_cost: float = 0.0
) -> list[Any]:
    """Run ``func`` over ``tasks`` on ``workers`` processes (1: in this process), biggest first.

    Parameters
    ----------
    func : callable
        :func:`~alertrec.engines.tasks.prepare_task` or :func:`~alertrec.engines.tasks.finish_task`.
    tasks : sequence of AccountTask
    workers : int
    min_cost : float
        Below this many staged rows in all, the tasks run in this process.

    Returns
    -------
    list
        The tasks' results, in task order.
    """
    preload: tuple[str, ...] = WORKER_MODULES
    if tasks and tasks[0].config.ranker == "mxnet":
        preload += ("alertrec.mxnet_ranker",)  # imported once by the forkserver, not by every worker (~5 s each)
    mapper = ProcessPoolMapper(workers, key=task_key, min_cost=min_cost, preload=preload)
    costs = [float(max(t.rows, 1)) for t in tasks]
    with single_threaded():  # the same numeric threading in this process as in a worker
        return mapper(func, tasks, costs)
