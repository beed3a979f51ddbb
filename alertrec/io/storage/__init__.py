"""Storage chosen by URL scheme behind one small interface (papermill's ``iorw`` shape).

Everything above this package (the publish protocol, the run report, the model
store) talks to a :class:`Storage` with paths *relative to the output root*,
separated by ``'/'``; only the adapters know whether the root is a local folder
or an S3 prefix, so ``./warehouse`` and ``s3://bucket/prefix`` go through the
same code path above them.

``base``
    :class:`Storage` (write_bytes, read_bytes, exists, list, delete, url,
    check_writable) and :class:`ForwardingStorage` for wrappers.
``local``
    :class:`LocalStorage`: each file through a temporary file, ``fsync`` and ``os.replace``.
``s3``
    :class:`S3Storage`: one boto3 client made by :mod:`alertrec.io.aws` (endpoint,
    retries, error phrases); single-PUT writes, checked and retried batch deletes.

:func:`storage_for` picks the adapter: no scheme or ``file://`` -> local,
``s3://`` -> S3, anything else -> :class:`~alertrec.errors.OutputError`.
Failures of the store are raised as :class:`~alertrec.errors.OutputError`
with one line that says what is wrong; reading a file that does not exist
raises :class:`FileNotFoundError`.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

from alertrec.errors import OutputError
from alertrec.io.storage.base import ForwardingStorage, Storage
from alertrec.io.storage.local import LocalStorage
from alertrec.io.storage.s3 import S3_ENDPOINT_ENV, S3Storage, s3_endpoint_url

if TYPE_CHECKING:  # pragma: no cover
    import boto3

log = logging.getLogger(__name__)

__all__ = [
    "S3_ENDPOINT_ENV",
    "ForwardingStorage",
    "LocalStorage",
    "S3Storage",
    "Storage",
    "s3_endpoint_url",
    "storage_for",
]


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
