"""The data contract in code: column names, value sets and Arrow schemas.

Every module refers to columns through the constants here, never through
string literals, so a rename of the contract is a change to this file.
See ``../shared/contract.md`` (mirrored in the README) for the meaning.
"""

from __future__ import annotations

import pyarrow as pa

# --------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------
DT = "dt"  # Hive partition column of every dataset, 'YYYY-MM-DD'

# alerts
ACCOUNT_ID = "account_id"
ALERT_EVENT_ID = "alert_event_id"
ALERT_ID = "alert_id"
ALERT_TITLE = "alert_title"
SEVERITY = "severity"
FIRED_AT = "fired_at"

ALERT_COLUMNS = (ACCOUNT_ID, ALERT_EVENT_ID, ALERT_ID, ALERT_TITLE, SEVERITY, FIRED_AT)
SEVERITIES = ("LOW", "MEDIUM", "HIGH", "SEVERE")

# actions
EVENT_ID = "event_id"
USER_ID = "user_id"
TS = "ts"
ACTION = "action"
PAYLOAD = "payload"

ACTION_COLUMNS = (EVENT_ID, ACCOUNT_ID, USER_ID, TS, ACTION, PAYLOAD)

ALERT_OPENED = "alert_opened"
DASHBOARD_OPENED = "dashboard_opened"
QUERY_RUN = "query_run"
ALERT_RESOLVED = "alert_resolved"
KNOWN_ACTIONS = (ALERT_OPENED, DASHBOARD_OPENED, QUERY_RUN, ALERT_RESOLVED)

QUERY_LANGUAGES = ("lucene", "dql", "sql")

ALERTS_ARROW = pa.schema(
    [
        pa.field(ACCOUNT_ID, pa.int64()),
        pa.field(ALERT_EVENT_ID, pa.string()),
        pa.field(ALERT_ID, pa.string()),
        pa.field(ALERT_TITLE, pa.string()),
        pa.field(SEVERITY, pa.string()),
        pa.field(FIRED_AT, pa.timestamp("us", tz="UTC")),
    ]
)

ACTIONS_ARROW = pa.schema(
    [
        pa.field(EVENT_ID, pa.string()),
        pa.field(ACCOUNT_ID, pa.int64()),
        pa.field(USER_ID, pa.string()),
        pa.field(TS, pa.timestamp("us", tz="UTC")),
        pa.field(ACTION, pa.string()),
        pa.field(PAYLOAD, pa.string()),
    ]
)

# --------------------------------------------------------------------------
# Intermediate frames (pandas), produced by the stages
# --------------------------------------------------------------------------
# sessions: one row per investigation session
SESSION_ID = "session_id"  # the event_id of the alert_opened that started it
STARTED_AT = "started_at"
ENDED_AT = "ended_at"
DURATION_S = "duration_s"  # ended_at - started_at, seconds (float)
RESOLVED = "resolved"  # ended by an alert_resolved of its own firing
END_REASON = "end_reason"
N_EVENTS = "n_events"
N_ITEMS = "n_items"

END_NEXT_OPEN = "next_alert_opened"
END_RESOLVED = "resolved"
END_IDLE = "idle_timeout"
END_MAX_DURATION = "max_duration"
END_WINDOW = "window_end"
END_REASONS = (END_NEXT_OPEN, END_RESOLVED, END_IDLE, END_MAX_DURATION, END_WINDOW)

SESSION_COLUMNS = (
    SESSION_ID,
    ACCOUNT_ID,
    USER_ID,
    ALERT_EVENT_ID,
    ALERT_ID,
    ALERT_TITLE,
    SEVERITY,
    FIRED_AT,
    STARTED_AT,
    ENDED_AT,
    DURATION_S,
    RESOLVED,
    END_REASON,
    N_EVENTS,
    N_ITEMS,
)

# session items: one row per dashboard opened / query run inside a session
SEQ = "seq"  # 0-based position among the session's items, in (ts, event_id) order
OFFSET_S = "offset_s"  # seconds since the session started
ITEM_KEY = "item_key"  # dashboard id, or the raw query text
ITEM_TITLE = "item_title"  # dashboard title (null for queries)
QUERY_LANGUAGE = "query_language"  # lucene | dql | sql (null for dashboards)
CANONICAL = "canonical"  # canonical query form (null for dashboards)
FIRST_SEEN = "first_seen"  # query registry: the day (YYYY-MM-DD) of the run that registered a form

# the item's payload fields, taken from the one parse of the payload in Spark SQL
# (sql/actions_events.sql) and turned into tidy columns by the explode stage
PANEL_TYPES = "panel_types"  # list of the panels' types (str, None for a panel without one)
TIME_FROM = "time_from"
TIME_TO = "time_to"
FILTER_FIELDS = "filter_fields"  # list of the filters' fields
INDEX = "index"
PAYLOAD_SHAPE = "payload_shape"  # None, or the first payload field of the wrong JSON type
ITEM_PAYLOAD_COLUMNS = (PANEL_TYPES, TIME_FROM, TIME_TO, FILTER_FIELDS, INDEX, PAYLOAD_SHAPE)

SESSION_ITEM_COLUMNS = (
    SESSION_ID,
    ACCOUNT_ID,
    USER_ID,
    ALERT_ID,
    SEQ,
    EVENT_ID,
    TS,
    OFFSET_S,
    "item_type",
    ITEM_KEY,
    ITEM_TITLE,
    QUERY_LANGUAGE,
    *ITEM_PAYLOAD_COLUMNS,
)

