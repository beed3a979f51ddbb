"""Column names of the frames the features stage produces, the target modes and the grades.

What each feature means, and how the modes and grades are used, is the package docstring
(:mod:`alertrec.stages.features`).
"""

from __future__ import annotations

from alertrec import schema as S

# ---------------------------------------------------------------------------
# column names of the frames this stage produces
# ---------------------------------------------------------------------------
FEATURE_COLUMNS: tuple[str, ...] = (
    "own_use_long",
    "own_use_short",
    "own_use_count",
    "own_resolved_share",
    "own_last_share",
    "own_last_share_short",
    "own_users_share",
    "own_position",
    "own_log_offset",
    "own_days_since_last",
    "own_days_since_first",
    "account_use_long",
    "account_use_short",
    "account_last_share",
    "account_log_users",
    "account_days_since_last",
    "account_days_since_first",
    "def_spread",
    "own_lift",
    "cluster_support",
    "in_medoid",
    "sar_similarity",
    "borrowed_use",
    "borrowed_last_share",
    "borrowed_max_similarity",
    "borrowed_best_use",
    "borrowed_best_last_share",
    "title_similarity",
    "is_query",
    "def_log_sessions",
    "has_own_history",
    "from_similar",
    "from_popular",
    "from_title",
)
PRIOR = "prior"
COLD = "cold"  # target mode: COLD_NONE, COLD_NEW or COLD_TWIN (int)
COLD_NONE = 0  # the definition's own history counts
COLD_NEW = 1  # act as if it had never been investigated (and nothing resembles it more than its neighbours)
COLD_TWIN = 2  # act as if it were a new near-duplicate of itself: its own history is lent at similarity 1
FROM_OWN = "from_own"
FROM_MEDOID = "from_medoid"
FROM_SIMILAR = "from_similar"
FROM_POPULAR = "from_popular"
FROM_TITLE = "from_title"
GRADE = "grade"
GAIN = "gain"  # training target: share of the list's (normalized) gain
LIST_ID = "list_id"
LIST_WEIGHT = "list_weight"
CUTOFF = "cutoff"
# bookkeeping columns for the reason text (not features)
N_USED = "n_used"
N_RESOLVED_USED = "n_resolved_used"
N_LAST = "n_last"
DEF_SESSIONS = "def_sessions"
SOURCE_ALERT_ID = "source_alert_id"
SOURCE_TITLE = "source_title"
SOURCE_N_USED = "source_n_used"
SOURCE_SESSIONS = "source_sessions"
N_SOURCES = "n_sources"
ACCOUNT_N_USED = "account_n_used"

GRADE_USED = 1
GRADE_RESOLVED = 2
GRADE_LAST = 3

_KEY = [S.ACCOUNT_ID, S.ALERT_ID]
_ITEM = [S.ITEM_TYPE, S.ITEM_ID]
_DAY_S = 86_400.0
# cluster stage columns (kept as literals so that this stage does not depend on the cluster stage)
_CLUSTER = "cluster"
_IS_MEDOID = "is_medoid"
