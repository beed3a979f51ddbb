"""A lock per output root and day, so that two runs of the same day never overlap.

The publish protocol (docs/adr/0002-publish-protocol.md) keeps rows from being
mixed, but two concurrent runs of one day can still delete each other's files
in step 3.  The nightly cron and the EMR steps therefore take this lock first
(:func:`alertrec.ops.run_day_guarded`); a second run of the same day is refused
with :class:`LockHeldError` (exit code 5).  Other days are not affected.

The lock lives at ``ROOT/locks/recommendations-dt=D.lock`` (outside
``recommendations/``, so readers of a day never see it) and holds a small JSON
document naming its owner: run id, host, pid, the pid's start time, a random
token, the lease ``ttl_s`` and when it was taken.

- **Local folder** -- ``fcntl.flock`` on the lock file.  The kernel releases
  it when the process ends, however it ends (``kill -9`` included), so a
  crashed run never blocks the next one.  The owner document is only there
  to name the holder in the refusal.
- **S3** -- a lock object created with a conditional PUT
  (``If-None-Match: *``): S3 accepts exactly one of several concurrent
  creations and answers ``412 Precondition Failed`` to the others.  The
  holder renews a lease in a daemon thread (a PUT with ``If-Match`` its last
  ETag, every ``heartbeat_s``).  A lock is *stale*, and is taken over with a
  conditional PUT on its ETag, when its lease ran out (the object was not
  rewritten for ``ttl_s`` by S3's own clock: ``Last-Modified`` against the
  ``Date`` of the response), or when its owner ran on this host and that
  process is gone (a killed cron or EMR step on the same node heals at once).
  Ownership is decided by the token in the object, so a PUT whose response
  was lost and that botocore retried (and that S3 then refused with 412)
  still counts as acquired.

Before each write or delete of a guarded run, :meth:`DayLock.check` confirms
that the lock is still held (:class:`LockLostError` otherwise); see
``alertrec.ops.LockedStorage``.  This is a best-effort fence, not a
distributed transaction: the lease is kept an order of magnitude longer than
the heartbeat interval.
"""

from __future__ import annotations

