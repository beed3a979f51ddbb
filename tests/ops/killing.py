"""A storage wrapper that SIGKILLs its own process at a chosen storage call (fault injection).

Used by child processes of the kill tests: ``python -m tests.ops.publish_child`` and
``python -m tests.ops.job_child``.  SIGKILL, not an exception: no ``finally``,
no ``except``, no flush -- what a killed container or an OOM kill leaves.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable

from alertrec.io.storage import ForwardingStorage, Storage


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class KillingStorage(ForwardingStorage):
    """Counts mutating calls (write_bytes, delete) and dies at one of them.

    Parameters
    ----------
    inner : Storage
    kill_at : int
        Index (0-based) of the mutating call at which to die; -1 never.
    when : str
        ``before`` (the call does not happen), ``midway`` (a delete of several
        files removes only the first), ``after`` (it happened).
    kill_before_write_of : str, optional
        Die before writing a path that ends with this (instead of by index).
    """

    def __init__(
        self, inner: Storage, kill_at: int = -1, when: str = "before", kill_before_write_of: str | None = None
    ) -> None:
        self.inner, self.kill_at, self.when = inner, kill_at, when
        self.kill_before_write_of = kill_before_write_of
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    def _mutate(self, name: str, paths: tuple[str, ...], do) -> None:
        index = len(self.calls)
        self.calls.append((name, paths))
        if name == "write_bytes" and self.kill_before_write_of and paths[0].endswith(self.kill_before_write_of):
            die()
        if index != self.kill_at:
            do()
            return
        if self.when == "before":
            die()
        if self.when == "midway":
            assert name == "delete" and len(paths) > 1, f"midway needs a delete of several files, got {name} {paths}"
            self.inner.delete(paths[:1])
            die()
        do()
        die()

    def write_bytes(self, rel_path: str, data: bytes) -> None:
        self._mutate("write_bytes", (rel_path,), lambda: self.inner.write_bytes(rel_path, data))

    def delete(self, rel_paths: Iterable[str]) -> None:
        paths = tuple(rel_paths)
        self._mutate("delete", paths, lambda: self.inner.delete(paths))
