"""One frozen configuration object, validated once, passed explicitly.

Nothing below the CLI reads the environment or the clock for settings: the
CLI (or a notebook) builds a :class:`Config` and hands it down.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from alertrec.errors import ConfigError

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: default bound of the local copy of s3:// input
DEFAULT_INPUT_CACHE_BYTES = 20 * 1024**3


def parse_date(text: str) -> dt.date:
    """Parse a contract day ``YYYY-MM-DD``.

    Parameters
    ----------
    text : str
        The day as given on the command line.

    Returns
    -------
    datetime.date

    Raises
    ------
    ConfigError
        If ``text`` is not a valid calendar day in that exact format.
    """
    if not isinstance(text, str) or not _DATE_RE.match(text):
        raise ConfigError(f"--date must be a day as YYYY-MM-DD, got {text!r}")
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(f"--date {text!r} is not a calendar day ({exc})") from None


def new_run_id(now: dt.datetime) -> str:
    """A sortable, unique run id: UTC time of the start plus a random suffix."""
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]


@dataclass(frozen=True)
class Config:
    """Settings of one nightly run.

    Parameters
    ----------
    input_root : str
        Folder or object-store prefix holding ``alerts/`` and ``actions/``.
    output_root : str
        Folder or ``s3://bucket/prefix`` receiving ``recommendations/``,
        ``models/`` and ``runs/``.
    date : datetime.date
        The day ``D`` whose recommendations are written.
    history_days : int
        Learn from events with ``ts`` in ``[D - history_days, D)``.
    top_k : int
        At most this many rows per (account_id, alert_id).
    idle_timeout_s : float
        A gap of more than this between a user's consecutive events ends a session.
    max_duration_s : float
        A session ends this long after its start (events at exactly this offset belong to it).
    alert_lookback_days : int
        Firings this many days before the window are still known, so that a
        session opened just after the window starts can be attributed.
    half_life_days : float
        Recency weight of a session: ``0.5 ** (age_days / half_life_days)``.
    resolved_weight : float
        Extra weight of a session that was resolved (a resolved session counts ``1 + resolved_weight``).
    similar_title_threshold : float
        Minimum rapidfuzz ``token_set_ratio`` (0-100) for two alert titles of
        one account to count as similar when borrowing.
    borrow_sources : int
        Borrow from at most this many similar definitions.
    seed : int
        Seed of every random choice.
    run_id : str
        Identifier of this run (report file name, data file names).
    generated_at : datetime.datetime
        UTC time stamped on every output row.
    query_link_threshold : float or None
        Near-duplicate canonical queries of an account (rapidfuzz ``ratio`` at
        least this, 0-100) share one item id; None disables the linking.
    workers : int
        Processes of the per-account pool; 0 means every available core.
    parallel_min_rows : int
        Below this many staged rows in all (sessions, items, fired definitions of
        every account) the per-account work runs in-process instead of starting a
        pool: a pool costs more than it saves on a small window. Same output.
    ranker : str
        ``mxnet`` (the default: the learned ranker of alertrec/mxnet_ranker/)
        or ``popularity`` (the yardstick).
    engine : str
        Where the per-account work runs: ``local`` (the process pool) or
        ``spark`` (``applyInPandas`` on the executors, for EMR).
    cluster_max_sessions : int
        Cluster at most the most recent N sessions per alert definition.
    cluster_window : int
        Sakoe-Chiba window of the DTW.
    cluster_max_clusters : int
        Largest number of investigation patterns per alert definition.
    cluster_min_silhouette : float
        A split into patterns must reach this silhouette.
    embedding_dim : int
        Dimensions of the item embeddings the DTW compares.
    spark_master : str
        Spark master URL; ``local[*]`` by default, ignored when a session is passed in.
    spark_driver_memory : str
        Heap of the local Spark driver.
    shared_max_lists : int
        The shared MXNet model trains on at most this many training lists, a sample
        taken by hashing (account, alert, day), the same whatever the engine.
    score_batch_definitions : int
        Fired definitions scored at a time within an account (features, scores, top-k and
        reasons per batch): an account with 50,000 definitions holds the candidates of one
        batch at a time, and the lists are the same whatever the batch size.
    max_account_rows : int
        An account with more staged rows (sessions + items + fired definitions) than this
        fails the run, naming the account and this setting (``--max-account-rows``): it
        bounds the memory of one worker.
    staging_root : str
        Where the extraction's per-account frames are staged during a run; empty: a
        temporary folder for a local Spark master, ``<output_root>/_staging/<run_id>``
        otherwise (the executors must reach it). Removed after the run.
    serving_bundles : bool
        Write each account's serving folder ``ROOT/models/serving/dt=D/account=A/``
        (``alertrec serve``) before the day's ``_SUCCESS``.
    input_cache_dir : str
        Where a local run keeps its copy of ``s3://`` input (alertrec/io/s3_input.py); empty
        means ``alertrec-input-cache`` under the system temp folder.
    input_cache_bytes : int
        Bound of that cache: the least recently used days beyond it are evicted.
    """

    input_root: str
    output_root: str = "./warehouse"
    date: dt.date = field(default_factory=lambda: dt.datetime.now(dt.UTC).date())
    history_days: int = 28
    top_k: int = 10
    idle_timeout_s: float = 1800.0
    max_duration_s: float = 4 * 3600.0
    alert_lookback_days: int = 1
    half_life_days: float = 7.0
    resolved_weight: float = 1.0
    similar_title_threshold: float = 60.0
    borrow_sources: int = 3
    seed: int = 0
    run_id: str = ""
    generated_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    query_link_threshold: float | None = 95.0
    workers: int = 0
    ranker: str = "mxnet"
    parallel_min_rows: int = 20_000
    engine: str = "local"
    cluster_max_sessions: int = 300
    cluster_window: int = 8
    cluster_max_clusters: int = 6
    cluster_min_silhouette: float = 0.25
    embedding_dim: int = 16
    spark_master: str = "local[*]"
    spark_driver_memory: str = "1g"
    shared_max_lists: int = 3000
    score_batch_definitions: int = 2000
    max_account_rows: int = 5_000_000
    staging_root: str = ""
    serving_bundles: bool = False
    input_cache_dir: str = ""
    input_cache_bytes: int = DEFAULT_INPUT_CACHE_BYTES

    def __post_init__(self) -> None:
        if isinstance(self.date, str):
            object.__setattr__(self, "date", parse_date(self.date))
        if not isinstance(self.date, dt.date) or isinstance(self.date, dt.datetime):
            raise ConfigError(f"date must be a datetime.date, got {self.date!r}")
        if not self.input_root:
            raise ConfigError("--input is required: the folder or prefix holding alerts/ and actions/")
        if not self.output_root:
            raise ConfigError("--output must name a folder or an s3:// prefix")
        _positive_int("--history-days", self.history_days)
        _positive_int("alert_lookback_days", self.alert_lookback_days, allow_zero=True)
        _days_in_range(self.date, self.history_days, self.alert_lookback_days)
        _positive_int("--top-k", self.top_k)
        _positive_int("borrow_sources", self.borrow_sources, allow_zero=True)
        for name in ("idle_timeout_s", "max_duration_s", "half_life_days"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not value > 0:
                raise ConfigError(f"{name} must be a positive number, got {value!r}")
        if self.resolved_weight < 0:
            raise ConfigError(f"resolved_weight must be >= 0, got {self.resolved_weight!r}")
        if not 0 <= self.similar_title_threshold <= 100:
            raise ConfigError("similar_title_threshold must be within 0..100")
        if self.query_link_threshold is not None and not 0 < self.query_link_threshold <= 100:
            raise ConfigError("query_link_threshold must be within (0, 100] or None")
        _positive_int("--workers", self.workers, allow_zero=True)
        _positive_int("shared_max_lists", self.shared_max_lists)
        _positive_int("score_batch_definitions", self.score_batch_definitions)
        _positive_int("--max-account-rows", self.max_account_rows)
        if self.ranker not in ("mxnet", "popularity"):
            raise ConfigError(f"--ranker must be mxnet or popularity, got {self.ranker!r}")
        if self.engine not in ("local", "spark"):
            raise ConfigError(f"--engine must be local or spark, got {self.engine!r}")
        for name in ("cluster_max_sessions", "cluster_window", "cluster_max_clusters", "embedding_dim"):
            _positive_int(name, getattr(self, name))
        if not -1 <= self.cluster_min_silhouette <= 1:
            raise ConfigError("cluster_min_silhouette must be within -1..1")
        if not isinstance(self.input_cache_dir, str):
            raise ConfigError(f"input_cache_dir must be a folder path (str), got {self.input_cache_dir!r}")
        _positive_int("input_cache_bytes", self.input_cache_bytes)
        gen = self.generated_at
        if gen.tzinfo is None:
            raise ConfigError("generated_at must be timezone-aware (UTC)")
        object.__setattr__(self, "generated_at", gen.astimezone(dt.UTC))
        if not self.run_id:
            object.__setattr__(self, "run_id", new_run_id(self.generated_at))

    # ------------------------------------------------------------------
    @property
    def window_start(self) -> dt.datetime:
        """Inclusive start of the learning window, ``D - history_days`` 00:00 UTC."""
        return _midnight(self.date - dt.timedelta(days=self.history_days))

    @property
    def window_end(self) -> dt.datetime:
        """Exclusive end of the learning window, ``D`` 00:00 UTC."""
        return _midnight(self.date)

    @property
    def alerts_from(self) -> dt.datetime:
        """Firings at or after this instant are known (window start minus the lookback)."""
        return _midnight(self.date - dt.timedelta(days=self.history_days + self.alert_lookback_days))

    def replace(self, **changes: Any) -> Config:
        """A copy with some settings changed (validated again)."""
        return dataclasses.replace(self, **changes)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _days_in_range(day: dt.date, history_days: int, lookback_days: int) -> None:
    """Raise ConfigError unless every day the run reads lies within the calendar's range."""
    earliest = dt.date.min + dt.timedelta(days=1)  # window_start minus the lookback must stay a date
    allowed = (day - earliest).days
    if history_days + lookback_days > allowed:
        raise ConfigError(
            f"--history-days must be within 1..{max(1, allowed - lookback_days)} for --date {day} "
            f"(the first day read, D - history - alert_lookback_days ({lookback_days}), "
            f"must not be before {earliest}), "
            f"got {history_days}"
        )


def _positive_int(name: str, value: object, allow_zero: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(f"{name} must be {'>= 0' if allow_zero else '>= 1'}, got {value}")
