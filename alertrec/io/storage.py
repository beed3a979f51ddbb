"""Storage chosen by URL scheme behind one small interface.

Everything above this module (the publish protocol, the run report, the model
store) talks to a :class:`Storage` with paths *relative to the output root*,
separated by ``'/'``; only the adapters here know whether the root is a local
folder or an S3 prefix.  ``./warehouse`` and ``s3://bucket/prefix`` therefore
go through the same code path above the adapter (papermill's ``iorw`` shape).

- :class:`LocalStorage` writes each file through a temporary file in the same
  folder, ``fsync`` and ``os.replace``, so a single file is never seen
  half-written, and ``fsync``\\ s the folder after renames and deletes.
- :class:`S3Storage` uses awswrangler's verbs (``download``, ``list_objects``,
  ``does_object_exist``) and writes each file with one boto3 ``put_object``,
  which S3 applies whole or not at all.  Deletes are one boto3
  ``delete_objects`` per 1000 keys whose per-key errors are checked and
  retried (awswrangler's ``delete_objects`` silently drops per-key
  ``InternalError``\\ s, which would leave a stale file in a published day).  (Not
  ``wr.s3.upload``: it writes nothing for zero bytes, and after a failed PUT
  its writer retries the PUT from ``__del__`` at garbage collection and prints
  a traceback -- aws/aws-sdk-pandas#2973 -- which would break the one-line
  error rule and could land a file after the run reported the failure.)
  The endpoint comes from ``AWS_ENDPOINT_URL_S3``, else ``AWS_ENDPOINT_URL``
  (read in :func:`s3_endpoint_url`, nowhere else) and is set explicitly on
  both awswrangler's config and the boto3 client.
- Every S3 call is retried by botocore (:func:`s3_retry_settings`: mode
  ``standard`` -- exponential backoff with jitter on 5xx, throttling such as
  ``SlowDown``, reset or closed connections and timeouts -- and 8 attempts;
  ``AWS_RETRY_MODE`` / ``AWS_MAX_ATTEMPTS`` override them).  What botocore
  cannot retry is retried here: a response body cut off while it is read
  (:meth:`S3Storage.read_bytes`) and per-key failures of a batch delete.
- :func:`storage_for` picks the adapter: no scheme or ``file://`` -> local,
  ``s3://`` -> S3, anything else -> :class:`~alertrec.errors.OutputError`.

Failures of the store are raised as :class:`~alertrec.errors.OutputError`
with one line that says what is wrong; reading a file that does not exist
raises :class:`FileNotFoundError`.
"""

from __future__ import annotations

import abc
import contextlib
import errno
import io
import logging
import os
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Iterable
from urllib.parse import unquote, urlparse

from alertrec.errors import OutputError

if TYPE_CHECKING:  # pragma: no cover
    import boto3

_logger = logging.getLogger(__name__)

#: environment variables that name the S3 endpoint, most specific first
S3_ENDPOINT_ENV = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
#: botocore retry mode and attempts (the first try included) when AWS_RETRY_MODE / AWS_MAX_ATTEMPTS are unset
DEFAULT_RETRY_MODE = "standard"
DEFAULT_MAX_ATTEMPTS = 8
_RETRY_MODES = ("standard", "adaptive", "legacy")
#: per-key codes of a DeleteObjects response that are worth another try
_RETRYABLE_KEY_ERRORS = frozenset({"InternalError", "SlowDown", "ServiceUnavailable", "RequestTimeout", "OperationAborted"})
_DELETE_BATCH = 1000  # S3's limit of keys per DeleteObjects

_PROBE_PREFIX = ".alertrec-write-probe-"
_TMP_MARK = ".tmp-"


