"""The words both rankers share (alertrec.stages.reasons): texts and labels written out by hand."""

from __future__ import annotations

import pandas as pd

from alertrec import schema as S
from alertrec.stages import features as F
from alertrec.stages.rank import candidate_reasons
from alertrec.stages.reasons import borrowed_text, item_labels, own_use_text, popular_text, short_title, verb_of


def test_phrases_count_investigations_with_the_plural_and_skip_zero_or_missing_resolutions():
    assert verb_of(S.ITEM_DASHBOARD) == "opened" and verb_of(S.ITEM_QUERY) == "run" and verb_of("x") == "used"
    assert own_use_text("opened", 3, 5, 28, 2) == (
        "opened in 3 of 5 investigations of this alert in the last 28 days, 2 of them resolved"
    )
    assert own_use_text("run", 1, 1, 7, float("nan")) == "run in 1 of 1 investigation of this alert in the last 7 days"
    assert own_use_text("run", 1, 2, 7, 0) == "run in 1 of 2 investigations of this alert in the last 7 days"
    assert borrowed_text("  Disk \n full ", "a1", "opened", 2, 4, 3) == (
        "borrowed from similar alert 'Disk full' (opened in 2 of 4 investigations) and 2 more similar alerts"
    )
    assert borrowed_text(None, "a1", "run", 1, 1, 2) == (
        "borrowed from similar alert 'a1' (run in 1 of 1 investigation) and 1 more similar alert"
    )
    assert popular_text("opened", 9, 28) == "popular in this account: opened in 9 investigations in the last 28 days"
    long = short_title("t" * 100)
    assert len(long) == 80 and long == "t" * 79 + "…"


def test_item_labels_keep_the_most_frequent_label_ties_by_label():
    items = pd.DataFrame(
        {
            S.ACCOUNT_ID: [1, 1, 1, 1, 2, 1],
            S.ITEM_TYPE: ["dashboard"] * 6,
            S.ITEM_ID: ["d1", "d1", "d1", "d2", "d1", None],
            S.ITEM_LABEL: ["B", "B", "A", "Z", "C", "ignored"],
        }
    )
    out = item_labels(items)
    assert out.to_dict("list") == {
        S.ACCOUNT_ID: [1, 1, 2],
        S.ITEM_TYPE: ["dashboard"] * 3,
        S.ITEM_ID: ["d1", "d2", "d1"],
        S.ITEM_LABEL: ["B", "Z", "C"],
    }
    assert str(out[S.ACCOUNT_ID].dtype) == "int64"


def test_candidate_reasons_pick_own_then_borrowed_then_title_then_popular():
    base = {
        F.N_USED: 0,
        F.DEF_SESSIONS: 0,
        F.N_RESOLVED_USED: 0,
        F.N_LAST: 0,
        F.SOURCE_TITLE: None,
        F.SOURCE_ALERT_ID: None,
        F.SOURCE_N_USED: 0,
        F.SOURCE_SESSIONS: 0,
        F.N_SOURCES: 0,
        F.ACCOUNT_N_USED: 4,
        F.FROM_OWN: False,
        F.FROM_SIMILAR: False,
        F.FROM_TITLE: False,
        F.FROM_POPULAR: False,
        "cluster_support": 0.0,
        "in_medoid": 0.0,
    }
    rows = pd.DataFrame(
        [
            {
                **base,
                S.ITEM_TYPE: "dashboard",
                F.FROM_OWN: True,
                F.N_USED: 2,
                F.DEF_SESSIONS: 3,
                F.N_RESOLVED_USED: 1,
                F.N_LAST: 1,
                "cluster_support": 0.75,
                "in_medoid": 1.0,
            },
            {
                **base,
                S.ITEM_TYPE: "query",
                F.FROM_SIMILAR: True,
                F.SOURCE_TITLE: "Disk full",
                F.SOURCE_ALERT_ID: "a9",
                F.SOURCE_N_USED: 1,
                F.SOURCE_SESSIONS: 1,
                F.N_SOURCES: 1,
            },
            {**base, S.ITEM_TYPE: "dashboard", F.FROM_TITLE: True},
            {**base, S.ITEM_TYPE: "dashboard", F.FROM_TITLE: True, F.FROM_POPULAR: True},
        ]
    )
    assert list(candidate_reasons(rows, 28)) == [
        "opened in 2 of 3 investigations of this alert in the last 28 days, 1 of them resolved; the last step"
        " before resolution in 1; a step of a recurring investigation pattern (75% of its sessions)",
        "borrowed from similar alert 'Disk full' (run in 1 of 1 investigation)",
        "named like this alert; opened in 4 investigations of this account in the last 28 days",
        "popular in this account: opened in 4 investigations in the last 28 days",
    ]
