"""The lock of a local output folder: ``fcntl.flock`` on the lock file.

The kernel releases it when the process ends, however it ends (``kill -9``
included), so a crashed run never blocks the next one. The owner document is
only there to name the holder in the refusal.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path

from alertrec.errors import OutputError
from alertrec.io.lock.base import DEFAULT_TTL_S, DayLock, LockHeldError, LockLostError, LockOwner, _describe

log = logging.getLogger(__name__)


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
