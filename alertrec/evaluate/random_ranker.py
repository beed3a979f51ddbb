"""The random ranker of the evaluation: a floor, not a product."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from alertrec import schema as S
from alertrec.config import Config
from alertrec.evaluate.metrics import ITEM
from alertrec.stages.rank import Ranker, empty_recommendations, finish_recommendations

log = logging.getLogger(__name__)


class RandomRanker(Ranker):
    """The account's items of the window in a random order (seeded by ``config.seed`` and the day)."""

    model_version = "random"

    def fit(
        self, sessions: pd.DataFrame, items: pd.DataFrame, fired: pd.DataFrame, config: Config, clusters: Any = None
    ) -> RandomRanker:
        used = items.loc[
            items[S.ITEM_ID].notna() & items[S.SESSION_ID].isin(sessions[S.SESSION_ID]),
            [S.ACCOUNT_ID, *ITEM, S.ITEM_LABEL],
        ]
        self.catalog_ = (
            used.drop_duplicates([S.ACCOUNT_ID, *ITEM]).sort_values([S.ACCOUNT_ID, *ITEM]).reset_index(drop=True)
        )
        self.config_ = config
        return self

    def recommend(self, fired: pd.DataFrame) -> pd.DataFrame:
        rng = np.random.default_rng([int(self.config_.seed), self.config_.date.toordinal()])
        rows = []
        by_account = dict(iter(self.catalog_.groupby(S.ACCOUNT_ID, sort=True)))
        for account, alert in (
            fired[[S.ACCOUNT_ID, S.ALERT_ID]]
            .drop_duplicates()
            .sort_values([S.ACCOUNT_ID, S.ALERT_ID])
            .itertuples(index=False)
        ):
            cat = by_account.get(int(account))
            if cat is None:
                continue
            pick = cat.iloc[rng.permutation(len(cat))[: self.config_.top_k]]
            rows.append(
                pick.assign(
                    **{
                        S.ALERT_ID: alert,
                        S.RANK: np.arange(1, len(pick) + 1),
                        S.SCORE: 1.0 / np.arange(1, len(pick) + 1),
                        S.REASON_TEXT: "random order (evaluation floor)",
                    }
                )
            )
        if not rows:
            return empty_recommendations()
        return finish_recommendations(pd.concat(rows, ignore_index=True), self.model_version, self.config_.generated_at)
