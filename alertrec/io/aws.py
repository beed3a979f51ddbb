"""The one place that knows how alertrec talks to AWS: endpoints, clients, retries, error codes.

Used openly by the S3 storage (:mod:`alertrec.io.storage.s3`), the S3 day lock
(:mod:`alertrec.io.lock.s3`) and the Glue registration (:mod:`alertrec.io.glue`),
so that the three share one reading of every failure and one retry policy.

- **Endpoints.** :func:`endpoint_url` reads ``AWS_ENDPOINT_URL_<SERVICE>``
  (``AWS_ENDPOINT_URL_S3``, ``AWS_ENDPOINT_URL_GLUE``), else
  ``AWS_ENDPOINT_URL`` -- the standard variables, read here and nowhere else --
  and every client is made with that endpoint set explicitly.
- **Clients.** :func:`client` makes a boto3 client on the caller's session
  (boto3's default session when None) with :func:`botocore_config`. Nothing
  process-wide is changed: no awswrangler global config, no environment
  variable, no boto3 default session.
- **Retries.** botocore retries every request (:func:`retry_settings`: mode
  ``standard`` -- exponential backoff with jitter on 5xx, throttling such as
  ``SlowDown``, reset or closed connections and timeouts -- and 8 attempts;
  ``AWS_RETRY_MODE`` / ``AWS_MAX_ATTEMPTS`` override them). What botocore
  cannot retry goes through :func:`with_retries` with the same number of
  attempts and :func:`backoff_s`: a response body cut off while it is read
  (:func:`is_cut_off_read`) and per-key failures of a batch call answered 200
  (:class:`PartialFailure`).
- **Errors.** :func:`error_code` reads a botocore ``ClientError``;
  :func:`is_not_found`, :func:`is_precondition_failed`, :func:`is_conflict`,
  :func:`is_entity_not_found` and :func:`is_already_exists` name the answers
  the callers act on, and :func:`describe` turns any AWS failure into the one
  short phrase of an error line.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypedDict, TypeVar

from alertrec.errors import OutputError

if TYPE_CHECKING:  # pragma: no cover
    import boto3
    from botocore.config import Config as BotocoreConfig

log = logging.getLogger(__name__)

T = TypeVar("T")

#: the generic endpoint variable; ``AWS_ENDPOINT_URL_<SERVICE>`` wins over it
ENDPOINT_ENV = "AWS_ENDPOINT_URL"
#: botocore retry mode and attempts (the first try included) when AWS_RETRY_MODE / AWS_MAX_ATTEMPTS are unset
DEFAULT_RETRY_MODE = "standard"
DEFAULT_MAX_ATTEMPTS = 8
RETRY_MODES = ("standard", "adaptive", "legacy")
#: per-key codes of a batch answer (DeleteObjects) that are worth another try
RETRYABLE_KEY_ERRORS = frozenset(
    {"InternalError", "SlowDown", "ServiceUnavailable", "RequestTimeout", "OperationAborted"}
)


# --------------------------------------------------------------------------
# Endpoints, settings, clients
# --------------------------------------------------------------------------
def endpoint_env(service: str) -> tuple[str, str]:
    """The variables naming ``service``'s endpoint, most specific first
    (``AWS_ENDPOINT_URL_S3``, ``AWS_ENDPOINT_URL``)."""
    return (f"{ENDPOINT_ENV}_{service.upper().replace('-', '_')}", ENDPOINT_ENV)


def endpoint_url(service: str) -> str | None:
    """The endpoint of ``service``: ``AWS_ENDPOINT_URL_<SERVICE>``, else ``AWS_ENDPOINT_URL``, else None.

    Parameters
    ----------
    service : str
        A boto3 service name (``"s3"``, ``"glue"``).

    Returns
    -------
    str or None
        None means AWS's own endpoint.
    """
    for name in endpoint_env(service):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


class RetrySettings(TypedDict):
    """What :func:`retry_settings` returns: botocore's retry mode and tries per request."""

    mode: str
    max_attempts: int


