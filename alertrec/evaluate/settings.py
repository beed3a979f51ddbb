"""The settings of one evaluation and the rankers it compares by default."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from alertrec.config import Config
from alertrec.errors import ConfigError
from alertrec.evaluate.random_ranker import RandomRanker
from alertrec.stages.rank import Ranker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalSettings:
    """Settings of one evaluation: the job's :class:`Config` and what only an evaluation has.

    Parameters
    ----------
    config : Config
        The job's settings, the one copy: ``input_root``, ``output_root`` (receives
        ``evaluations/<D>/``), ``date`` (``D``: the evaluated days are ``D - days`` ..
        ``D - 1``), ``history_days`` (each day's rankers learn from ``[d - history_days, d)``),
        ``seed`` (of the rankers and of the held-out choice), the Spark and model settings.
    days : int
        Number of evaluated days.
    list_length : int
        How deep the lists are scored (at least ``config.top_k`` and 10, for NDCG@10): the
        evaluation ranks deeper than the job publishes to see where a cause item falls
        beyond the published ``top_k``.
    cold_start_share : float
        Share of each day's definitions held out for the cold-start subset (0: none).
    seconds_per_item : float
        The MTTR estimate's time per opened recommendation.
    """

    config: Config
    days: int = 7
    list_length: int = 20
    cold_start_share: float = 0.2
    seconds_per_item: float = 60.0

    def __post_init__(self) -> None:
        if not isinstance(self.days, int) or self.days < 1:
            raise ConfigError(f"--days must be an integer >= 1, got {self.days!r}")
        if not isinstance(self.list_length, int) or self.list_length < max(10, self.config.top_k):
            raise ConfigError(
                f"--list-length must be an integer >= 10 (the @10 metrics) and >= the job's "
                f"top_k {self.config.top_k}, got {self.list_length!r}"
            )
        if not 0.0 <= self.cold_start_share < 1.0:
            raise ConfigError(f"cold_start_share must be within [0, 1), got {self.cold_start_share!r}")
        if not self.config.input_root:
            raise ConfigError("--input is required: the folder or prefix holding alerts/ and actions/")

    @property
    def date(self) -> dt.date:
        """``D``, the day after the last evaluated one (``config.date``)."""
        return self.config.date

    @property
    def history_days(self) -> int:
        """Days of history of each evaluated day (``config.history_days``)."""
        return self.config.history_days

    def base_config(self, generated_at: dt.datetime | None = None) -> Config:
        """The run config of the whole span (its window is ``[D - days - history_days, D)``),
        scoring ``list_length`` deep."""
        return self.config.replace(
            history_days=self.config.history_days + self.days,
            top_k=self.list_length,
            generated_at=generated_at or self.config.generated_at,
            run_id="evaluate",
        )


RankerSpec = str | Callable[[], Ranker]


def default_rankers() -> dict[str, RankerSpec]:
    """``mxnet``, ``popularity`` (the nightly job's flow with that ``--ranker``) and ``random`` (a floor)."""
    return {"mxnet": "mxnet", "popularity": "popularity", "random": RandomRanker}
