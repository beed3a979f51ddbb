"""The one process pool: explicit start method, one BLAS/OpenMP thread per worker, big tasks first.

Worker functions must be module-level and picklable. A failure inside a task
is re-raised in the parent naming the task's key; a worker that dies (killed,
out of memory, a crash in C code) breaks the pool, which is reported with the
keys of the tasks still in flight instead of hanging.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from alertrec.errors import AlertrecError

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

_THREAD_ENV = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


class WorkerError(AlertrecError):
    """A task of the process pool failed; the message names its key."""


def available_cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def init_worker_threads() -> None:
    """Pin numeric libraries to one thread in a worker process (the pool is the parallelism).

    For processes alertrec owns (pool workers, Spark's Python workers): it sets the thread
    variables of this process for good.
    """
    for name in _THREAD_ENV:
        os.environ[name] = "1"
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except Exception:  # pragma: no cover - threadpoolctl is optional
        pass


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """BLAS/OpenMP pools limited to one thread for the block, restored after it: work run in
    this process computes exactly what a pool worker computes."""
    try:
        from threadpoolctl import threadpool_limits
    except Exception:  # pragma: no cover - threadpoolctl is optional
        yield
        return
    with threadpool_limits(1):
        yield


def _call(func: Callable[[T], R], index: int, task: T) -> tuple[int, R | None, str | None]:
    try:
        return index, func(task), None
    except Exception:
        return index, None, traceback.format_exc(limit=8)


def _batches(costs: Sequence[float], workers: int) -> list[list[int]]:
    """Task indices in batches, biggest first; small tasks share a batch to save round trips.

    A batch holds tasks until its cost reaches 1/(8·workers) of the total, so
    the largest tasks run alone and start first (longest-processing-time
    order), and the tail is fine-grained enough to balance the workers.
    """
    order = sorted(range(len(costs)), key=lambda i: (-costs[i], i))
    target = sum(costs) / (8 * max(workers, 1)) if costs else 0.0
    batches: list[list[int]] = []
    current: list[int] = []
    acc = 0.0
    for i in order:
        current.append(i)
        acc += costs[i]
        if acc >= target:
            batches.append(current)
            current, acc = [], 0.0
    if current:
        batches.append(current)
    return batches


def _call_batch(func: Callable[[T], R], batch: list[tuple[int, T]]) -> list[tuple[int, R | None, str | None]]:
    return [_call(func, i, t) for i, t in batch]


class ProcessPoolMapper:
    """Map a function over tasks on a process pool; results come back in task order.

    Parameters
    ----------
    workers : int
        Processes; 1 runs the tasks in this process (no pool).
    start_method : str
        ``forkserver`` (default) or ``spawn``; never ``fork`` (a forked child
        would inherit the Spark driver's sockets and threads).
    key : callable, optional
        ``key(task) -> str`` naming a task in error messages.
    min_cost : float
        Below this total cost the tasks run in this process: starting the
        workers would cost more than it saves. The result is the same.
    preload : sequence of str
        Modules the forkserver imports once before forking the workers, so
        each worker starts with them loaded (numpy, scipy, dtaidistance cost
        about a second per fresh interpreter otherwise).
    """

    def __init__(
        self,
        workers: int,
        start_method: str = "forkserver",
        key: Callable[[Any], str] | None = None,
        min_cost: float = 0.0,
        preload: Sequence[str] = (),
    ) -> None:
        if start_method not in ("forkserver", "spawn"):
            raise ValueError(f"start method must be forkserver or spawn, not {start_method!r}")
        self.workers = workers
        self.start_method = start_method
        self.key = key or (lambda task: repr(task)[:80])
        self.min_cost = min_cost
        self.preload = tuple(preload)

    def __call__(self, func: Callable[[T], R], tasks: Sequence[T], costs: Sequence[float]) -> list[R]:
        """Run ``func`` on every task, biggest cost first; raise WorkerError naming a failed task."""
        if not tasks:
            return []
        if self.workers <= 1 or len(tasks) < 2 or sum(costs) < self.min_cost:
            inline: list[Any] = []  # each R: a task that failed raised above
            for i, task in enumerate(tasks):
                _, res, err = _call(func, i, task)
                if err is not None:
                    raise WorkerError(f"task {self.key(task)} failed: {err.strip().splitlines()[-1]}")
                inline.append(res)
            return inline
        out: list[Any] = [None] * len(tasks)
        batches = _batches(costs, self.workers)
        ctx = multiprocessing.get_context(self.start_method)
        if self.start_method == "forkserver" and self.preload:
            ctx.set_forkserver_preload(list(self.preload))
        saved = {name: os.environ.get(name) for name in _THREAD_ENV}
        os.environ.update({name: "1" for name in _THREAD_ENV})  # inherited by the workers at start
        try:
            with ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx, initializer=init_worker_threads) as pool:
                futures = {pool.submit(_call_batch, func, [(i, tasks[i]) for i in b]): b for b in batches}
                pending = set(futures)
                while pending:
                    done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                    for fut in done:
                        try:
                            results = fut.result()
                        except BrokenProcessPool:
                            keys = [self.key(tasks[i]) for f in [fut, *pending] for i in futures[f]][:5]
                            for f in pending:
                                f.cancel()
                            raise WorkerError(
                                f"a worker process died (killed or crashed) while running tasks {keys}"
                            ) from None
                        for i, res, err in results:
                            if err is not None:
                                for f in pending:
                                    f.cancel()
                                raise WorkerError(f"task {self.key(tasks[i])} failed: {err.strip().splitlines()[-1]}")
                            out[i] = res
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        return out
