"""The one test mixin every ranker implementation passes.

Usage (see ``tests/unit/test_rank.py``)::

    class TestMyRankerContract(RankerContract):
        def make_ranker(self):
            return MyRanker(...)

It fits the ranker on a small hand-made world (:func:`contract_world`) and
asserts the interface's promises: the contract's columns and dtypes (checked
again through the shared output-contract checker), ranks contiguous from 1,
scores non-increasing with rank, at most ``top_k`` rows per definition, every
fired definition whose account has history present (and nothing else), no
item twice per definition, the same output from two fits, and inputs left
untouched.

The world (``config.date`` 2026-02-01, so ``window_end`` is 2026-02-01 00:00 UTC):

* account 1 -- ``a1`` "High 5xx rate on api": 4 sessions (3 with items, one
  without), 4 dashboards and 1 query (two texts of it); ``a2`` "High 5xx
  rate on api gateway": 1 session, 1 dashboard (borrows from ``a1``);
  ``a3`` "Disk full on db-primary": 1 session, not fired; ``a4``
  "Certificate expiry": fired, never investigated, like no other title
  (account-wide items only).
* account 2 -- ``b1`` "High 5xx rate on api": 1 session, not fired; ``b2``
  the same title, fired, never investigated (borrows from ``b1``, never
  from account 1).
* account 3 -- ``c1`` fired, but the account has no investigation: no rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pytest

from alertrec import schema as S
from alertrec.config import Config
from alertrec.stages.normalize import normalize_items
from alertrec.stages.rank import Ranker
from tests.output_contract import check_recommendations

WINDOW_END = pd.Timestamp("2026-02-01", tz="UTC")
GENERATED_AT = dt.datetime(2026, 2, 1, 3, 15, tzinfo=dt.UTC)


def make_config(**changes: object) -> Config:
    """The contract world's settings: day 2026-02-01, top_k 3, half-life 7 days, resolved weight 1."""
    settings: dict[str, object] = dict(
        input_root="unused",
        date=dt.date(2026, 2, 1),
        top_k=3,
        half_life_days=7.0,
        resolved_weight=1.0,
        similar_title_threshold=60.0,
        borrow_sources=2,
        generated_at=GENERATED_AT,
        run_id="contract",
    )
    settings.update(changes)
    return Config(**settings)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Sess:
    """One hand-made investigation session.

    ``items`` are ``("dashboard", id, title)`` or ``("query", text, language)``.
    """

    session_id: str
    account_id: int
    alert_id: str
    title: str
    age_days: float
    resolved: bool
    items: tuple[tuple[str, str, str | None], ...] = ()


