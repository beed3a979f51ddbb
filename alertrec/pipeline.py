"""``run_day(config) -> report``: the nightly job, the only module that calls both I/O and stages.

read → extract (sessionize, Spark SQL) → explode → normalize → cluster → rank → publish → report.
"""

from __future__ import annotations

import logging
import platform
from dataclasses import asdict
from typing import Any

import pyarrow as pa

from alertrec import schema as S
from alertrec.config import Config
from alertrec.errors import AlertrecError
from alertrec.io.inputs import read_inputs
from alertrec.io.publish import publish_day, write_json
from alertrec.io.spark import build_spark
from alertrec.io.storage import Storage, storage_for
from alertrec.monitor import PeakMemory, Timer
from alertrec.parallel import ProcessPoolMapper, available_cores
from alertrec.report import cluster_summary, reconcile, recommendation_summary, session_summary
from alertrec.stages.cluster import WORKER_MODULES, ClusterParams, Clusters, cluster_sessions, cluster_sessions_spark
from alertrec.stages.explode import explode_payloads
from alertrec.stages.extract import extract_sessions
from alertrec.stages.normalize import normalize_items
from alertrec.stages.rank import PopularityRanker, Ranker

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
    log.info("run %s for day %s: input %s, output %s", config.run_id, config.date, config.input_root, config.output_root)
    with PeakMemory() as peak:
        try:
            with timer.step("spark_start"):
                spark = spark or build_spark(master=config.spark_master, driver_memory=config.spark_driver_memory)
            with timer.step("read"):
                alerts_df, actions_df, inputs = read_inputs(spark, config)
                # counted independently of the extraction, to check that every row is accounted for
                rows_read = {S.DATASET_ALERTS: alerts_df.count(), S.DATASET_ACTIONS: actions_df.count()}
            report["inputs"] = inputs
            with timer.step("extract"):
                extraction = extract_sessions(spark, alerts_df, actions_df, config, with_payloads=True)
            report["rows"] = reconcile(extraction.accounting, rows_read)
            report["sessions"] = session_summary(extraction.sessions)
            with timer.step("explode"):
                exploded, payload_quarantine = explode_payloads(extraction.items)
            with timer.step("normalize"):
                items = normalize_items(exploded, link_threshold=config.query_link_threshold)
            with timer.step("cluster"):
                clusters = _cluster(spark, extraction.sessions, items, config)
            with timer.step("rank"):
                ranker = make_ranker(config).fit(extraction.sessions, items, extraction.fired, config, clusters=clusters)
                recs = ranker.recommend(extraction.fired)
            with timer.step("save_model"):
                model = save_model(storage, ranker)
            report["stages"] = {
                "extract": {"sessions": len(extraction.sessions), "items": len(extraction.items), "fired_definitions": len(extraction.fired)},
                "explode": {
                    "items": len(exploded),
                    "quarantined": {k: int(v) for k, v in payload_quarantine[S.REASON].value_counts().sort_index().items()},
                },
                "cluster": {"engine": config.engine, **cluster_summary(clusters)},
                "normalize": {
                    "items": len(items),
                    "distinct_items": int(items[[S.ACCOUNT_ID, S.ITEM_TYPE, S.ITEM_ID]].drop_duplicates().shape[0]),
                    "distinct_query_texts": int(items.loc[items[S.ITEM_TYPE] == S.ITEM_QUERY, S.ITEM_KEY].nunique()),
                    "distinct_queries": int(items.loc[items[S.ITEM_TYPE] == S.ITEM_QUERY, S.ITEM_ID].nunique()),
                },
                "rank": {"model_version": ranker.model_version, **recommendation_summary(recs, extraction.fired)},
                "model": model,
            }
            with timer.step("publish"):
                table = pa.Table.from_pandas(recs, schema=S.RECOMMENDATIONS_ARROW, preserve_index=False)
                result = publish_day(storage, table, config.date, config.run_id)
            report["output"] = {"url": result.url, "files": list(result.files), "rows": result.rows}
            report["status"] = "published"
        except AlertrecError as exc:
            report["status"] = "failed"
            report["error"] = str(exc)
            raise
        except Exception as exc:
            report["status"] = "failed"
            report["error"] = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            report["timings_s"] = dict(timer.seconds)
            report["peak_memory_bytes"] = peak.sample()
            _write_report(storage, report)
    report["peak_memory_bytes"] = peak.peak_bytes
    return report


def make_ranker(config: Config) -> Ranker:
    """The ranker the config names; the MXNet one is imported only when used (mxnet is heavy)."""
    if config.ranker == "popularity":
        return PopularityRanker()
    from alertrec.mxnet_ranker import MXNetRanker

    return MXNetRanker()


def save_model(storage: Storage, ranker: Ranker) -> dict[str, Any]:
    """Write a trained ranker's model and encoding files under ``ROOT/models/<scope>/<version>/``."""
    to_files = getattr(ranker, "to_files", None)
    if to_files is None:
        return {"files": []}
    files = to_files()
    for rel, data in sorted(files.items()):
        storage.write_bytes(f"{S.MODELS_DIR}/{rel}", data)
    return {
        "version": getattr(ranker, "version_", None),
        "files": sorted(f"{S.MODELS_DIR}/{rel}" for rel in files),
        "training": getattr(ranker, "training_", {}),
    }


def cluster_params(config: Config) -> ClusterParams:
    """The cluster stage's settings from the run's config."""
    return ClusterParams(
        max_sessions=config.cluster_max_sessions,
        embedding_dim=config.embedding_dim,
        window=config.cluster_window,
        max_clusters=config.cluster_max_clusters,
        min_silhouette=config.cluster_min_silhouette,
    )


def _cluster(spark: Any, sessions: Any, items: Any, config: Config) -> Clusters:
    params = cluster_params(config)
    if config.engine == "spark":
        return cluster_sessions_spark(spark, sessions, items, params)
    workers = config.workers or available_cores()
    log.info("cluster: %d worker process(es)", workers)
    mapper = ProcessPoolMapper(
        workers,
        key=lambda task: f"account {task.account_id}",
        min_cost=config.parallel_min_cost,
        preload=WORKER_MODULES,
    )
    return cluster_sessions(sessions, items, params, mapper=mapper)


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