import abc
import contextlib
import dataclasses
import datetime as dt
import email.utils
import json
import logging
import os
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from alertrec import schema
from alertrec.errors import AlertrecError, OutputError
from alertrec.io.storage import LocalStorage, S3Storage, Storage, _backoff_s, _is_cut_off_read, _s3_reason

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
    return (when or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


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
    def current(cls, run_id: str) -> "LockOwner":
        """The owner document of this process for run ``run_id``."""
        pid = os.getpid()
        return cls(run_id=run_id, host=socket.gethostname(), pid=pid, pid_started=_process_started(pid),
                   token=uuid.uuid4().hex)

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

    def __enter__(self) -> "DayLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


# --------------------------------------------------------------------------
# Local folder: flock
# --------------------------------------------------------------------------
class LocalLock(DayLock):
    """``fcntl.flock`` on a file under a local output folder; released by the kernel when the process dies."""

    def __init__(self, path: Path, owner: LockOwner, ttl_s: float = DEFAULT_TTL_S) -> None:
        super().__init__(str(path), owner)
        self.path = path
        self.ttl_s = ttl_s
        self._fd: int | None = None

    def acquire(self) -> None:
        import fcntl

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OutputError(f"cannot create the lock {self.path}: {exc.strerror or exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                doc = json.loads(os.pread(fd, 65536, 0) or b"null")
            except (OSError, ValueError):
                doc = None
            os.close(fd)
            raise LockHeldError(
                f"another run of this day holds the lock {self.path}: {_describe(doc)}; "
                "wait for it to finish (the lock goes away with its process)"
            ) from None
        except OSError as exc:
            os.close(fd)
            raise OutputError(f"cannot lock {self.path}: {exc.strerror or exc}") from exc
        data = json.dumps(self.owner.document(self.ttl_s), sort_keys=True).encode("utf-8")
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
        self._fd = fd
        self.held = True
        log.info("lock %s taken", self.path)

    def check(self) -> None:
        if not self.held:
            raise LockLostError(f"this run does not hold the lock {self.path}")

    def release(self) -> None:
        import fcntl

        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        self.held = False
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)  # the file stays: unlinking a flock'ed file races with the next opener
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        log.info("lock %s released", self.path)


# --------------------------------------------------------------------------
# S3: conditional PUT + lease
# --------------------------------------------------------------------------
def _error_code(exc: BaseException) -> tuple[str, int | None]:
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code, status


def _precondition_failed(exc: BaseException) -> bool:
    code, status = _error_code(exc)
    return code == "PreconditionFailed" or status == 412


def _conflict(exc: BaseException) -> bool:
    code, status = _error_code(exc)
    return code == "ConditionalRequestConflict" or status == 409


def _not_found(exc: BaseException) -> bool:
    code, status = _error_code(exc)
    return code in ("NoSuchKey", "404", "NotFound") or status == 404


def _server_now(date_header: str | None) -> dt.datetime:
    """S3's clock from a response's ``Date`` header (this host's clock if it is missing or unreadable)."""
    try:
        now = email.utils.parsedate_to_datetime(date_header) if date_header else None
    except (TypeError, ValueError):
        now = None
    if now is None:
        return dt.datetime.now(dt.timezone.utc)
    return now if now.tzinfo is not None else now.replace(tzinfo=dt.timezone.utc)


class S3Lock(DayLock):
    """A lock object under an S3 output prefix: conditional PUTs and a renewed lease.

    Parameters
    ----------
    storage : S3Storage
        The output root (its client, endpoint and retries are used).
    rel_path : str
        The lock object, relative to the root.
    owner : LockOwner
    ttl_s : float
        The lease: a lock not renewed for this long is stale.
    heartbeat_s : float, optional
        Renewal interval; ``min(DEFAULT_HEARTBEAT_S, ttl_s / 3)`` by default.
    """

    def __init__(
        self,
        storage: S3Storage,
        rel_path: str,
        owner: LockOwner,
        ttl_s: float = DEFAULT_TTL_S,
        heartbeat_s: float | None = None,
    ) -> None:
        super().__init__(storage.url(rel_path), owner)
        if ttl_s <= 0:
            raise ValueError("ttl_s must be > 0")
        self.storage = storage
        self.key = storage._key(rel_path)
        self.ttl_s = float(ttl_s)
        self.heartbeat_s = float(heartbeat_s) if heartbeat_s else min(DEFAULT_HEARTBEAT_S, self.ttl_s / 3)
        self.etag: str | None = None
        self.lost: str | None = None
        self._mutex = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- S3 calls ------------------------------------------------------------
    def _client(self):  # noqa: ANN202
        return self.storage._client()

    def _body(self) -> bytes:
        return json.dumps(self.owner.document(self.ttl_s), sort_keys=True).encode("utf-8")

    def _put(self, **condition: str) -> str:
        response = self._client().put_object(
            Bucket=self.storage.bucket, Key=self.key, Body=self._body(), ContentType="application/json", **condition
        )
        return str(response["ETag"])

    def _read(self) -> tuple[Any, str, float] | None:
        """(document, etag, age in seconds by S3's clock), or None when there is no lock object."""
        attempts = int(self.storage.retries["max_attempts"])  # type: ignore[call-overload]
        for attempt in range(attempts):
            try:
                response = self._client().get_object(Bucket=self.storage.bucket, Key=self.key)
                raw = response["Body"].read()
                break
            except Exception as exc:
                if _not_found(exc):
                    return None
                if attempt + 1 < attempts and _is_cut_off_read(exc):  # botocore does not retry a broken body
                    time.sleep(_backoff_s(attempt))
                    continue
                raise OutputError(f"cannot read the lock {self.url}: {_s3_reason(exc)}") from exc
        try:
            doc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            doc = None
        modified = response.get("LastModified")
        now = _server_now(response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date"))
        if modified is not None and modified.tzinfo is None:
            modified = modified.replace(tzinfo=dt.timezone.utc)
        age = (now - modified).total_seconds() if modified is not None else 0.0
        return doc, str(response["ETag"]), age

    def _stale_reason(self, doc: Any, age_s: float) -> str | None:
        ttl = doc.get("ttl_s") if isinstance(doc, dict) else None
        ttl = float(ttl) if isinstance(ttl, (int, float)) and ttl > 0 else self.ttl_s
        if age_s > ttl:
            return f"its lease ran out ({age_s:.0f} s since its last renewal > ttl {ttl:.0f} s)"
        owner = _owner_from(doc)
        if owner is not None and owner.is_alive_here() is False:
            return f"its process (pid {owner.pid} on this host) is gone"
        if owner is None:
            return None  # unreadable: only the lease decides
        return None

    # -- DayLock ---------------------------------------------------------------
    def acquire(self) -> None:
        for _ in range(5):
            try:
                self.etag = self._put(IfNoneMatch="*")
                break
            except Exception as exc:
                if _conflict(exc):  # a concurrent conditional write: look again
                    time.sleep(0.2)
                    continue
                if not _precondition_failed(exc):
                    raise OutputError(f"cannot create the lock {self.url}: {_s3_reason(exc)}") from exc
            current = self._read()
            if current is None:  # released in between: try again
                continue
            doc, etag, age = current
            owner = _owner_from(doc)
            if owner is not None and owner.token == self.owner.token:
                # our own PUT landed, its response was lost, and the retry met our object
                self.etag = etag
                break
            reason = self._stale_reason(doc, age)
            if reason is None:
                raise LockHeldError(
                    f"another run of this day holds the lock {self.url}: {_describe(doc)}, renewed {age:.0f} s ago; "
                    f"wait for it to finish, or if it died on another host, until its lease runs out "
                    f"({self.ttl_s:.0f} s after its last renewal) or delete the lock object"
                )
            try:
                self.etag = self._put(IfMatch=etag)
            except Exception as exc:
                if _precondition_failed(exc) or _conflict(exc) or _not_found(exc):
                    continue  # someone else changed it first: look again
                raise OutputError(f"cannot take over the lock {self.url}: {_s3_reason(exc)}") from exc
            log.warning("took over the lock %s from %s: %s", self.url, _describe(doc), reason)
            break
        else:
            raise LockHeldError(f"could not take the lock {self.url}: it kept changing; is another run starting?")
        self.held = True
        self.lost = None
        self._stop.clear()
        self._thread = threading.Thread(target=self._heartbeat, name="alertrec-lock-heartbeat", daemon=True)
        self._thread.start()
        log.info("lock %s taken (lease %.0f s, renewed every %.0f s)", self.url, self.ttl_s, self.heartbeat_s)

    def renew(self) -> None:
        """Renew the lease now (the heartbeat thread calls this); marks the lock lost if it was taken over."""
        with self._mutex:
            if not self.held or self.lost:
                return
            try:
                self.etag = self._put(IfMatch=self.etag or "")
                return
            except Exception as exc:
                if not (_precondition_failed(exc) or _not_found(exc)):
                    log.warning("could not renew the lock %s (%s); trying again later", self.url, _s3_reason(exc))
                    return
            current = self._read()
            owner = _owner_from(current[0]) if current else None
            if current is not None and owner is not None and owner.token == self.owner.token:
                self.etag = current[1]  # our renewal landed, its response was lost
                return
            self.lost = f"now held by {_describe(current[0])}" if current else "the lock object was deleted"
            log.error("lost the lock %s: %s", self.url, self.lost)

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                self.renew()
            except Exception:  # never let the thread die silently mid-run
                log.warning("renewing the lock %s failed", self.url, exc_info=True)

    def check(self) -> None:
        if not self.held:
            raise LockLostError(f"this run does not hold the lock {self.url}")
        if self.lost is None:
            current = self._read()
            owner = _owner_from(current[0]) if current else None
            if owner is None or owner.token != self.owner.token:
                self.lost = f"now held by {_describe(current[0])}" if current else "the lock object was deleted"
        if self.lost:
            raise LockLostError(
                f"this run lost the lock {self.url} ({self.lost}); stopped before touching the day"
            )

    def release(self) -> None:
        if not self.held:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        with self._mutex:
            self.held = False
            try:
                current = self._read()
                owner = _owner_from(current[0]) if current else None
                if owner is not None and owner.token == self.owner.token:
                    self._client().delete_object(Bucket=self.storage.bucket, Key=self.key)
                    log.info("lock %s released", self.url)
                elif current is not None:
                    log.warning("not releasing the lock %s: it is held by %s", self.url, _describe(current[0]))
            except Exception as exc:  # the run's own outcome matters more; the lease will run out
                log.warning("could not release the lock %s (%s); it expires %.0f s after its last renewal",
                            self.url, _s3_reason(exc), self.ttl_s)


def lock_for(
    storage: Storage,
    day: dt.date,
    owner: LockOwner,
    *,
    ttl_s: float = DEFAULT_TTL_S,
    heartbeat_s: float | None = None,
) -> DayLock:
    """The lock of ``day`` under the output root ``storage`` (a local folder or S3).

    Raises
    ------
    OutputError
        For a storage that has no lock implementation.
    """
    rel = lock_path(day)
    if isinstance(storage, LocalStorage):
        return LocalLock(storage.root.joinpath(*rel.split("/")), owner, ttl_s=ttl_s)
    if isinstance(storage, S3Storage):
        return S3Lock(storage, rel, owner, ttl_s=ttl_s, heartbeat_s=heartbeat_s)
    inner = getattr(storage, "inner", None)
    if isinstance(inner, Storage):  # a wrapper (tests, LockedStorage)
        return lock_for(inner, day, owner, ttl_s=ttl_s, heartbeat_s=heartbeat_s)
    raise OutputError(f"no lock available for {storage!r}; run with --no-lock")
