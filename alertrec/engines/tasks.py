"""The two per-account tasks the engines run: read an account's shard, call the pure
per-account function, leave the result in the staging area, return a small summary.

Module-level and picklable (the process pool and Spark's Python workers both import
them). Both engines call exactly these functions, so the published day is the same
whichever runs them.
"""

from __future__ import annotations

import io
import logging
import time
from dataclasses import dataclass, field
from typing import Any, cast

import pyarrow as pa
import pyarrow.parquet as pq

from alertrec import schema as S
from alertrec.account import PreparedAccount, finish_account, prepare_account, sample_lists
from alertrec.config import Config
from alertrec.engines.staging import StagingArea, prepared_path, registry_path, result_path
from alertrec.errors import AlertrecError

log = logging.getLogger(__name__)

#: modules the pool's forkserver imports once, so each worker starts with them loaded
WORKER_MODULES = (
    "numpy",
    "pandas",
    "pyarrow.parquet",
    "scipy.cluster.hierarchy",
    "dtaidistance",
    "rapidfuzz",
    "alertrec.account",
)


class AccountTooLarge(AlertrecError):
    """An account's staged rows exceed ``max_account_rows``; nothing is published."""


@dataclass(frozen=True)
class AccountTask:
    """One account's work in one half of the run.

    Attributes
    ----------
    account_id : int
    rows : int
        Staged rows (sessions + items + fired), from the Parquet footers: the task's cost.
    staging : str
        The staging root.
    config : Config
    shared_files : dict
        The shared model (second half only).
    registry_staged : bool
        The account's rows of the query registry are staged at ``registry_path`` (the
        registry read at the start of the run holds forms of this account).
    """

    account_id: int
    rows: int
    staging: str
    config: Config
    shared_files: dict[str, bytes] = field(default_factory=dict)
    registry_staged: bool = False


def task_key(task: AccountTask) -> str:
    """How errors name a task."""
    return f"account {task.account_id}"


def check_size(task: AccountTask) -> None:
    """Refuse an account bigger than the memory setting, naming it and the setting."""
    limit = task.config.max_account_rows
    if task.rows > limit:
        raise AccountTooLarge(
            f"account {task.account_id} has {task.rows:,} staged rows, more than --max-account-rows "
            f"{limit:,}: raise --max-account-rows (and the workers' memory) to run it; nothing was published"
        )


def prepare_task(task: AccountTask) -> dict[str, Any]:
    """First half: read the shard, :func:`~alertrec.account.prepare_account`, stage the state.

    Returns
    -------
    dict
        ``account_id``, ``counts``, ``timings_s``, ``sample`` (the account's bottom-k
        sample of training lists for the shared model, or None) and ``registry_entries``
        (its new canonical query forms, for the registry).
    """
    t0 = time.perf_counter()
    check_size(task)
    area = StagingArea(task.staging)
    frames = area.read_account(task.account_id)
    registry = None
    if task.registry_staged:
        from alertrec.stages.normalize.registry import validate_registry

        registry = validate_registry(
            pq.read_table(pa.BufferReader(area.get(registry_path(task.account_id)))).to_pandas()
        )
    t_read = time.perf_counter() - t0
    prepared = prepare_account(
        task.account_id, frames["sessions"], frames["items"], frames["fired"], task.config, registry
    )
    sample = sample_lists(prepared.lists, task.config.shared_max_lists, task.config.seed)
    area.put_object(prepared_path(task.account_id), prepared)
    timings = {"read": t_read, **prepared.timings_s}
    return {
        "account_id": task.account_id,
        "counts": prepared.counts,
        "timings_s": timings,
        "sample": sample,
        "registry_entries": prepared.registry_entries,
    }


def finish_task(task: AccountTask) -> dict[str, Any]:
    """Second half: the account's model, scores and reasons; its rows staged as Parquet.

    Returns
    -------
    dict
        ``account_id``, ``rows`` (recommendations), ``model``, ``model_files`` (bytes to
        write under ``ROOT/models/``), ``serving_files`` (the account's serving folder,
        ``ROOT/models/serving/dt=D/account=A/``), ``clusters`` (the account's cluster summary counts),
        ``counts``, ``timings_s``.
    """
    area = StagingArea(task.staging)
    prepared = cast(PreparedAccount, area.get_object(prepared_path(task.account_id)))  # what prepare_task staged
    result = finish_account(prepared, task.config, task.shared_files)
    serving: dict[str, bytes] = {}
    if task.config.serving_bundles:
        from alertrec.serving.bundle import build_serving_files

        t = time.perf_counter()
        serving = build_serving_files(
            task.account_id,
            task.config.date,
            prepared.sessions,
            prepared.items,
            result.clusters,
            result.recommendations,
            {**task.shared_files, **result.model_files},
            task.config,
        )
        result.timings_s["serving_bundle"] = time.perf_counter() - t
    table = pa.Table.from_pandas(result.recommendations, schema=S.RECOMMENDATIONS_ARROW, preserve_index=False)
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    area.put(result_path(task.account_id), buf.getvalue())
    groups = result.clusters.groups
    capped = groups[groups["capped"]] if len(groups) else groups
    return {
        "account_id": task.account_id,
        "rows": int(table.num_rows),
        "model": result.model,
        "model_files": result.model_files,
        "serving_files": serving,
        "clusters": {
            "groups": int(len(groups)),
            "sessions_clustered": int(groups["n_clustered"].sum()) if len(groups) else 0,
            "groups_by_n_clusters": {int(k): int(v) for k, v in groups["n_clusters"].value_counts().items()},
            "capped": [f"{a}/{b}" for a, b in zip(capped[S.ACCOUNT_ID], capped[S.ALERT_ID])],
            "timings_s": dict(result.clusters.timings),
        },
        "counts": result.counts,
        "timings_s": result.timings_s,
    }