# fired definitions: one row per (account_id, alert_id) that fired in the window
N_FIRINGS = "n_firings"
LAST_FIRED_AT = "last_fired_at"
FIRED_COLUMNS = (ACCOUNT_ID, ALERT_ID, ALERT_TITLE, N_FIRINGS, LAST_FIRED_AT)

# row accounting: rows in = used + quarantined + ignored, per dataset
DATASET = "dataset"  # alerts | actions
BUCKET = "bucket"  # used | quarantined | ignored
REASON = "reason"
ROWS = "rows"
USED = "used"
QUARANTINED = "quarantined"
IGNORED = "ignored"
ACCOUNTING_COLUMNS = (DATASET, BUCKET, REASON, ROWS)

# --------------------------------------------------------------------------
# Output: ROOT/recommendations/dt=D/
# --------------------------------------------------------------------------
RANK = "rank"
ITEM_TYPE = "item_type"
ITEM_ID = "item_id"
ITEM_LABEL = "item_label"
SCORE = "score"
REASON_TEXT = "reason"
MODEL_VERSION = "model_version"
GENERATED_AT = "generated_at"

ITEM_DASHBOARD = "dashboard"
ITEM_QUERY = "query"
ITEM_TYPES = (ITEM_DASHBOARD, ITEM_QUERY)

RECOMMENDATION_COLUMNS = (
    ACCOUNT_ID,
    ALERT_ID,
    RANK,
    ITEM_TYPE,
    ITEM_ID,
    ITEM_LABEL,
    SCORE,
    REASON_TEXT,
    MODEL_VERSION,
    GENERATED_AT,
)

RECOMMENDATIONS_ARROW = pa.schema(
    [
        pa.field(ACCOUNT_ID, pa.int64(), nullable=False),
        pa.field(ALERT_ID, pa.string(), nullable=False),
        pa.field(RANK, pa.int32(), nullable=False),
        pa.field(ITEM_TYPE, pa.string(), nullable=False),
        pa.field(ITEM_ID, pa.string(), nullable=False),
        pa.field(ITEM_LABEL, pa.string(), nullable=False),
        pa.field(SCORE, pa.float64(), nullable=False),
        pa.field(REASON_TEXT, pa.string(), nullable=False),
        pa.field(MODEL_VERSION, pa.string(), nullable=False),
        pa.field(GENERATED_AT, pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)

# Output layout (relative to the output root)
RECOMMENDATIONS_DIR = "recommendations"
MODELS_DIR = "models"
RUNS_DIR = "runs"
SUCCESS_MARKER = "_SUCCESS"

# --------------------------------------------------------------------------
# Row accounting reasons (the run report's vocabulary)
# --------------------------------------------------------------------------
DATASET_ALERTS = "alerts"
DATASET_ACTIONS = "actions"

# actions, in order of precedence: a row gets the first reason that applies
R_MISSING_REQUIRED = "missing_required_field"  # quarantined: null event_id/account_id/ts/action
R_DUPLICATE = "duplicate"  # ignored: a losing copy of an event_id (or alert_event_id)
R_BEFORE_WINDOW = "before_window"  # ignored: ts (fired_at) before the window
R_AFTER_WINDOW = "after_window"  # ignored: ts (fired_at) >= D
R_NULL_USER = "null_user_id"  # quarantined: cannot be attributed
R_UNKNOWN_ACTION = "unknown_action"  # ignored: counts for gaps, never an item
R_MALFORMED_PAYLOAD = "malformed_payload"  # quarantined: not JSON / truncated (counts for gaps)
R_MISSING_PAYLOAD_FIELD = "missing_payload_field"  # quarantined: JSON without the needed field
R_ORPHAN_OPEN = "orphan_alert_opened"  # quarantined: names no known firing of the account
R_OUTSIDE_SESSION = "outside_session"  # ignored: valid, but in no investigation session
R_IN_SESSION = "in_session"  # used
# alerts
R_FIRED_IN_WINDOW = "fired_in_window"  # used
R_FIRED_IN_LOOKBACK = "fired_in_lookback"  # used: only to attribute sessions opened in the window

ACTION_REASONS = {
    R_MISSING_REQUIRED: QUARANTINED,
    R_DUPLICATE: IGNORED,
    R_BEFORE_WINDOW: IGNORED,
    R_AFTER_WINDOW: IGNORED,
    R_NULL_USER: QUARANTINED,
    R_UNKNOWN_ACTION: IGNORED,
    R_MALFORMED_PAYLOAD: QUARANTINED,
    R_MISSING_PAYLOAD_FIELD: QUARANTINED,
    R_ORPHAN_OPEN: QUARANTINED,
    R_OUTSIDE_SESSION: IGNORED,
    R_IN_SESSION: USED,
}
ALERT_REASONS = {
    R_MISSING_REQUIRED: QUARANTINED,
    R_DUPLICATE: IGNORED,
    R_BEFORE_WINDOW: IGNORED,
    R_AFTER_WINDOW: IGNORED,
    R_FIRED_IN_LOOKBACK: USED,
    R_FIRED_IN_WINDOW: USED,
}

#: the query registry's columns (ROOT/registry/queries/, alertrec/stages/normalize/registry.py)
REGISTRY_COLUMNS = (ACCOUNT_ID, CANONICAL, ITEM_ID, FIRST_SEEN)
