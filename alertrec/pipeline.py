"""``run_day(config) -> report``: the nightly job, the only module that calls both I/O and stages.

read (input check) → extract (Spark SQL, staged per account) → per account, on the local
process pool or Spark's executors: explode → normalize → cluster → features → (one shared
model, trained here on a bounded sample) → the account's model → scores → reasons →
publish (streamed from the staged results) → report. The driver never holds the window:
only the accounting, the per-account summaries and the shared model's sample.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import platform
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from alertrec import schema as S
from alertrec.account import merge_samples, train_shared_model
from alertrec.config import Config
from alertrec.engines import AccountTask, StagingArea, finish_task, prepare_task, result_path, run_local
from alertrec.engines.staging import registry_path
from alertrec.engines.tasks import check_size
from alertrec.errors import AlertrecError
from alertrec.io.engine_errors import one_line, translated_engine_errors
from alertrec.io.extract import stage_extraction
from alertrec.io.inputs import read_inputs
from alertrec.io.lock import LockOwner
from alertrec.io.publish import publish_day, write_json
from alertrec.io.registry import RegistryRead, read_registry, write_registry
from alertrec.io.spark import build_spark
from alertrec.io.storage import Storage, storage_for
from alertrec.monitor import PeakMemory, Timer
from alertrec.parallel import available_cores
from alertrec.report import reconcile
from alertrec.stages.normalize.registry import append_entries, empty_registry, validate_registry

log = logging.getLogger(__name__)


def run_day(config: Config, spark: Any = None, storage: Storage | None = None) -> dict[str, Any]:
    """Run the nightly job for ``config.date`` and publish the day.

    Parameters
    ----------
    config : Config
        Validated settings (input and output roots, the day, window, top-k...).
    spark : pyspark.sql.SparkSession, optional
        An existing session (notebooks, tests, EMR); a local one is built
        from ``config`` otherwise.
    storage : Storage, optional
        The output adapter; chosen from ``config.output_root`` by URL scheme
        when not given.

    Returns
    -------
    dict
        The run report, also written to ``ROOT/runs/<run_id>.json``.

    Raises
    ------
    AlertrecError
        On bad arguments, unreadable input or an unwritable output; nothing
        is published then.
    """
    storage = storage or storage_for(config.output_root)
    storage.check_writable()
    timer = Timer()
    report: dict[str, Any] = {
        "run_id": config.run_id,
        "day": config.date.isoformat(),
        "status": "running",
        "window": {"start": config.window_start.isoformat(), "end": config.window_end.isoformat()},
        "settings": _settings(config),
        "host": platform.node(),
        "report_url": storage.url(report_path(config.run_id)),
    }
    log.info(
        "run %s for day %s: input %s, output %s", config.run_id, config.date, config.input_root, config.output_root
    )
    staging: StagingArea | None = None
    jobs = _SparkJobs()
    with PeakMemory() as peak:
        try:
            with timer.step("registry_read"):  # before the heavy work: a corrupt registry fails fast
                registry = read_registry(storage, validate_registry)
                report["registry"] = registry.report()
            with timer.step("spark_start"):
                spark = spark or build_spark(master=config.spark_master, driver_memory=config.spark_driver_memory)
            jobs.start(spark, config.run_id)
            with timer.step("read"):
                alerts_df, actions_df, inputs = read_inputs(spark, config)
            report["inputs"] = inputs
            staging = StagingArea(_staging_root(config, spark))
            with timer.step("extract"), translated_engine_errors("extracting the sessions"):
                rows_read = _rows_read(inputs)
                staged = stage_extraction(
                    spark,
                    alerts_df,
                    actions_df,
                    config,
                    staging.root,
                    sql_conf=_sql_conf(spark, rows_read),
                    materialize_events=_materialize_events(rows_read),
                )
            report["rows"] = reconcile(staged.accounting, _rows_read(inputs))
            with timer.step("plan"):
                tasks = _plan(staging, config, _stage_registry(staging, registry))
            report["accounts"] = {"count": len(tasks), "largest_rows": max((t.rows for t in tasks), default=0)}
            engine = _Engine(config, spark)
            with timer.step("prepare"):
                prepared = engine.map(prepare_task, tasks)
            with timer.step("shared_model"):
                sample = merge_samples((p.pop("sample") for p in prepared), config.shared_max_lists)
                shared_files = train_shared_model(sample, config)
                shared = {"lists": int(sample["list_id"].nunique()) if len(sample) else 0, "rows": int(len(sample))}
                del sample
            with timer.step("finish"):
                finished = engine.map(finish_task, [_with_shared(t, shared_files) for t in tasks])
            with timer.step("save_model"):
                model = _save_models(storage, shared_files, finished, shared, config.date)
            summary = _stage_summary(config, prepared, finished, model)
            report["sessions"] = summary.pop("sessions")
            summary.setdefault("extract", {})["timings_s"] = staged.timings_s
            report["stages"] = summary
            with timer.step("registry"):
                entries = [p.pop("registry_entries") for p in prepared]
                entries = [e for e in entries if e is not None and len(e)]
                new_forms = pd.concat(entries, ignore_index=True) if entries else empty_registry()
                report["registry"].update(
                    write_registry(
                        storage,
                        lambda newest: append_entries(newest, new_forms),
                        validate_registry,
                        LockOwner.current(config.run_id),
                    )
                )
            with timer.step("publish"):
                result = publish_day(storage, _staged_results(staging, tasks), config.date, config.run_id)
            report["output"] = {"url": result.url, "files": list(result.files), "rows": result.rows}
            report["status"] = "published"
        except AlertrecError as exc:
            report["status"] = "failed"
            report["error"] = str(exc)
            raise
        except Exception as exc:
            report["status"] = "failed"
            report["error"] = one_line(exc)
            raise
        finally:
            if staging is not None:
                with timer.step("cleanup"):
                    staging.remove()
            report["spark_jobs"] = jobs.count()
            report["timings_s"] = dict(timer.seconds)
            report["peak_memory_bytes"] = peak.sample()
            _write_report(storage, report)
    report["peak_memory_bytes"] = peak.peak_bytes
    return report


class _SparkJobs:
    """Counts the Spark jobs of this run (a job group named by the run id)."""

    def __init__(self) -> None:
        self._sc: Any = None
        self._group = ""

    def start(self, spark: Any, run_id: str) -> None:
        self._sc = spark.sparkContext
        self._group = f"alertrec-{run_id}"
        self._sc.setJobGroup(self._group, f"alertrec run {run_id}")

    def count(self) -> int | None:
        if self._sc is None:
            return None
        try:
            return len(self._sc.statusTracker().getJobIdsForGroup(self._group))
        except Exception:  # a stopped context: no count rather than a failed report
            return None


class _Engine:
    """The configured engine: ``local`` (the process pool) or ``spark`` (the executors)."""

    def __init__(self, config: Config, spark: Any) -> None:
        self.config = config
        self.spark = spark
        self.workers = config.workers or available_cores()

    def map(self, func: Any, tasks: list[AccountTask]) -> list[dict[str, Any]]:
        if self.config.engine == "spark":
            from alertrec.engines.spark import run_spark

            return run_spark(self.spark, func, tasks)
        log.info("%s: %d account(s) on %d worker process(es)", func.__name__, len(tasks), self.workers)
        return run_local(func, tasks, self.workers, min_cost=self.config.parallel_min_rows)


def _staging_root(config: Config, spark: Any) -> str:
    """The run's staging folder: the setting, a temp dir for a local master, else under the output."""
    if config.staging_root:
        return f"{config.staging_root.rstrip('/')}/{config.run_id}"
    master = str(spark.sparkContext.master)
    if master.startswith("local"):
        return os.path.join(tempfile.gettempdir(), f"alertrec-staging-{config.run_id}-{uuid.uuid4().hex[:6]}")
    return f"{config.output_root.rstrip('/')}/_staging/{config.run_id}"


