"""The lock of an S3 output prefix: a lock object created with a conditional PUT, and a renewed lease.

S3 accepts exactly one of several concurrent ``If-None-Match: *`` creations and
answers ``412 Precondition Failed`` to the others. The holder renews a lease in
a daemon thread (a PUT with ``If-Match`` its last ETag). A stale lock (lease
run out by S3's own clock, or its owner's process gone on this host) is taken
over with a conditional PUT on its ETag. Error codes, retries of cut-off
bodies and error phrases come from :mod:`alertrec.io.aws`; the client is the
output storage's own.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import threading
import time
from typing import Any

from alertrec.errors import OutputError
from alertrec.io import aws
from alertrec.io.lock.base import (
    DEFAULT_HEARTBEAT_S,
    DEFAULT_TTL_S,
    DayLock,
    LockHeldError,
    LockLostError,
    LockOwner,
    _describe,
    _owner_from,
)
from alertrec.io.storage import S3Storage

log = logging.getLogger(__name__)


def _server_now(date_header: str | None) -> dt.datetime:
    """S3's clock from a response's ``Date`` header (this host's clock if it is missing or unreadable)."""
    try:
        now = email.utils.parsedate_to_datetime(date_header) if date_header else None
    except (TypeError, ValueError):
        now = None
    if now is None:
        return dt.datetime.now(dt.UTC)
    return now if now.tzinfo is not None else now.replace(tzinfo=dt.UTC)


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
        self.key = storage.key(rel_path)
        self.ttl_s = float(ttl_s)
        self.heartbeat_s = float(heartbeat_s) if heartbeat_s else min(DEFAULT_HEARTBEAT_S, self.ttl_s / 3)
        self.etag: str | None = None
        self.lost: str | None = None
        self._mutex = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- S3 calls ------------------------------------------------------------
    def _client(self) -> Any:
        return self.storage.client()

    def _body(self) -> bytes:
        return json.dumps(self.owner.document(self.ttl_s), sort_keys=True).encode("utf-8")

    def _put(self, **condition: str) -> str:
        response = self._client().put_object(
            Bucket=self.storage.bucket, Key=self.key, Body=self._body(), ContentType="application/json", **condition
        )
        return str(response["ETag"])

    def _read(self) -> tuple[Any, str, float] | None:
        """(document, etag, age in seconds by S3's clock), or None when there is no lock object."""

        def get() -> tuple[dict[str, Any], bytes]:
            answer = self._client().get_object(Bucket=self.storage.bucket, Key=self.key)
            return answer, answer["Body"].read()

        try:  # botocore retries requests, not a body that broke off while being read
            response, raw = aws.with_retries(
                get, attempts=self.storage.attempts, retryable=aws.is_cut_off_read, what=f"reading the lock {self.url}"
            )
        except Exception as exc:
            if aws.is_not_found(exc):
                return None
            raise OutputError(f"cannot read the lock {self.url}: {aws.describe(exc)}") from exc
        try:
            doc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            doc = None
        modified = response.get("LastModified")
        now = _server_now(response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date"))
        if modified is not None and modified.tzinfo is None:
            modified = modified.replace(tzinfo=dt.UTC)
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
                if aws.is_conflict(exc):  # a concurrent conditional write: look again
                    time.sleep(0.2)
                    continue
                if not aws.is_precondition_failed(exc):
                    raise OutputError(f"cannot create the lock {self.url}: {aws.describe(exc)}") from exc
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
                if aws.is_precondition_failed(exc) or aws.is_conflict(exc) or aws.is_not_found(exc):
                    continue  # someone else changed it first: look again
                raise OutputError(f"cannot take over the lock {self.url}: {aws.describe(exc)}") from exc
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
                if not (aws.is_precondition_failed(exc) or aws.is_not_found(exc)):
                    log.warning("could not renew the lock %s (%s); trying again later", self.url, aws.describe(exc))
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
            raise LockLostError(f"this run lost the lock {self.url} ({self.lost}); stopped before touching the day")

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
                log.warning(
                    "could not release the lock %s (%s); it expires %.0f s after its last renewal",
                    self.url,
                    aws.describe(exc),
                    self.ttl_s,
                )
