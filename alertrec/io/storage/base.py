"""The storage interface: a root folder or prefix holding files named by relative ``'/'``-paths.

Everything above the adapters (the publish protocol, the run report, the model
store) talks to a :class:`Storage` with paths *relative to the output root*;
only :mod:`~alertrec.io.storage.local` and :mod:`~alertrec.io.storage.s3`
know whether the root is a local folder or an S3 prefix.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Iterable

log = logging.getLogger(__name__)

#: name prefix of the empty file check_writable writes and deletes again
_PROBE_PREFIX = ".alertrec-write-probe-"
#: marker in the names of LocalStorage's temporary files
_TMP_MARK = ".tmp-"


def _check_rel(rel_path: str, *, allow_empty: bool = False) -> str:
    """Validate a relative, '/'-separated path; return it without outer slashes."""
    if not isinstance(rel_path, str):
        raise TypeError(f"relative path must be a str, not {type(rel_path).__name__}")
    if rel_path.startswith("/") or "\\" in rel_path:
        raise ValueError(f"not a relative '/'-separated path: {rel_path!r}")
    rel = rel_path.strip("/")
    if not rel:
        if allow_empty:
            return ""
        raise ValueError("empty relative path")
    for part in rel.split("/"):
        if part in ("", ".", ".."):
            raise ValueError(f"bad relative path {rel_path!r}: empty, '.' or '..' segment")
    return rel


class Storage(abc.ABC):
    """A root folder or prefix that holds files named by relative '/'-paths."""

    @abc.abstractmethod
    def write_bytes(self, rel_path: str, data: bytes) -> None:
        """Write ``data`` to ``rel_path`` whole (never half-written), replacing any file there."""

    @abc.abstractmethod
    def read_bytes(self, rel_path: str) -> bytes:
        """Return the content of ``rel_path``; FileNotFoundError if there is none."""

    @abc.abstractmethod
    def exists(self, rel_path: str) -> bool:
        """Whether a file exists at ``rel_path``."""

    @abc.abstractmethod
    def list(self, prefix: str = "") -> list[str]:
        """Relative paths of every file under the folder ``prefix`` (recursive, sorted)."""

    @abc.abstractmethod
    def delete(self, rel_paths: Iterable[str]) -> None:
        """Delete these files; those already gone are ignored."""

    @abc.abstractmethod
    def url(self, rel_path: str = "") -> str:
        """A location of ``rel_path`` that people, Spark and pyarrow understand."""

    @abc.abstractmethod
    def check_writable(self) -> None:
        """Raise OutputError with one clear line unless files can be written and deleted here."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url()!r})"


class ForwardingStorage(Storage):
    """A storage that passes every call to ``inner``: subclass it to watch or fence some calls.

    The lock fence of :mod:`alertrec.ops` and the crash-injecting storages of
    the tests override only ``write_bytes`` and ``delete``.
    """

    def __init__(self, inner: Storage) -> None:
        self.inner = inner

    def write_bytes(self, rel_path: str, data: bytes) -> None:
        self.inner.write_bytes(rel_path, data)

    def read_bytes(self, rel_path: str) -> bytes:
        return self.inner.read_bytes(rel_path)

    def exists(self, rel_path: str) -> bool:
        return self.inner.exists(rel_path)

    def list(self, prefix: str = "") -> list[str]:
        return self.inner.list(prefix)

    def delete(self, rel_paths: Iterable[str]) -> None:
        self.inner.delete(rel_paths)

    def url(self, rel_path: str = "") -> str:
        return self.inner.url(rel_path)

    def check_writable(self) -> None:
        self.inner.check_writable()