#: above this many input rows the judged events are written once to staging (see stage_extraction)
MATERIALIZE_ROWS = 200_000


def _materialize_events(rows: dict[str, int] | None) -> bool:
    """Write the judged events once (large windows, or an unknown size) or keep one plan (small ones)."""
    return rows is None or sum(rows.values()) > MATERIALIZE_ROWS


#: input rows per shuffle partition of a local run's extraction
ROWS_PER_PARTITION = 250_000


def _sql_conf(spark: Any, rows: dict[str, int] | None) -> dict[str, str]:
    """Spark SQL settings sized to the input, for a local master (a cluster keeps its own).

    Adaptive execution splits every shuffle into its own job, which costs more than it
    saves on one machine; the shuffle partitions follow the rows read (2 for a small
    window, up to 4 per core).
    """
    if not str(spark.sparkContext.master).startswith("local"):
        return {}
    total = sum(rows.values()) if rows else 1_000_000
    cores = int(spark.sparkContext.defaultParallelism)
    partitions = max(2, min(4 * cores, total // ROWS_PER_PARTITION + 1))
    return {"spark.sql.adaptive.enabled": "false", "spark.sql.shuffle.partitions": str(partitions)}


def _rows_read(inputs: dict[str, Any]) -> dict[str, int] | None:
    """Rows read per dataset, from the input check's Parquet metadata (no extra scan)."""
    rows = {}
    for name in (S.DATASET_ALERTS, S.DATASET_ACTIONS):
        value = (inputs.get(name) or {}).get("rows")
        if value is None:
            return None
        rows[name] = int(value)
    return rows


def _stage_registry(staging: StagingArea, registry: RegistryRead) -> set[int]:
    """Stage each account's rows of the registry for its task; the accounts that have some."""
    if registry.frame is None or registry.frame.empty:
        return set()
    import io

    staged = set()
    for account_id, rows in registry.frame.groupby(S.ACCOUNT_ID, sort=True):
        buf = io.BytesIO()
        rows.reset_index(drop=True).to_parquet(buf, index=False)
        staging.put(registry_path(int(account_id)), buf.getvalue())
        staged.add(int(account_id))
    return staged


def _plan(staging: StagingArea, config: Config, registered: set[int] | None = None) -> list[AccountTask]:
    """One task per staged account, biggest first; an account over the memory setting stops the run."""
    rows = staging.account_rows()
    registered = registered or set()
    tasks = [
        AccountTask(a, sum(r.values()), staging.root, config, registry_staged=a in registered) for a, r in rows.items()
    ]
    for task in tasks:
        check_size(task)
    return sorted(tasks, key=lambda t: (-t.rows, t.account_id))


def _with_shared(task: AccountTask, shared_files: dict[str, bytes]) -> AccountTask:
    return dataclasses.replace(task, shared_files=shared_files)


def _staged_results(staging: StagingArea, tasks: list[AccountTask]) -> Iterator[pa.Table]:
    """The accounts' staged recommendations, one table at a time, in account order."""
    import io

    for task in sorted(tasks, key=lambda t: t.account_id):
        yield pq.read_table(io.BytesIO(staging.get(result_path(task.account_id))))


def _save_models(
    storage: Storage, shared_files: dict[str, bytes], finished: list[dict[str, Any]], shared: dict[str, int], day: Any
) -> dict[str, Any]:
    """Write the shared model, each account's files and serving folder under ``ROOT/models/``
    (before the day's ``_SUCCESS``)."""
    from alertrec.serving.bundle import serving_prefix

    written = []
    for rel, data in sorted(shared_files.items()):
        storage.write_bytes(f"{S.MODELS_DIR}/{rel}", data)
        written.append(f"{S.MODELS_DIR}/{rel}")
    own = []
    serving_bytes = 0
    for res in sorted(finished, key=lambda r: r["account_id"]):
        files = res.pop("model_files")
        for rel, data in sorted(files.items()):
            storage.write_bytes(f"{S.MODELS_DIR}/{rel}", data)
            written.append(f"{S.MODELS_DIR}/{rel}")
        bundle = res.pop("serving_files", {})
        if bundle:
            prefix = serving_prefix(day, res["account_id"])
            for rel, data in sorted(bundle.items()):
                storage.write_bytes(f"{prefix}/{rel}", data)
                serving_bytes += len(data)
        if res["model"].get("own_model"):
            own.append(res["account_id"])
    shared_version = sorted({rel.split("/")[1] for rel in shared_files})
    return {
        "version": shared_version[0] if shared_version else None,
        "files": written,
        "shared_training": shared,
        "account_models": own,
        "serving": {"bytes": serving_bytes},
    }


def _sum_counts(parts: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, dict):
                out[key] = _sum_counts([out.get(key, {}), value])
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                out[key] = out.get(key, 0) + value
    return out


def _stage_summary(
    config: Config, prepared: list[dict[str, Any]], finished: list[dict[str, Any]], model: dict[str, Any]
) -> dict[str, Any]:
    counts = _sum_counts([p["counts"] for p in prepared])
    timings = _sum_counts(
        [p["timings_s"] for p in prepared]
        + [{k: v for k, v in f["timings_s"].items() if k in ("fit_account", "score")} for f in finished]
    )
    clusters = _sum_counts([{k: v for k, v in f["clusters"].items() if k != "capped"} for f in finished])
    capped = [c for f in finished for c in f["clusters"]["capped"]]
    rows = sum(f["rows"] for f in finished)
    n_sessions = counts.get("sessions", 0)
    return {
        "sessions": {
            "sessions": n_sessions,
            "resolved": counts.get("resolved", 0),
            "by_end_reason": dict(sorted(counts.get("by_end_reason", {}).items())),
            "mean_duration_s": round(counts["duration_sum_s"] / n_sessions, 3) if n_sessions else None,
            "accounts": sum(1 for p in prepared if p["counts"].get("sessions")),
            "alert_definitions": counts.get("alert_definitions", 0),
        },
        "extract": {
            "sessions": counts.get("sessions", 0),
            "items": counts.get("items", 0),
            "fired_definitions": counts.get("fired_definitions", 0),
        },
        "explode": {"items": counts.get("items", 0), "quarantined": counts.get("explode_quarantined", {})},
        "normalize": {k: counts.get(k, 0) for k in ("distinct_items", "distinct_query_texts", "distinct_queries")},
        "cluster": {"engine": config.engine, **clusters, "capped_groups": len(capped), "capped": capped[:50]},
        "rank": {
            "ranker": config.ranker,
            "rows": rows,
            "model_version": model.get("version") or config.ranker,
            "fired_definitions": counts.get("fired_definitions", 0),
            "accounts": sum(1 for f in finished if f["rows"]),
            "definitions_with_rows": sum(f["counts"].get("definitions_with_rows", 0) for f in finished),
            "training_lists": counts.get("training_lists", 0),
        },
        "model": model,
        "worker_timings_s": {k: round(v, 3) for k, v in timings.items()},
    }


def report_path(run_id: str) -> str:
    """Relative path of a run's report under the output root."""
    return f"{S.RUNS_DIR}/{run_id}.json"


def _write_report(storage: Storage, report: dict[str, Any]) -> None:
    try:
        write_json(storage, report_path(report["run_id"]), report)
    except Exception:  # the report must never hide the run's own error
        log.exception("could not write the run report")


def _settings(config: Config) -> dict[str, Any]:
    out = {}
    for key, value in asdict(config).items():
        out[key] = value.isoformat() if hasattr(value, "isoformat") else value
    return out