def s3_endpoint_url() -> str | None:
    """The S3 endpoint to use: ``AWS_ENDPOINT_URL_S3``, else ``AWS_ENDPOINT_URL``, else None.

    The one place that reads these variables; None means AWS's own endpoint.
    """
    for name in S3_ENDPOINT_ENV:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def s3_retry_settings(mode: str | None = None, max_attempts: int | None = None) -> dict[str, object]:
    """botocore's ``retries`` setting of every S3 client alertrec makes.

    ``mode`` and ``max_attempts`` win when given; else ``AWS_RETRY_MODE`` and
    ``AWS_MAX_ATTEMPTS`` (the standard AWS variables, read here and nowhere
    else); else :data:`DEFAULT_RETRY_MODE` with :data:`DEFAULT_MAX_ATTEMPTS`.

    Raises
    ------
    OutputError
        An unknown mode or a number of attempts below 1.
    """
    if mode is None:
        mode = os.environ.get("AWS_RETRY_MODE", "").strip() or DEFAULT_RETRY_MODE
    if max_attempts is None:
        text = os.environ.get("AWS_MAX_ATTEMPTS", "").strip()
        try:
            max_attempts = int(text) if text else DEFAULT_MAX_ATTEMPTS
        except ValueError:
            raise OutputError(f"AWS_MAX_ATTEMPTS must be a whole number, got {text!r}") from None
    if mode not in _RETRY_MODES:
        raise OutputError(f"S3 retry mode must be one of {', '.join(_RETRY_MODES)}, got {mode!r}")
    if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
        raise OutputError(f"S3 max attempts must be >= 1, got {max_attempts!r}")
    return {"mode": mode, "max_attempts": max_attempts}


def botocore_config(retries: dict[str, object] | None = None):  # noqa: ANN201 - botocore.config.Config
    """The botocore ``Config`` of alertrec's AWS clients: retries, timeouts, a small pool."""
    from botocore.config import Config

    settings = dict(retries or s3_retry_settings())
    # botocore's "max_attempts" counts retries; "total_max_attempts" counts tries, as AWS_MAX_ATTEMPTS does
    retry_config = {"mode": settings["mode"], "total_max_attempts": settings["max_attempts"]}
    return Config(
        retries=retry_config,  # type: ignore[arg-type]
        connect_timeout=10,
        read_timeout=60,
        max_pool_connections=10,
        user_agent_extra="alertrec",
    )


def _backoff_s(attempt: int, base: float = 0.2, cap: float = 5.0) -> float:
    """Full-jitter exponential backoff before retry number ``attempt`` (0-based)."""
    import random

    return random.uniform(0, min(cap, base * (2**attempt)))


def _is_cut_off_read(exc: BaseException) -> bool:
    """A response whose body broke off while being read: botocore retries requests, not these."""
    from botocore.exceptions import IncompleteReadError, ReadTimeoutError, ResponseStreamingError

    return isinstance(exc, (ResponseStreamingError, IncompleteReadError, ReadTimeoutError))


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


# --------------------------------------------------------------------------
# Local folder
# --------------------------------------------------------------------------
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


