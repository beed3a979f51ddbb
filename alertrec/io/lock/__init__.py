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

The modules: ``base`` (the lock's path, its owner document, :class:`DayLock` and
the errors), ``local`` (:class:`LocalLock`), ``s3`` (:class:`S3Lock`);
:func:`lock_for` picks one for an output root.
"""

from __future__ import annotations

import datetime as dt
import logging

from alertrec.errors import OutputError
from alertrec.io.lock.base import (
    DEFAULT_HEARTBEAT_S,
    DEFAULT_TTL_S,
    LOCKS_DIR,
    DayLock,
    LockError,
    LockHeldError,
    LockLostError,
    LockOwner,
    lock_path,
)
from alertrec.io.lock.local import LocalLock
from alertrec.io.lock.s3 import S3Lock
from alertrec.io.storage import LocalStorage, S3Storage, Storage

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_HEARTBEAT_S",
    "DEFAULT_TTL_S",
    "LOCKS_DIR",
    "DayLock",
    "LocalLock",
    "LockError",
    "LockHeldError",
    "LockLostError",
    "LockOwner",
    "S3Lock",
    "lock_at",
    "lock_for",
    "lock_path",
]


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
    return lock_at(storage, lock_path(day), owner, ttl_s=ttl_s, heartbeat_s=heartbeat_s)


def lock_at(
    storage: Storage,
    rel: str,
    owner: LockOwner,
    *,
    ttl_s: float = DEFAULT_TTL_S,
    heartbeat_s: float | None = None,
) -> DayLock:
    """A lock at ``rel`` under the output root (the day's lock, the query registry's lock).

    Raises
    ------
    OutputError
        For a storage that has no lock implementation.
    """
    if isinstance(storage, LocalStorage):
        return LocalLock(storage.root.joinpath(*rel.split("/")), owner, ttl_s=ttl_s)
    if isinstance(storage, S3Storage):
        return S3Lock(storage, rel, owner, ttl_s=ttl_s, heartbeat_s=heartbeat_s)
    inner = getattr(storage, "inner", None)
    if isinstance(inner, Storage):  # a wrapper (tests, LockedStorage)
        return lock_at(inner, rel, owner, ttl_s=ttl_s, heartbeat_s=heartbeat_s)
    raise OutputError(f"no lock available for {storage!r}; run with --no-lock")