def build_frames(
    sessions: list[Sess], fired: list[tuple[int, str, str]]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``sessions``, raw ``items`` and ``fired`` frames (docs/frames.md) from hand-made sessions.

    A session started ``age_days`` before ``WINDOW_END``; its items follow one
    minute apart; it ends one minute after its last item.
    """
    srows, irows = [], []
    for s in sessions:
        started = WINDOW_END - pd.Timedelta(days=s.age_days)
        for seq, (kind, key, extra) in enumerate(s.items):
            ts = started + pd.Timedelta(minutes=seq + 1)
            irows.append(
                {
                    S.SESSION_ID: s.session_id,
                    S.ACCOUNT_ID: s.account_id,
                    S.USER_ID: "u-" + s.session_id,
                    S.ALERT_ID: s.alert_id,
                    S.SEQ: seq,
                    S.EVENT_ID: f"{s.session_id}-e{seq}",
                    S.TS: ts,
                    S.OFFSET_S: (ts - started).total_seconds(),
                    S.ITEM_TYPE: kind,
                    S.ITEM_KEY: key,
                    S.ITEM_TITLE: extra if kind == S.ITEM_DASHBOARD else None,
                    S.QUERY_LANGUAGE: extra if kind == S.ITEM_QUERY else None,
                }
            )
        ended = started + pd.Timedelta(minutes=len(s.items) + 1)
        srows.append(
            {
                S.SESSION_ID: s.session_id,
                S.ACCOUNT_ID: s.account_id,
                S.USER_ID: "u-" + s.session_id,
                S.ALERT_EVENT_ID: "ae-" + s.session_id,
                S.ALERT_ID: s.alert_id,
                S.ALERT_TITLE: s.title,
                S.SEVERITY: "HIGH",
                S.FIRED_AT: started - pd.Timedelta(minutes=2),
                S.STARTED_AT: started,
                S.ENDED_AT: ended,
                S.DURATION_S: (ended - started).total_seconds(),
                S.RESOLVED: s.resolved,
                S.END_REASON: S.END_RESOLVED if s.resolved else S.END_IDLE,
                S.N_EVENTS: len(s.items) + 1 + int(s.resolved),
                S.N_ITEMS: len(s.items),
            }
        )
    sessions_df = pd.DataFrame(srows, columns=list(S.SESSION_COLUMNS)).astype({S.ACCOUNT_ID: "int64"})
    sessions_df = sessions_df.sort_values([S.ACCOUNT_ID, S.USER_ID, S.STARTED_AT, S.SESSION_ID]).reset_index(drop=True)
    items_df = pd.DataFrame(irows, columns=list(S.SESSION_ITEM_COLUMNS))
    items_df = items_df.astype({S.ACCOUNT_ID: "int64", S.SEQ: "int64"})
    items_df[S.TS] = pd.to_datetime(items_df[S.TS], utc=True)
    items_df = items_df.sort_values([S.SESSION_ID, S.SEQ]).reset_index(drop=True)
    fired_df = (
        pd.DataFrame(
            {
                S.ACCOUNT_ID: pd.Series([a for a, _, _ in fired], dtype="int64"),
                S.ALERT_ID: [b for _, b, _ in fired],
                S.ALERT_TITLE: [t for _, _, t in fired],
                S.N_FIRINGS: pd.Series([1] * len(fired), dtype="int64"),
                S.LAST_FIRED_AT: pd.Series(
                    [WINDOW_END - pd.Timedelta(hours=1)] * len(fired), dtype="datetime64[ns, UTC]"
                ),
            }
        )
        .sort_values([S.ACCOUNT_ID, S.ALERT_ID])
        .reset_index(drop=True)
    )
    return sessions_df, items_df, fired_df


API_5XX = "High 5xx rate on api"
CONTRACT_SESSIONS = [
    Sess(
        "s1",
        1,
        "a1",
        API_5XX,
        1,
        True,
        (
            ("dashboard", "d1", "API overview"),
            ("dashboard", "d1", "API overview"),
            ("query", "service:api AND status:500", "lucene"),
        ),
    ),
    Sess(
        "s2",
        1,
        "a1",
        API_5XX,
        7,
        False,
        (
            ("dashboard", "d1", "API overview (old title)"),
            ("dashboard", "d2", "Upstreams"),
            ("query", "status:503 service:api", "lucene"),
        ),
    ),
    Sess("s3", 1, "a1", API_5XX, 14, True, (("dashboard", "d3", "Load balancer"), ("dashboard", "d4", None))),
    Sess("s0", 1, "a1", API_5XX, 20, False, ()),
    Sess("s4", 1, "a2", API_5XX + " gateway", 2, False, (("dashboard", "d5", "Gateway"),)),
    Sess("s5", 1, "a3", "Disk full on db-primary", 3, True, (("dashboard", "d6", "Disks"),)),
    Sess("s7", 2, "b1", API_5XX, 1, False, (("dashboard", "d1", "Other account's d1"),)),
]
CONTRACT_FIRED = [
    (1, "a1", API_5XX),
    (1, "a2", API_5XX + " gateway"),
    (1, "a4", "Certificate expiry"),
    (2, "b2", API_5XX),
    (3, "c1", "Anything"),
]
EXPECTED_DEFINITIONS = {(1, "a1"), (1, "a2"), (1, "a4"), (2, "b2")}


def contract_world() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, Config]:
    """``sessions``, normalized ``items``, ``fired`` and the config of the contract world."""
    sessions, items, fired = build_frames(CONTRACT_SESSIONS, CONTRACT_FIRED)
    return sessions, normalize_items(items), fired, make_config()


class RankerContract:
    """Mixin: subclass it as ``Test...`` and implement :meth:`make_ranker`."""

    def make_ranker(self) -> Ranker:
        """A new, unfitted ranker under test."""
        raise NotImplementedError

    @pytest.fixture()
    def world(self):
        return contract_world()

    @pytest.fixture()
    def recs(self, world) -> pd.DataFrame:
        sessions, items, fired, config = world
        ranker = self.make_ranker()
        fitted = ranker.fit(sessions, items, fired, config)
        assert fitted is ranker, "fit returns self"
        return ranker.recommend(fired)

    # ------------------------------------------------------------------
    def test_columns_and_dtypes(self, recs):
        assert list(recs.columns) == list(S.RECOMMENDATION_COLUMNS)
        assert recs[S.ACCOUNT_ID].dtype == "int64"
        assert recs[S.RANK].dtype == "int32"
        assert recs[S.SCORE].dtype == "float64"
        assert str(recs[S.GENERATED_AT].dtype) == "datetime64[ns, UTC]"
        for column in (S.ALERT_ID, S.ITEM_TYPE, S.ITEM_ID, S.ITEM_LABEL, S.REASON_TEXT, S.MODEL_VERSION):
            assert pd.api.types.is_string_dtype(recs[column]), column
            assert recs[column].map(type).eq(str).all(), column
        assert (recs[S.GENERATED_AT] == pd.Timestamp(GENERATED_AT)).all()
        assert recs[S.MODEL_VERSION].nunique() == 1
        assert recs[S.MODEL_VERSION].iloc[0] == self.make_ranker().model_version != ""

    def test_passes_the_output_contract_checker(self, recs):
        table = pa.Table.from_pandas(recs, schema=S.RECOMMENDATIONS_ARROW, preserve_index=False)
        check_recommendations(table, top_k=3, fired=EXPECTED_DEFINITIONS, generated_at=GENERATED_AT)

    def test_ranks_contiguous_from_one_and_scores_non_increasing(self, recs):
        for key, group in recs.groupby([S.ACCOUNT_ID, S.ALERT_ID]):
            assert group[S.RANK].tolist() == list(range(1, len(group) + 1)), key
            scores = group.sort_values(S.RANK)[S.SCORE].to_numpy()
            assert (scores[1:] <= scores[:-1]).all(), (key, scores)

    def test_at_most_top_k_rows_and_full_when_the_account_has_enough_items(self, recs):
        sizes = recs.groupby([S.ACCOUNT_ID, S.ALERT_ID]).size()
        assert sizes.max() <= 3
        # account 1 has 7 distinct items: every definition of it is filled to top_k
        assert (sizes.loc[1] == 3).all()

    def test_every_fired_definition_with_account_history_and_nothing_else(self, recs):
        got = set(recs[[S.ACCOUNT_ID, S.ALERT_ID]].drop_duplicates().itertuples(index=False, name=None))
        assert got == EXPECTED_DEFINITIONS

    def test_no_item_twice_for_one_definition(self, recs):
        assert not recs.duplicated([S.ACCOUNT_ID, S.ALERT_ID, S.ITEM_TYPE, S.ITEM_ID]).any()

    def test_items_come_from_the_same_account(self, recs, world):
        _, items, _, _ = world
        known = set(items[[S.ACCOUNT_ID, S.ITEM_TYPE, S.ITEM_ID]].itertuples(index=False, name=None))
        got = set(recs[[S.ACCOUNT_ID, S.ITEM_TYPE, S.ITEM_ID]].itertuples(index=False, name=None))
        assert got <= known
        # account 2 only ever used d1
        assert set(recs.loc[recs[S.ACCOUNT_ID] == 2, S.ITEM_ID]) == {"d1"}

    def test_deterministic(self, world):
        sessions, items, fired, config = world
        first = self.make_ranker().fit(sessions, items, fired, config).recommend(fired)
        shuffled = [f.sample(frac=1.0, random_state=7) for f in (sessions, items, fired)]
        second = self.make_ranker().fit(*shuffled, config).recommend(shuffled[2])
        pd.testing.assert_frame_equal(first, second)

    def test_inputs_not_mutated(self, world):
        sessions, items, fired, config = world
        before = [f.copy(deep=True) for f in (sessions, items, fired)]
        ranker = self.make_ranker().fit(sessions, items, fired, config)
        ranker.recommend(fired)
        for original, after in zip(before, (sessions, items, fired)):
            pd.testing.assert_frame_equal(original, after)

    def test_no_history_gives_no_rows_with_the_right_columns(self, world):
        sessions, items, fired, config = world
        ranker = self.make_ranker().fit(sessions.iloc[0:0], items.iloc[0:0], fired, config)
        recs = ranker.recommend(fired)
        assert recs.empty
        assert list(recs.columns) == list(S.RECOMMENDATION_COLUMNS)
        assert recs[S.RANK].dtype == "int32" and recs[S.SCORE].dtype == "float64"