def retry_settings(mode: str | None = None, max_attempts: int | None = None) -> RetrySettings:
    """botocore's ``retries`` setting of every AWS client alertrec makes.

    Parameters
    ----------
    mode : str, optional
        ``standard``, ``adaptive`` or ``legacy``; else ``AWS_RETRY_MODE``; else
        :data:`DEFAULT_RETRY_MODE`.
    max_attempts : int, optional
        Tries per request, the first included; else ``AWS_MAX_ATTEMPTS``; else
        :data:`DEFAULT_MAX_ATTEMPTS`.

    Returns
    -------
    dict
        ``{"mode": ..., "max_attempts": ...}``.

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
    if mode not in RETRY_MODES:
        raise OutputError(f"S3 retry mode must be one of {', '.join(RETRY_MODES)}, got {mode!r}")
    if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
        raise OutputError(f"S3 max attempts must be >= 1, got {max_attempts!r}")
    return {"mode": mode, "max_attempts": max_attempts}


def botocore_config(retries: RetrySettings | None = None) -> BotocoreConfig:
    """The botocore ``Config`` of alertrec's AWS clients: retries, timeouts, a small pool.

    Parameters
    ----------
    retries : dict, optional
        What :func:`retry_settings` returns; its defaults when None.

    Returns
    -------
    botocore.config.Config
    """
    from botocore.config import Config

    settings = dict(retries or retry_settings())
    # botocore's "max_attempts" counts retries; "total_max_attempts" counts tries, as AWS_MAX_ATTEMPTS does
    retry_config = {"mode": settings["mode"], "total_max_attempts": settings["max_attempts"]}
    return Config(
        retries=retry_config,  # type: ignore[arg-type]
        connect_timeout=10,
        read_timeout=60,
        max_pool_connections=10,
        user_agent_extra="alertrec",
    )


def client(
    service: Literal["s3", "glue"], boto3_session: boto3.Session | None = None, retries: RetrySettings | None = None
) -> Any:
    """A boto3 client of ``service`` on ``boto3_session``, with :func:`endpoint_url` and :func:`botocore_config`.

    Parameters
    ----------
    service : str
        ``"s3"``, ``"glue"``, ...
    boto3_session : boto3.Session, optional
        The caller's session (credentials, region); a new default one when None.
    retries : dict, optional
        What :func:`retry_settings` returns.

    Returns
    -------
    botocore.client.BaseClient
    """
    import boto3

    session = boto3_session if boto3_session is not None else boto3.Session()
    return session.client(service, endpoint_url=endpoint_url(service), config=botocore_config(retries))


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------
def error_code(exc: BaseException) -> tuple[str, int | None]:
    """The AWS error code and HTTP status of a botocore ``ClientError`` (``("", None)`` for anything else)."""
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code, status


def is_not_found(exc: BaseException) -> bool:
    """An object (key) that does not exist; a missing bucket is not this."""
    code, status = error_code(exc)
    return code in ("404", "NoSuchKey", "NotFound") or (status == 404 and code != "NoSuchBucket")


def is_precondition_failed(exc: BaseException) -> bool:
    """A conditional request (``If-None-Match`` / ``If-Match``) that S3 refused: 412."""
    code, status = error_code(exc)
    return code == "PreconditionFailed" or status == 412


def is_conflict(exc: BaseException) -> bool:
    """A conditional write that raced another one on the same key: 409."""
    code, status = error_code(exc)
    return code == "ConditionalRequestConflict" or status == 409


def is_entity_not_found(exc: BaseException) -> bool:
    """A Glue database, table or partition that does not exist."""
    return error_code(exc)[0] == "EntityNotFoundException"


def is_already_exists(exc: BaseException) -> bool:
    """A Glue table or partition that exists already."""
    return error_code(exc)[0] == "AlreadyExistsException"


def is_cut_off_read(exc: BaseException) -> bool:
    """A response whose body broke off while being read: botocore retries requests, not these."""
    from botocore.exceptions import IncompleteReadError, ReadTimeoutError, ResponseStreamingError

    return isinstance(exc, (ResponseStreamingError, IncompleteReadError, ReadTimeoutError))


class PartialFailure(Exception):
    """A batch call answered 200 but listed per-key failures (S3's ``DeleteObjects``).

    Parameters
    ----------
    failures : sequence of (str, str)
        ``(key, code)`` of every key that failed.
    """

    def __init__(self, failures: Sequence[tuple[str, str]]) -> None:
        self.failures = list(failures)
        super().__init__(f"{self.code} on {len(self.failures)} object(s)")

    @property
    def code(self) -> str:
        """The code of the first failure (``"error"`` when S3 gave none)."""
        return self.failures[0][1] if self.failures else "error"

    @property
    def retryable(self) -> bool:
        """Whether every failure is one worth another try (:data:`RETRYABLE_KEY_ERRORS`)."""
        return bool(self.failures) and all(code in RETRYABLE_KEY_ERRORS for _key, code in self.failures)


def describe(exc: BaseException) -> str:
    """One short phrase for an AWS failure (botocore, a partial failure or anything else).

    Examples: ``"bucket does not exist"``, ``"access denied"``,
    ``"credentials rejected (ExpiredToken)"``, ``"SlowDown: Please reduce your request rate."``.
    """
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    if isinstance(exc, ClientError):
        code, status = error_code(exc)
        if code == "NoSuchBucket":
            return "bucket does not exist"
        if code in ("AccessDenied", "AllAccessDisabled", "403") or status == 403:
            return "access denied"
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"):
            return f"credentials rejected ({code})"
        message = exc.response.get("Error", {}).get("Message") or ""
        return f"{code or status}: {message}".strip(": ")
    if isinstance(exc, PartialFailure):
        return "access denied" if exc.code == "AccessDenied" else f"{exc.code} on {exc.failures[0][0]}"
    if isinstance(exc, NoCredentialsError):
        return "no AWS credentials found"
    if isinstance(exc, BotoCoreError):
        return str(exc).splitlines()[0]
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# --------------------------------------------------------------------------
# Retries botocore does not make
# --------------------------------------------------------------------------
def backoff_s(attempt: int, base: float = 0.2, cap: float = 5.0) -> float:
    """Full-jitter exponential backoff before retry number ``attempt`` (0-based), in seconds."""
    return random.uniform(0, min(cap, base * (2**attempt)))


def with_retries(
    call: Callable[[], T],
    *,
    attempts: int,
    retryable: Callable[[BaseException], bool],
    what: str,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``call()``, tried up to ``attempts`` times while it fails with an error that ``retryable`` accepts.

    Parameters
    ----------
    call : callable
        No arguments; its result is returned.
    attempts : int
        Tries in all, the first included (``retry_settings()["max_attempts"]``).
    retryable : callable
        Whether a failure is worth another try (e.g. :func:`is_cut_off_read`).
    what : str
        What is being done, for the warning logged before each retry.
    sleep : callable
        Waits :func:`backoff_s` seconds between tries; tests pass their own.

    Returns
    -------
    The result of the first ``call()`` that succeeds.

    Raises
    ------
    Exception
        The last failure, or the first one that is not retryable.
    """
    for attempt in range(attempts):
        try:
            return call()
        except Exception as exc:
            if attempt + 1 >= attempts or not retryable(exc):
                raise
            log.warning("%s failed (%s); retrying", what, describe(exc))
            sleep(backoff_s(attempt))
    raise ValueError(f"attempts must be >= 1, got {attempts}")