# --------------------------------------------------------------------------
# S3 (through awswrangler)
# --------------------------------------------------------------------------
def _s3_reason(exc: BaseException) -> str:
    """One short phrase for a botocore/awswrangler failure."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "NoSuchBucket":
            return "bucket does not exist"
        if code in ("AccessDenied", "AllAccessDisabled", "403") or status == 403:
            return "access denied"
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"):
            return f"credentials rejected ({code})"
        message = exc.response.get("Error", {}).get("Message") or ""
        return f"{code or status}: {message}".strip(": ")
    errors = exc.args[0] if exc.args else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict) and "Code" in errors[0]:
        # awswrangler's ServiceApiError: per-key errors of a DeleteObjects call
        code = str(errors[0]["Code"])
        return "access denied" if code == "AccessDenied" else f"{code} on {len(errors)} object(s)"
    if isinstance(exc, NoCredentialsError):
        return "no AWS credentials found"
    if isinstance(exc, BotoCoreError):
        return str(exc).splitlines()[0]
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _is_not_found(exc: BaseException) -> bool:
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return code in ("404", "NoSuchKey", "NotFound") or (status == 404 and code != "NoSuchBucket")
    return False


class S3Storage(Storage):
    """Objects under ``s3://bucket/prefix``, through awswrangler.

    Parameters
    ----------
    url
        ``s3://bucket`` or ``s3://bucket/prefix``.
    boto3_session
        The AWS session every call uses; None for boto3's default session.
        Tests pass their own.
    retry_mode, max_attempts
        botocore's retry mode and attempts; see :func:`s3_retry_settings`.
    """

    def __init__(
        self,
        url: str,
        boto3_session: boto3.Session | None = None,
        *,
        retry_mode: str | None = None,
        max_attempts: int | None = None,
    ) -> None:
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise OutputError(f"not an S3 URL with a bucket: {url!r}; use s3://bucket/prefix")
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        self.boto3_session = boto3_session
        self.endpoint_url = s3_endpoint_url()
        self.retries = s3_retry_settings(retry_mode, max_attempts)
        self._s3_client = None

    # -- helpers ---------------------------------------------------------------
    def _wr(self):  # noqa: ANN202 - the awswrangler module
        """awswrangler, with its S3 endpoint set from this storage's endpoint."""
        import awswrangler as wr

        if self.endpoint_url:
            wr.config.s3_endpoint_url = self.endpoint_url
        elif wr.config.s3_endpoint_url is not None:
            wr.config.reset("s3_endpoint_url")  # back to WR_S3_ENDPOINT_URL / AWS's own
        wr.config.botocore_config = botocore_config(self.retries)  # the same retries as our own client
        return wr

    def _client(self):  # noqa: ANN202 - a boto3 S3 client
        """A boto3 S3 client on this storage's session and endpoint, for single-PUT writes."""
        if self._s3_client is None:
            import boto3

            session = self.boto3_session if self.boto3_session is not None else boto3.Session()
            self._s3_client = session.client(
                "s3", endpoint_url=self.endpoint_url, config=botocore_config(self.retries)
            )
        return self._s3_client

    def _key(self, rel_path: str, *, allow_empty: bool = False) -> str:
        rel = _check_rel(rel_path, allow_empty=allow_empty)
        return "/".join(p for p in (self.prefix, rel) if p)

    def _s3(self, rel_path: str, *, allow_empty: bool = False) -> str:
        return f"s3://{self.bucket}/{self._key(rel_path, allow_empty=allow_empty)}"

    # -- Storage ----------------------------------------------------------------
    def write_bytes(self, rel_path: str, data: bytes) -> None:
        path = self._s3(rel_path)
        try:
            # one PUT: S3 stores the object whole or not at all (files here stay far below 5 GB)
            self._client().put_object(Bucket=self.bucket, Key=self._key(rel_path), Body=bytes(data))
        except Exception as exc:
            raise OutputError(f"cannot write {path}: {_s3_reason(exc)}") from exc

    def read_bytes(self, rel_path: str) -> bytes:
        path = self._s3(rel_path)
        attempts = int(self.retries["max_attempts"])  # type: ignore[call-overload]
        for attempt in range(attempts):
            buf = io.BytesIO()
            try:
                self._wr().s3.download(path=path, local_file=buf, use_threads=False, boto3_session=self.boto3_session)
                return buf.getvalue()
            except Exception as exc:
                if _is_not_found(exc):
                    raise FileNotFoundError(f"no object {path}") from None
                if attempt + 1 < attempts and _is_cut_off_read(exc):
                    # botocore retries a failed request, not a body that broke off while being read
                    _logger.warning("reading %s broke off (%s); retrying", path, _s3_reason(exc))
                    time.sleep(_backoff_s(attempt))
                    continue
                raise OutputError(f"cannot read {path}: {_s3_reason(exc)}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def exists(self, rel_path: str) -> bool:
        path = self._s3(rel_path)
        try:
            return bool(self._wr().s3.does_object_exist(path=path, boto3_session=self.boto3_session))
        except Exception as exc:
            raise OutputError(f"cannot look up {path}: {_s3_reason(exc)}") from exc

    def list(self, prefix: str = "") -> list[str]:
        key = self._key(prefix, allow_empty=True)
        folder = f"s3://{self.bucket}/{key}/" if key else f"s3://{self.bucket}/"
        try:
            paths = self._wr().s3.list_objects(path=folder, boto3_session=self.boto3_session)
        except Exception as exc:
            raise OutputError(f"cannot list {folder}: {_s3_reason(exc)}") from exc
        root = f"s3://{self.bucket}/{self.prefix}/" if self.prefix else f"s3://{self.bucket}/"
        rels = [p[len(root):] for p in paths if p.startswith(root) and not p.endswith("/")]
        return sorted(rels)

    def delete(self, rel_paths: Iterable[str]) -> None:
        if isinstance(rel_paths, str):  # a single str would be iterated character by character
            raise TypeError("delete takes a list of relative paths, not one str")
        pending = list(dict.fromkeys(self._key(rel) for rel in rel_paths))
        where = f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"
        attempts = int(self.retries["max_attempts"])  # type: ignore[call-overload]
        for attempt in range(attempts):
            if not pending:
                return
            failed: list[tuple[str, str]] = []
            for start in range(0, len(pending), _DELETE_BATCH):
                batch = pending[start:start + _DELETE_BATCH]
                try:
                    response = self._client().delete_objects(
                        Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
                    )
                except Exception as exc:
                    raise OutputError(f"cannot delete under {where}: {_s3_reason(exc)}") from exc
                for error in response.get("Errors", []):
                    code = str(error.get("Code", ""))
                    if code not in _RETRYABLE_KEY_ERRORS:
                        reason = "access denied" if code == "AccessDenied" else f"{code or 'error'} on {error.get('Key')}"
                        raise OutputError(f"cannot delete under {where}: {reason}")
                    failed.append((str(error["Key"]), code))
            pending = [key for key, _code in failed]
            if pending and attempt + 1 < attempts:
                # S3 answers 200 to DeleteObjects and lists per-key failures; botocore does not retry those
                _logger.warning("deleting %d object(s) under %s failed (%s); retrying", len(pending), where, failed[0][1])
                time.sleep(_backoff_s(attempt))
        if pending:
            raise OutputError(
                f"cannot delete under {where}: {failed[0][1]} on {len(pending)} object(s) after {attempts} attempts"
            )

    def url(self, rel_path: str = "") -> str:
        key = self._key(rel_path, allow_empty=True)
        return f"s3://{self.bucket}/{key}" if key else f"s3://{self.bucket}"

    def check_writable(self) -> None:
        probe = f"{_PROBE_PREFIX}{uuid.uuid4().hex}"
        try:
            self._client().put_object(Bucket=self.bucket, Key=self._key(probe), Body=b"")
            self._client().delete_object(Bucket=self.bucket, Key=self._key(probe))
        except Exception as exc:
            raise OutputError(f"output {self.url()} is not writable: {_s3_reason(exc)}") from exc


# --------------------------------------------------------------------------
# Choosing by scheme
# --------------------------------------------------------------------------
def storage_for(url: str | os.PathLike[str], boto3_session: boto3.Session | None = None) -> Storage:
    """The storage for ``url``: a folder (no scheme or ``file://``) or ``s3://bucket/prefix``.

    Raises OutputError for any other scheme.  ``boto3_session`` is used by S3 only.
    """
    if isinstance(url, os.PathLike):
        return LocalStorage(url)
    text = str(url).strip()
    if not text:
        raise OutputError("output location is empty; pass a folder or s3://bucket/prefix")
    parsed = urlparse(text)
    scheme = parsed.scheme.lower()
    # a Windows drive letter ("C:\\out") parses as a one-letter scheme
    if scheme == "" or (len(scheme) == 1 and os.name == "nt"):
        return LocalStorage(text)
    if scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise OutputError(f"file URL with a remote host is not supported: {text}")
        return LocalStorage(unquote(parsed.path))
    if scheme == "s3":
        return S3Storage(text, boto3_session=boto3_session)
    raise OutputError(f"unsupported output scheme {scheme!r} in {text}; use a folder or s3://bucket/prefix")
