"""Extract investigation sessions from the raw alerts and UI event log (Spark SQL).

The rules are the contract's "Investigation sessions" section; the frames returned are
specified in ``docs/frames.md``. The work is done by the statements of ``sql/`` (one per
file, named parameter markers), chained through temporary views whose names are unique to
the call; this module only registers the views, binds the parameters and collects the
small results to pandas. See ``docs/adr/0001-sessions-in-spark-sql.md``.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

import pandas as pd
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession

from alertrec import schema as s
from alertrec.config import Config
from alertrec.sqlfiles import load_statement

log = logging.getLogger(__name__)

_US_PER_S = 1_000_000

# The contract's vocabulary, bound to every statement so that schema.py stays the only
# place that spells action names, item types, end reasons and accounting reasons.
_VOCABULARY = {
    "alert_opened": s.ALERT_OPENED,
    "dashboard_opened": s.DASHBOARD_OPENED,
    "query_run": s.QUERY_RUN,
    "alert_resolved": s.ALERT_RESOLVED,
    "item_dashboard": s.ITEM_DASHBOARD,
    "item_query": s.ITEM_QUERY,
    "end_next_open": s.END_NEXT_OPEN,
    "end_resolved": s.END_RESOLVED,
    "end_idle": s.END_IDLE,
    "end_max_duration": s.END_MAX_DURATION,
    "end_window": s.END_WINDOW,
    "r_missing_required": s.R_MISSING_REQUIRED,
    "r_duplicate": s.R_DUPLICATE,
    "r_before_window": s.R_BEFORE_WINDOW,
    "r_after_window": s.R_AFTER_WINDOW,
    "r_null_user": s.R_NULL_USER,
    "r_unknown_action": s.R_UNKNOWN_ACTION,
    "r_malformed_payload": s.R_MALFORMED_PAYLOAD,
    "r_missing_payload_field": s.R_MISSING_PAYLOAD_FIELD,
    "r_orphan_open": s.R_ORPHAN_OPEN,
    "r_outside_session": s.R_OUTSIDE_SESSION,
    "r_in_session": s.R_IN_SESSION,
    "r_fired_in_lookback": s.R_FIRED_IN_LOOKBACK,
    "r_fired_in_window": s.R_FIRED_IN_WINDOW,
    "dataset_alerts": s.DATASET_ALERTS,
    "dataset_actions": s.DATASET_ACTIONS,
}

SESSION_DTYPES = {
    s.SESSION_ID: "object",
    s.ACCOUNT_ID: "int64",
    s.USER_ID: "object",
    s.ALERT_EVENT_ID: "object",
    s.ALERT_ID: "object",
    s.ALERT_TITLE: "object",
    s.SEVERITY: "object",
    s.FIRED_AT: "datetime64[ns, UTC]",
    s.STARTED_AT: "datetime64[ns, UTC]",
    s.ENDED_AT: "datetime64[ns, UTC]",
    s.DURATION_S: "float64",
    s.RESOLVED: "bool",
    s.END_REASON: "object",
    s.N_EVENTS: "int64",
    s.N_ITEMS: "int64",
}
ITEM_DTYPES = {
    s.SESSION_ID: "object",
    s.ACCOUNT_ID: "int64",
    s.USER_ID: "object",
    s.ALERT_ID: "object",
    s.SEQ: "int64",
    s.EVENT_ID: "object",
    s.TS: "datetime64[ns, UTC]",
    s.OFFSET_S: "float64",
    s.ITEM_TYPE: "object",
    s.ITEM_KEY: "object",
    s.ITEM_TITLE: "object",
    s.QUERY_LANGUAGE: "object",
}
FIRED_DTYPES = {
    s.ACCOUNT_ID: "int64",
    s.ALERT_ID: "object",
    s.ALERT_TITLE: "object",
    s.N_FIRINGS: "int64",
    s.LAST_FIRED_AT: "datetime64[ns, UTC]",
}
ACCOUNTING_DTYPES = {s.DATASET: "object", s.BUCKET: "object", s.REASON: "object", s.ROWS: "int64"}

SESSION_ORDER = [s.ACCOUNT_ID, s.USER_ID, s.STARTED_AT, s.SESSION_ID]
ITEM_ORDER = [s.SESSION_ID, s.SEQ]
FIRED_ORDER = [s.ACCOUNT_ID, s.ALERT_ID]


@dataclass(frozen=True)
class Extraction:
    """The frames the extract stage hands to the rest of the pipeline (docs/frames.md).

    Attributes
    ----------
    sessions : pandas.DataFrame
        One row per investigation session, columns ``schema.SESSION_COLUMNS``.
    items : pandas.DataFrame
        One row per dashboard opened / query run in a session, ``schema.SESSION_ITEM_COLUMNS``.
    fired : pandas.DataFrame
        One row per (account_id, alert_id) that fired in the window, ``schema.FIRED_COLUMNS``.
    accounting : pandas.DataFrame
        Rows read per (dataset, bucket, reason), ``schema.ACCOUNTING_COLUMNS``; every reason
        of ``schema.ALERT_REASONS`` / ``schema.ACTION_REASONS`` is listed, with 0 when no row has it.
    """

    sessions: pd.DataFrame
    items: pd.DataFrame
    fired: pd.DataFrame
    accounting: pd.DataFrame


def extract_sessions(
    spark: SparkSession,
    alerts_df: DataFrame,
    actions_df: DataFrame,
    config: Config,
    with_payloads: bool = False,
) -> Extraction:
    """Build the investigation sessions of the window and account for every row read.

    Implements the contract's "Investigation sessions" section: dedup of ``event_id``
    (earliest ``dt``, then smallest payload), the window [``config.window_start``,
    ``config.window_end``), sessions opened by an ``alert_opened`` of a known firing of the
    same account and ended by the next ``alert_opened``, the own ``alert_resolved``, a gap of
    more than ``config.idle_timeout_s`` or ``config.max_duration_s`` after the start.

    Parameters
    ----------
    spark : pyspark.sql.SparkSession
        The session to run the statements on (its time zone must be UTC).
    alerts_df : pyspark.sql.DataFrame
        Raw firings: ``account_id, alert_event_id, alert_id, alert_title, severity, fired_at``
        and the partition column ``dt`` (string ``YYYY-MM-DD``).
    actions_df : pyspark.sql.DataFrame
        Raw UI events: ``event_id, account_id, user_id, ts, action, payload`` and ``dt``.
    config : Config
        ``window_start``, ``window_end``, ``alerts_from``, ``idle_timeout_s``, ``max_duration_s``.
    with_payloads : bool
        Add the raw ``payload`` text of each item's event to ``items`` (for the explode
        stage); only the items' rows are read back, never the whole log's payloads.

    Returns
    -------
    Extraction
        ``sessions``, ``items``, ``fired`` and ``accounting`` as pandas frames, timestamps
        ``datetime64[ns, UTC]``, sorted as docs/frames.md says. The inputs are not modified.
    """
    token = uuid.uuid4().hex[:12]
    views: list[str] = []
    cached: list[DataFrame] = []

    def register(role: str, frame: DataFrame) -> str:
        name = f"alertrec_{role}_{token}"
        frame.createOrReplaceTempView(name)
        views.append(name)
        return name

    params: dict[str, object] = dict(_VOCABULARY)
    params.update(
        window_start=config.window_start,
        window_end=config.window_end,
        alerts_from=config.alerts_from,
        idle_us=int(round(config.idle_timeout_s * _US_PER_S)),
        max_us=int(round(config.max_duration_s * _US_PER_S)),
    )

    def run(statement: str, **view_args: str) -> DataFrame:
        return spark.sql(load_statement(statement), args={**params, **view_args})

    try:
        alerts_in = register("alerts_in", alerts_df.select(*s.ALERT_COLUMNS, s.DT))
        actions_in = register("actions_in", actions_df.select(*s.ACTION_COLUMNS, s.DT))

        alerts = run("alerts_classified", alerts_view=alerts_in).persist(StorageLevel.MEMORY_AND_DISK)
        cached.append(alerts)
        alerts_view = register("alerts", alerts)

        duplicate_ids = register(
            "duplicate_ids", run("actions_duplicate_ids", actions_view=actions_in)
        )
        events = register(
            "events",
            run("actions_events", actions_view=actions_in, duplicate_ids_view=duplicate_ids),
        )
        classified = run(
            "actions_classified", events_view=events, alerts_view=alerts_view
        ).persist(StorageLevel.MEMORY_AND_DISK)
        cached.append(classified)
        classified_view = register("classified", classified)

        sessions = _collect(
            run("sessions", classified_view=classified_view, alerts_view=alerts_view),
            SESSION_DTYPES,
            SESSION_ORDER,
        )
        items_frame = run("session_items", classified_view=classified_view, alerts_view=alerts_view)
        item_dtypes = ITEM_DTYPES
        if with_payloads:
            items_view = register("items", items_frame)
            items_frame = run("item_payloads", items_view=items_view, actions_view=actions_in)
            item_dtypes = {**ITEM_DTYPES, s.PAYLOAD: "object"}
        items = _collect(items_frame, item_dtypes, ITEM_ORDER)
        fired = _collect(run("fired", alerts_view=alerts_view), FIRED_DTYPES, FIRED_ORDER)
        counts = run("accounting", alerts_view=alerts_view, classified_view=classified_view)
        accounting = _accounting_frame(counts.toPandas())
    finally:
        for name in views:
            spark.catalog.dropTempView(name)
        for frame in cached:
            frame.unpersist()

    log.info(
        "extracted %d sessions with %d items; %d fired definitions",
        len(sessions),
        len(items),
        len(fired),
    )
    return Extraction(sessions=sessions, items=items, fired=fired, accounting=accounting)


def _collect(frame: DataFrame, dtypes: dict[str, str], order: list[str]) -> pd.DataFrame:
    """Collect a small result to pandas with the frame's exact columns, dtypes and order."""
    out = frame.toPandas()
    out = out[list(dtypes)]
    for column, dtype in dtypes.items():
        if dtype.startswith("datetime64"):
            out[column] = _utc(out[column])
        else:
            out[column] = out[column].astype(dtype)
    return out.sort_values(order, kind="mergesort").reset_index(drop=True)


