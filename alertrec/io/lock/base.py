"""What every day lock has: its place under the output root, its owner document, its errors and interface."""

from __future__ import annotations

import abc
import dataclasses
import datetime as dt
import logging
import os
import socket
import uuid
from typing import Any

from alertrec import schema
from alertrec.errors import AlertrecError

log = logging.getLogger(__name__)

#: where locks live, relative to the output root
LOCKS_DIR = "locks"
#: default lease of an S3 lock, and how often its holder renews it
DEFAULT_TTL_S = 900.0
DEFAULT_HEARTBEAT_S = 60.0


class LockError(AlertrecError):
    """The run does not hold the day's lock; exit code 5."""

    exit_code = 5


class LockHeldError(LockError):
    """Another run of the same day holds the lock."""


class LockLostError(LockError):
    """This run held the lock and lost it (its lease ran out and another run took it over)."""


def lock_path(day: dt.date) -> str:
    """``locks/recommendations-dt=D.lock``, relative to the output root."""
    return f"{LOCKS_DIR}/{schema.RECOMMENDATIONS_DIR}-{schema.DT}={day.isoformat()}.lock"


def _process_started(pid: int) -> float | None:
    import psutil

    try:
        return round(psutil.Process(pid).create_time(), 3)
    except psutil.Error:
        return None


def _utc_text(when: dt.datetime | None = None) -> str:
    return (when or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclasses.dataclass(frozen=True)
class LockOwner:
    """Who holds (or wants) a lock.

    Attributes
    ----------
    run_id : str
        The run's id (``Config.run_id``).
    host : str
        ``socket.gethostname()`` of the process.
    pid : int
        Its process id.
    pid_started : float or None
        The process's start time (seconds since the epoch), so that a reused
        pid is not taken for the owner.
    token : str
        Random; identifies this acquisition.
    """

    run_id: str
    host: str
    pid: int
    pid_started: float | None
    token: str

    @classmethod
    def current(cls, run_id: str) -> LockOwner:
        """The owner document of this process for run ``run_id``."""
        pid = os.getpid()
        return cls(
            run_id=run_id, host=socket.gethostname(), pid=pid, pid_started=_process_started(pid), token=uuid.uuid4().hex
        )

    def document(self, ttl_s: float) -> dict[str, Any]:
        """The JSON document written into the lock."""
        return {**dataclasses.asdict(self), "ttl_s": ttl_s, "written_at": _utc_text()}

    def is_alive_here(self) -> bool | None:
        """True/False when the owner ran on this host (is it still running?), None when it ran elsewhere."""
        if self.host != socket.gethostname():
            return None
        started = _process_started(self.pid)
        if started is None:
            return False
        return self.pid_started is None or abs(started - self.pid_started) < 1.0


def _owner_from(doc: Any) -> LockOwner | None:
    if not isinstance(doc, dict):
        return None
    try:
        return LockOwner(
            run_id=str(doc.get("run_id", "?")),
            host=str(doc.get("host", "?")),
            pid=int(doc.get("pid", -1)),
            pid_started=float(doc["pid_started"]) if doc.get("pid_started") is not None else None,
            token=str(doc.get("token", "")),
        )
    except (TypeError, ValueError):
        return None


def _describe(doc: Any) -> str:
    owner = _owner_from(doc)
    if owner is None:
        return "an unknown owner"
    since = f", written {doc.get('written_at')}" if isinstance(doc, dict) and doc.get("written_at") else ""
    return f"run {owner.run_id} on host {owner.host} (pid {owner.pid}{since})"


class DayLock(abc.ABC):
    """A lock on one name under an output root; a context manager."""

    def __init__(self, url: str, owner: LockOwner) -> None:
        self.url = url
        self.owner = owner
        self.held = False

    @abc.abstractmethod
    def acquire(self) -> None:
        """Take the lock, or raise LockHeldError naming its holder."""

    @abc.abstractmethod
    def check(self) -> None:
        """Raise LockLostError unless this process still holds the lock."""

    @abc.abstractmethod
    def release(self) -> None:
        """Give the lock back (never raises for a lock that was lost)."""

    def __enter__(self) -> DayLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
