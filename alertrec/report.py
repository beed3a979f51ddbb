"""The run report: what was read, used, quarantined and ignored, per stage, with timings.

Pure functions over the stages' frames; the pipeline writes the result under
``ROOT/runs/<run_id>.json``.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from alertrec import schema as S

log = logging.getLogger(__name__)


def reconcile(accounting: pd.DataFrame, rows_read: dict[str, int] | None = None) -> dict[str, Any]:
    """Summarise the row accounting per dataset and check that it adds up.

    Parameters
    ----------
    accounting : pandas.DataFrame
        Columns ``dataset, bucket, reason, rows`` (see :mod:`alertrec.schema`).
    rows_read : dict, optional
        Rows read per dataset, counted independently of the accounting; when
        given, ``read == used + quarantined + ignored`` is checked against it.

    Returns
    -------
    dict
        Per dataset: ``read``, ``used``, ``quarantined``, ``ignored``,
        ``by_reason`` (``{bucket: {reason: rows}}``) and ``reconciled`` (bool).
    """
    out: dict[str, Any] = {}
    datasets = sorted(set(accounting[S.DATASET]) | set(rows_read or {}))
    for dataset in datasets:
        part = accounting[accounting[S.DATASET] == dataset]
        buckets = {b: int(part.loc[part[S.BUCKET] == b, S.ROWS].sum()) for b in (S.USED, S.QUARANTINED, S.IGNORED)}
        total = sum(buckets.values())
        by_reason: dict[str, dict[str, int]] = {}
        for row in part.sort_values([S.BUCKET, S.REASON]).itertuples(index=False):
            bucket, reason, rows = getattr(row, S.BUCKET), getattr(row, S.REASON), int(getattr(row, S.ROWS))
            if rows:
                by_reason.setdefault(bucket, {})[reason] = rows
        read = int(rows_read[dataset]) if rows_read and dataset in rows_read else total
        out[dataset] = {"read": read, **buckets, "by_reason": by_reason, "reconciled": read == total}
        if read != total:
            log.error("%s: %d rows read but %d accounted for", dataset, read, total)
    return out


def session_summary(sessions: pd.DataFrame) -> dict[str, Any]:
    """Counts of sessions, resolved share, end reasons and the MTTR figure (mean duration)."""
    n = len(sessions)
    return {
        "sessions": n,
        "resolved": int(sessions[S.RESOLVED].sum()) if n else 0,
        "by_end_reason": {k: int(v) for k, v in sessions[S.END_REASON].value_counts().sort_index().items()},
        "mean_duration_s": round(float(sessions[S.DURATION_S].mean()), 3) if n else None,
        "accounts": int(sessions[S.ACCOUNT_ID].nunique()) if n else 0,
        "alert_definitions": int(sessions[[S.ACCOUNT_ID, S.ALERT_ID]].drop_duplicates().shape[0]) if n else 0,
    }


def recommendation_summary(recs: pd.DataFrame, fired: pd.DataFrame) -> dict[str, Any]:
    """Rows, definitions covered and item mix of the published day."""
    groups = recs[[S.ACCOUNT_ID, S.ALERT_ID]].drop_duplicates()
    return {
        "rows": int(len(recs)),
        "fired_definitions": int(len(fired)),
        "definitions_with_rows": int(len(groups)),
        "definitions_without_rows": int(len(fired) - len(groups)),
        "by_item_type": {k: int(v) for k, v in recs[S.ITEM_TYPE].value_counts().sort_index().items()},
        "accounts": int(recs[S.ACCOUNT_ID].nunique()),
    }


def cluster_summary(clusters: Any) -> dict[str, Any]:
    """Groups clustered, patterns found, capped groups and the stage's timings."""
    groups = clusters.groups
    capped = groups[groups["capped"]]
    return {
        "groups": int(len(groups)),
        "sessions_clustered": int(groups["n_clustered"].sum()) if len(groups) else 0,
        "groups_by_n_clusters": {int(k): int(v) for k, v in groups["n_clusters"].value_counts().sort_index().items()},
        "capped_groups": int(len(capped)),
        "capped": [f"{a}/{b}" for a, b in zip(capped[S.ACCOUNT_ID], capped[S.ALERT_ID])][:50],
        "timings_s": dict(clusters.timings),
    }