def _utc(values: pd.Series) -> pd.Series:
    """Spark gives session-time-zone (UTC) wall clocks; make them ``datetime64[ns, UTC]``."""
    values = pd.to_datetime(values)
    if values.dt.tz is None:
        return values.dt.tz_localize("UTC").astype("datetime64[ns, UTC]")
    return values.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")


def _accounting_frame(counts: pd.DataFrame) -> pd.DataFrame:
    """Every (dataset, bucket, reason) of the contract, in precedence order, with its row count."""
    found = {
        (row[s.DATASET], row[s.REASON]): int(row[s.ROWS])
        for row in counts.to_dict("records")
    }
    records = []
    for dataset, reasons in (
        (s.DATASET_ALERTS, s.ALERT_REASONS),
        (s.DATASET_ACTIONS, s.ACTION_REASONS),
    ):
        for reason, bucket in reasons.items():
            records.append(
                {
                    s.DATASET: dataset,
                    s.BUCKET: bucket,
                    s.REASON: reason,
                    s.ROWS: found.pop((dataset, reason), 0),
                }
            )
    if found:  # a reason the SQL produced but the contract does not know: a bug, not data
        raise RuntimeError(f"unexpected accounting reasons from the SQL: {sorted(found)}")
    return pd.DataFrame.from_records(records, columns=list(ACCOUNTING_DTYPES)).astype(
        ACCOUNTING_DTYPES
    )
