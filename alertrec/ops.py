"""Operations around the nightly job: the lock, the day's input check, Glue, spark-submit.

:func:`run_day_guarded` is what the nightly cron (``alertrec cron``,
``jobs/nightly.py``) and the EMR steps (``jobs/run_day_step.py``) run.  It
calls :func:`alertrec.pipeline.run_day` unchanged and adds, around it:

1. the day's lock (:mod:`alertrec.io.lock`): a second run of the same day is
   refused (:class:`~alertrec.io.lock.LockHeldError`, exit 5) before any work;
2. the day's input check (:func:`check_day_input`): the partitions ``dt=D-1``
   of ``alerts/`` and ``actions/`` -- the last day the run learns from -- must
   exist and hold rows, else :class:`~alertrec.errors.InputError` (exit 3)
   instead of quietly publishing recommendations from stale data;
3. a fence: every write and delete of the run first checks that the lock is
   still held (:class:`LockedStorage`);
4. optional Glue registration (:mod:`alertrec.io.glue`): the day's partition
   is removed from the catalog just before the rerun deletes ``_SUCCESS``
   (step 1 of the publish protocol) and added after ``_SUCCESS`` is written,
   so Athena never sees a day that is being rewritten.

See ``docs/operations.md`` for the exit codes and what a scheduler does with them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from alertrec import schema as S
from alertrec.config import Config
from alertrec.errors import AlertrecError, ConfigError, InputError, OutputError
from alertrec.io.glue import GlueTarget, register_partition, unregister_partition
from alertrec.io.lock import DEFAULT_TTL_S, DayLock, LockOwner, lock_for
from alertrec.io.publish import success_path, write_json
from alertrec.io.storage import ForwardingStorage, LocalStorage, S3Storage, Storage, storage_for

log = logging.getLogger(__name__)

__all__ = [
    "GlueTarget",
    "LockedStorage",
    "Terminated",
    "check_day_input",
    "input_day",
    "run_day_guarded",
    "terminate_on_sigterm",
]


class Terminated(BaseException):
    """SIGTERM arrived (a scheduler or YARN stopping the job); unwinds like KeyboardInterrupt."""


@contextlib.contextmanager
def terminate_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` in the main thread, so ``finally`` blocks (the lock) run."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    except Terminated:
        _stop_children()
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)


def _stop_children(timeout_s: float = 10.0) -> None:
    """Stop this process's children (the Spark JVM, Python workers) before exiting on SIGTERM.

    A JVM whose launch was interrupted never reaches the loop that ends it when
    this process's pipe closes, and would outlive the job.
    """
    import psutil

    try:
        children = psutil.Process().children(recursive=True)
    except psutil.Error:
        return
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.terminate()
    _gone, alive = psutil.wait_procs(children, timeout=timeout_s)
    for child in alive:
        with contextlib.suppress(psutil.Error):
            child.kill()


# --------------------------------------------------------------------------
# The fence
# --------------------------------------------------------------------------
class LockedStorage(ForwardingStorage):
    """A storage whose writes and deletes first check that the run still holds its lock.

    Parameters
    ----------
    inner : Storage
        The output root.
    lock : DayLock, optional
        Checked before every write and delete; None for no check.
    day : datetime.date, optional
        The day being published; with ``before_unpublish``.
    before_unpublish : callable, optional
        Called before ``_SUCCESS`` of ``day`` is deleted (step 1 of the publish
        protocol), e.g. to take the day out of the Glue catalog.
    """

    def __init__(
        self,
        inner: Storage,
        lock: DayLock | None = None,
        day: dt.date | None = None,
        before_unpublish: Callable[[], Any] | None = None,
    ) -> None:
        self.inner = inner
        self.lock = lock
        self.marker = success_path(day) if day is not None else None
        self.before_unpublish = before_unpublish
        self.unpublished = False

    def _fence(self) -> None:
        if self.lock is not None:
            self.lock.check()

    def write_bytes(self, rel_path: str, data: bytes) -> None:
        self._fence()
        self.inner.write_bytes(rel_path, data)

    def delete(self, rel_paths: Iterable[str]) -> None:
        paths = list(rel_paths)
        self._fence()
        if self.marker is not None and self.marker in paths and self.before_unpublish is not None:
            self.before_unpublish()
            self.unpublished = True
        self.inner.delete(paths)


def _unwrap(storage: Storage) -> Storage:
    seen = 0
    inner = getattr(storage, "inner", None)
    while isinstance(inner, Storage) and seen < 10:
        storage = inner
        seen += 1
        inner = getattr(storage, "inner", None)
    return storage


# --------------------------------------------------------------------------
# The day's input
# --------------------------------------------------------------------------
def input_day(config: Config) -> dt.date:
    """The input partition that must be complete for the run of ``config.date``: ``D - 1``.

    The run learns from ``[D - history, D)``; at cron time on ``D`` the
    partition ``dt=D`` is still being written, so the last complete one is
    ``dt=D-1``.
    """
    return config.date - dt.timedelta(days=1)


def _is_data_file(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return bool(base) and not base.startswith(("_", "."))


def _list_data_files(path: str) -> list[str] | None:
    """Data files under ``path`` (a folder or s3:// prefix), or None when only Spark can list it."""
    if "://" not in path or path.startswith("file://"):
        local = path[len("file://") :] if path.startswith("file://") else path
        if not os.path.isdir(local):
            return []
        return sorted(os.path.join(d, f) for d, _dirs, files in os.walk(local) for f in files if _is_data_file(f))
    if path.startswith("s3://"):
        try:
            storage = storage_for(path)
            return [p for p in storage.list("") if _is_data_file(p)]
        except OutputError as exc:
            raise InputError(f"cannot list the day's input {path}: {exc}") from exc
    return None


def check_day_input(config: Config, spark: Any = None) -> dict[str, Any]:
    """Check that the day's input is there: ``alerts/`` and ``actions/`` partitions ``dt=D-1`` hold rows.

    Without ``spark`` only existence is checked (local folders and s3://
    prefixes are listed directly, other schemes are left to Spark); with it,
    the partitions must also hold at least one row.

    Parameters
    ----------
    config : Config
        ``input_root`` and ``date``.
    spark : pyspark.sql.SparkSession, optional

    Returns
    -------
    dict
        ``{"day": "D-1", "alerts": {"path": ..., "files": n}, "actions": {...}}``.

    Raises
    ------
    InputError
        One line naming the missing or empty partition (exit code 3).
    """
    day = input_day(config).isoformat()
    root = config.input_root.rstrip("/") or config.input_root
    found: dict[str, Any] = {"day": day}
    hint = "check that the upstream export for that day ran, or pass --no-input-check to run anyway"
    for dataset in (S.DATASET_ACTIONS, S.DATASET_ALERTS):
        path = f"{root}/{dataset}/{S.DT}={day}"
        files = _list_data_files(path)
        if files is not None and not files:
            raise InputError(
                f"the day's input is missing: no {dataset} partition {path} "
                f"(the run for {config.date} learns up to the end of {day}); {hint}"
            )
        if spark is not None:
            from alertrec.io.spark import has_rows

            rows = has_rows(spark, path)
            if rows is None:
                raise InputError(f"the day's input is missing: no {dataset} partition {path}; {hint}")
            if not rows:
                raise InputError(f"the day's input is empty: {dataset} partition {path} holds no rows; {hint}")
        found[dataset] = {"path": path, "files": None if files is None else len(files)}
    return found


# --------------------------------------------------------------------------
# The guarded run
# --------------------------------------------------------------------------
def run_day_guarded(
    config: Config,
    *,
    spark: Any = None,
    storage: Storage | None = None,
    lock: bool = True,
    lock_ttl_s: float = DEFAULT_TTL_S,
    check_input: bool = True,
    glue: GlueTarget | None = None,
) -> dict[str, Any]:
    """Run :func:`alertrec.pipeline.run_day` under the day's lock, after the input check, then register in Glue.

    Parameters
    ----------
    config : Config
    spark : pyspark.sql.SparkSession, optional
        An existing session; built from ``config`` when needed otherwise.
    storage : Storage, optional
        The output root; from ``config.output_root`` otherwise.
    lock : bool
        Take the day's lock (refuse if another run holds it).
    lock_ttl_s : float
        Lease of an S3 lock (renewed while the run lasts).
    check_input : bool
        Refuse when the day's input (``dt=D-1``) is missing or empty.
    glue : GlueTarget, optional
        Register the published day in this Glue table (S3 output only).

    Returns
    -------
    dict
        The run report, plus ``input_check``, ``lock`` and ``glue`` entries.

    Raises
    ------
    AlertrecError
        ``ConfigError`` (2), ``InputError`` (3), ``OutputError``/``PublishError`` (4),
        ``LockHeldError``/``LockLostError`` (5).
    """
    from alertrec import pipeline

    storage = storage or storage_for(config.output_root)
    base = _unwrap(storage)
    if glue is not None and not isinstance(base, S3Storage):
        raise ConfigError(f"--glue-database/--glue-table need an s3:// --output (Athena reads S3), got {storage.url()}")
    # the Glue table and the S3 root its partitions point at (None: no Glue)
    glue_at = (glue, base) if glue is not None and isinstance(base, S3Storage) else None
    if lock and not isinstance(base, (LocalStorage, S3Storage)):
        raise ConfigError(f"no lock is available for {storage.url()}; pass --no-lock")
    storage.check_writable()
    day_lock: DayLock | None = None
    if lock:
        day_lock = lock_for(storage, config.date, LockOwner.current(config.run_id), ttl_s=lock_ttl_s)
        day_lock.acquire()
    guarded: LockedStorage | None = None
    try:
        input_check = None
        if check_input:
            check_day_input(config)  # listing only: a missing day fails before Spark starts
            if spark is None:
                from alertrec.io.spark import build_spark

                spark = build_spark(master=config.spark_master, driver_memory=config.spark_driver_memory)
            input_check = check_day_input(config, spark)
            log.info("the day's input is there: alerts and actions of %s", input_check["day"])
        before_unpublish = None
        if glue_at is not None:
            before_unpublish = functools.partial(unregister_partition, *glue_at, config.date)
        guarded = LockedStorage(storage, lock=day_lock, day=config.date, before_unpublish=before_unpublish)
        try:
            report = pipeline.run_day(config, spark=spark, storage=guarded)
        except BaseException:
            if glue_at is not None and guarded.unpublished:
                _restore_glue(*glue_at, config.date)
            raise
        extras: dict[str, Any] = {}
        if input_check is not None:
            extras["input_check"] = input_check
        if day_lock is not None:
            extras["lock"] = {"url": day_lock.url}
        if glue_at is not None:
            try:
                extras["glue"] = register_partition(*glue_at, config.date)
            except OutputError as exc:
                raise OutputError(
                    f"{config.date} is published at {report.get('output', {}).get('url')} but not in Glue: {exc}; "
                    "run the day again to register it"
                ) from exc
        if extras:
            report.update(extras)
            try:
                write_json(guarded, pipeline.report_path(config.run_id), report)
            except AlertrecError:
                log.warning("could not add %s to the run report", ", ".join(extras), exc_info=True)
        return report
    finally:
        if day_lock is not None:
            day_lock.release()


def _restore_glue(glue: GlueTarget, storage: S3Storage, day: dt.date) -> None:
    """After a failed run: put the day back in Glue if it is still published (step 1 never completed)."""
    try:
        if storage.exists(success_path(day)):
            register_partition(glue, storage, day)
    except Exception:
        log.warning("could not restore %s=%s in Glue table %s", S.DT, day, glue, exc_info=True)
