"""Peak memory of the whole process tree (this Python process, the Spark JVM, workers)."""

from __future__ import annotations

import logging
import threading
import time
from types import TracebackType

import psutil

log = logging.getLogger(__name__)


def tree_rss(proc: psutil.Process) -> int:
    """Resident set size in bytes of ``proc`` and all its descendants now."""
    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            continue
    return total


class PeakMemory:
    """Sample the process tree's RSS in a daemon thread and keep the peak.

    Parameters
    ----------
    interval_s : float
        Seconds between samples.
    pid : int, optional
        Root of the tree; this process by default.

    Examples
    --------
    >>> with PeakMemory() as peak:
    ...     work()
    >>> peak.peak_bytes
    """

    def __init__(self, interval_s: float = 0.1, pid: int | None = None) -> None:
        self.interval_s = interval_s
        self.pid = pid
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample(self) -> int:
        """Take one sample now and return the peak so far (a finished process adds nothing)."""
        try:
            proc = psutil.Process(self.pid)
        except psutil.Error:
            return self.peak_bytes
        self.peak_bytes = max(self.peak_bytes, tree_rss(proc))
        return self.peak_bytes

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def __enter__(self) -> PeakMemory:
        self.sample()
        self._thread = threading.Thread(target=self._loop, name="peak-memory", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()


class Timer:
    """Wall-clock seconds of named steps, in the order they ran."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def step(self, name: str) -> _Step:
        """Context manager timing one step under ``name``."""
        return _Step(self, name)


class _Step:
    def __init__(self, timer: Timer, name: str) -> None:
        self.timer = timer
        self.name = name
        self.t0 = 0.0

    def __enter__(self) -> None:
        self.t0 = time.perf_counter()
        log.info("stage %s: started", self.name)

    def __exit__(self, *exc: object) -> None:
        elapsed = time.perf_counter() - self.t0
        self.timer.seconds[self.name] = round(self.timer.seconds.get(self.name, 0.0) + elapsed, 3)
        log.info("stage %s: %.1f s", self.name, elapsed)
