"""Objects under ``s3://bucket/prefix``: one boto3 client, made by :mod:`alertrec.io.aws`.

- Each file is written with one ``PutObject``, which S3 applies whole or not
  at all (not ``wr.s3.upload``: it writes nothing for zero bytes, and after a
  failed PUT its writer retries the PUT from ``__del__`` at garbage collection
  and prints a traceback -- aws/aws-sdk-pandas#2973 -- which would break the
  one-line error rule and could land a file after the run reported the
  failure).
- Reads are one ``GetObject``; a body that breaks off while it is read is read
  again (:func:`alertrec.io.aws.with_retries`), since botocore retries
  requests, not bodies.
- Deletes are one ``DeleteObjects`` per 1000 keys whose per-key errors are
  checked and retried (S3 answers 200 and lists the keys it could not delete;
  awswrangler's ``delete_objects`` silently drops per-key ``InternalError``\\ s,
  which would leave a stale file in a published day).
- Listing is ``ListObjectsV2`` page by page; existence is ``HeadObject``.

The endpoint (``AWS_ENDPOINT_URL_S3``, else ``AWS_ENDPOINT_URL``) and the
retries (:func:`alertrec.io.aws.retry_settings`) are set on this storage's own
client; nothing process-wide (awswrangler's global config included) is
touched. awswrangler is used where it does more than wrap a call:
:meth:`S3Storage.read_parquet_frame` reads a published day's files back into
pandas for a notebook, with this storage's session.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from alertrec.errors import OutputError
from alertrec.io import aws
from alertrec.io.storage.base import _PROBE_PREFIX, Storage, _check_rel

if TYPE_CHECKING:  # pragma: no cover
    import boto3
    import pandas as pd

log = logging.getLogger(__name__)

#: environment variables that name the S3 endpoint, most specific first
S3_ENDPOINT_ENV = aws.endpoint_env("s3")
_DELETE_BATCH = 1000  # S3's limit of keys per DeleteObjects


def s3_endpoint_url() -> str | None:
    """The S3 endpoint to use: ``AWS_ENDPOINT_URL_S3``, else ``AWS_ENDPOINT_URL``, else None (AWS's own)."""
    return aws.endpoint_url("s3")


class S3Storage(Storage):
    """Objects under ``s3://bucket/prefix``.

    Parameters
    ----------
    url : str
        ``s3://bucket`` or ``s3://bucket/prefix``.
    boto3_session : boto3.Session, optional
        The AWS session every call uses; None for a new default session.
        Tests pass their own.
    retry_mode, max_attempts : optional
        botocore's retry mode and attempts; see :func:`alertrec.io.aws.retry_settings`.
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
        self.retries = aws.retry_settings(retry_mode, max_attempts)
        self._s3_client: Any = None

    # -- helpers ---------------------------------------------------------------
    @property
    def attempts(self) -> int:
        """Tries per call, the first included (the retries' ``max_attempts``)."""
        return int(self.retries["max_attempts"])

    def client(self) -> Any:
        """This storage's boto3 S3 client (its session, endpoint and retries); made on first use."""
        if self._s3_client is None:
            import boto3

            session = self.boto3_session if self.boto3_session is not None else boto3.Session()
            self._s3_client = session.client(
                "s3", endpoint_url=self.endpoint_url, config=aws.botocore_config(self.retries)
            )
        return self._s3_client

    def key(self, rel_path: str, *, allow_empty: bool = False) -> str:
        """The object key of ``rel_path`` (the prefix joined with it)."""
        rel = _check_rel(rel_path, allow_empty=allow_empty)
        return "/".join(p for p in (self.prefix, rel) if p)

    def _s3(self, rel_path: str, *, allow_empty: bool = False) -> str:
        return f"s3://{self.bucket}/{self.key(rel_path, allow_empty=allow_empty)}"

    # -- Storage ----------------------------------------------------------------
    def write_bytes(self, rel_path: str, data: bytes) -> None:
        path = self._s3(rel_path)
        try:
            # one PUT: S3 stores the object whole or not at all (files here stay far below 5 GB)
            self.client().put_object(Bucket=self.bucket, Key=self.key(rel_path), Body=bytes(data))
        except Exception as exc:
            raise OutputError(f"cannot write {path}: {aws.describe(exc)}") from exc

    def read_bytes(self, rel_path: str) -> bytes:
        path = self._s3(rel_path)

        def get() -> bytes:
            response = self.client().get_object(Bucket=self.bucket, Key=self.key(rel_path))
            return bytes(response["Body"].read())

        try:
            return aws.with_retries(get, attempts=self.attempts, retryable=aws.is_cut_off_read, what=f"reading {path}")
        except Exception as exc:
            if aws.is_not_found(exc):
                raise FileNotFoundError(f"no object {path}") from None
            raise OutputError(f"cannot read {path}: {aws.describe(exc)}") from exc

    def exists(self, rel_path: str) -> bool:
        path = self._s3(rel_path)
        try:
            self.client().head_object(Bucket=self.bucket, Key=self.key(rel_path))
        except Exception as exc:
            if aws.is_not_found(exc):
                return False
            raise OutputError(f"cannot look up {path}: {aws.describe(exc)}") from exc
        return True

    def list(self, prefix: str = "") -> list[str]:
        key = self.key(prefix, allow_empty=True)
        folder = f"{key}/" if key else ""
        root = f"{self.prefix}/" if self.prefix else ""
        found: list[str] = []
        try:
            pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=folder)
            for page in pages:
                found.extend(str(obj["Key"]) for obj in page.get("Contents", []))
        except Exception as exc:
            raise OutputError(f"cannot list s3://{self.bucket}/{folder}: {aws.describe(exc)}") from exc
        return sorted(k[len(root) :] for k in found if k.startswith(root) and not k.endswith("/"))

    def delete(self, rel_paths: Iterable[str]) -> None:
        if isinstance(rel_paths, str):  # a single str would be iterated character by character
            raise TypeError("delete takes a list of relative paths, not one str")
        pending = list(dict.fromkeys(self.key(rel) for rel in rel_paths))
        where = f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

        def delete_pending() -> None:
            failed: list[tuple[str, str]] = []
            for start in range(0, len(pending), _DELETE_BATCH):
                batch = pending[start : start + _DELETE_BATCH]
                response = self.client().delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
                )
                failed += [(str(e.get("Key")), str(e.get("Code", ""))) for e in response.get("Errors", [])]
            # S3 answers 200 to DeleteObjects and lists per-key failures; botocore does not retry those
            pending[:] = [k for k, _code in failed]
            if failed:
                raise aws.PartialFailure(failed)

        if not pending:
            return
        try:
            aws.with_retries(
                delete_pending,
                attempts=self.attempts,
                retryable=lambda exc: isinstance(exc, aws.PartialFailure) and exc.retryable,
                what=f"deleting {len(pending)} object(s) under {where}",
            )
        except aws.PartialFailure as exc:
            if exc.retryable:
                raise OutputError(
                    f"cannot delete under {where}: {exc.code} on {len(exc.failures)} object(s) "
                    f"after {self.attempts} attempts"
                ) from exc
            raise OutputError(f"cannot delete under {where}: {aws.describe(exc)}") from exc
        except Exception as exc:
            raise OutputError(f"cannot delete under {where}: {aws.describe(exc)}") from exc

    def url(self, rel_path: str = "") -> str:
        key = self.key(rel_path, allow_empty=True)
        return f"s3://{self.bucket}/{key}" if key else f"s3://{self.bucket}"

    def check_writable(self) -> None:
        probe = f"{_PROBE_PREFIX}{uuid.uuid4().hex}"
        try:
            self.client().put_object(Bucket=self.bucket, Key=self.key(probe), Body=b"")
            self.client().delete_object(Bucket=self.bucket, Key=self.key(probe))
        except Exception as exc:
            raise OutputError(f"output {self.url()} is not writable: {aws.describe(exc)}") from exc

    # -- notebooks ----------------------------------------------------------------
    def read_parquet_frame(self, rel_paths: Iterable[str]) -> pd.DataFrame:
        """The Parquet files at ``rel_paths`` as one pandas frame, read by awswrangler.

        For notebooks that read a published day back (pass the files its
        ``_SUCCESS`` manifest lists). awswrangler gets this storage's boto3
        session; its S3 client finds the endpoint from the same
        ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` variables (boto3's own
        endpoint resolution), and its global config is left as it is.

        Parameters
        ----------
        rel_paths : iterable of str
            Files relative to the root.

        Returns
        -------
        pandas.DataFrame

        Raises
        ------
        OutputError
            A file cannot be read (one line).
        """
        import awswrangler as wr
        import boto3

        paths = [self._s3(rel) for rel in rel_paths]
        session = self.boto3_session if self.boto3_session is not None else boto3.Session()
        try:
            return wr.s3.read_parquet(path=paths, boto3_session=session, use_threads=False)
        except Exception as exc:
            raise OutputError(
                f"cannot read {len(paths)} Parquet file(s) under {self.url()}: {aws.describe(exc)}"
            ) from exc
