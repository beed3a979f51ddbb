"""Files under a local folder, each written whole: a temporary file, ``fsync`` and ``os.replace``.

A single file is therefore never seen half-written, and the folder is
``fsync``\\ ed after renames and deletes so that they survive a crash.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import uuid
from collections.abc import Iterable
from pathlib import Path

from alertrec.errors import OutputError
from alertrec.io.storage.base import _PROBE_PREFIX, _TMP_MARK, Storage, _check_rel

log = logging.getLogger(__name__)


def _fsync_dir(path: Path) -> None:
    """Make renames and deletes in ``path`` durable (no-op where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _os_reason(exc: OSError) -> str:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.EROFS:
        return "read-only file system"
    if exc.errno == errno.ENOSPC:
        return "no space left on device"
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        return "a file stands where a folder is needed"
    return exc.strerror or type(exc).__name__


class LocalStorage(Storage):
    """Files under a local folder ``root`` (created on first write)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().absolute()

    def _path(self, rel_path: str, *, allow_empty: bool = False) -> Path:
        rel = _check_rel(rel_path, allow_empty=allow_empty)
        return self.root.joinpath(*rel.split("/")) if rel else self.root

    def write_bytes(self, rel_path: str, data: bytes) -> None:
        target = self._path(rel_path)
        tmp = target.with_name(f".{target.name}{_TMP_MARK}{uuid.uuid4().hex}")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise OutputError(f"cannot write {target}: {_os_reason(exc)}") from exc
        _fsync_dir(target.parent)

    def read_bytes(self, rel_path: str) -> bytes:
        path = self._path(rel_path)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise FileNotFoundError(f"no file {path}") from None
        except IsADirectoryError:
            raise FileNotFoundError(f"{path} is a folder, not a file") from None
        except OSError as exc:
            raise OutputError(f"cannot read {path}: {_os_reason(exc)}") from exc

    def exists(self, rel_path: str) -> bool:
        return self._path(rel_path).is_file()

    def list(self, prefix: str = "") -> list[str]:
        base = self._path(prefix, allow_empty=True)
        if not base.is_dir():
            return []
        found: list[str] = []
        for dirpath, _dirs, files in os.walk(base):
            for name in files:
                found.append(Path(dirpath, name).relative_to(self.root).as_posix())
        return sorted(found)

    def delete(self, rel_paths: Iterable[str]) -> None:
        parents: set[Path] = set()
        for rel in rel_paths:
            path = self._path(rel)
            try:
                path.unlink()
            except (FileNotFoundError, NotADirectoryError):  # gone, or could never have existed
                continue
            except OSError as exc:
                raise OutputError(f"cannot delete {path}: {_os_reason(exc)}") from exc
            parents.add(path.parent)
        for parent in parents:
            _fsync_dir(parent)

    def url(self, rel_path: str = "") -> str:
        return str(self._path(rel_path, allow_empty=True))

    def check_writable(self) -> None:
        root = self.root
        if root.exists() and not root.is_dir():
            raise OutputError(f"output folder {root} is a file, not a folder; pass a folder path")
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create output folder {root}: {_os_reason(exc)}") from exc
        probe = root / f"{_PROBE_PREFIX}{uuid.uuid4().hex}"
        try:
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            with contextlib.suppress(OSError):
                probe.unlink()
            raise OutputError(f"output folder {root} is not writable: {_os_reason(exc)}") from exc
