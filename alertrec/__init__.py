"""alertrec: ranked dashboards and queries for each alert, learned from past investigations.

In a notebook::

    from alertrec import Config, run_day
    report = run_day(Config(input_root="data/fixtures", output_root="./warehouse", date="2026-02-01"))

The stages and their frames (docs/frames.md) are importable from here too, for
a notebook that looks inside a run (``notebooks/daily_recommendations.ipynb``)::

    import alertrec as ar
    spark = ar.build_spark(master="local[2]")
    alerts, actions, _ = ar.read_inputs(spark, config)
    extraction = ar.extract_sessions(spark, alerts, actions, config)   # .sessions, .items, .fired
    # the nightly job's per-account flow (explode, normalize, cluster, features, models, scores)
    recs, results = ar.recommend_accounts(extraction.sessions, extraction.items, extraction.fired, config)
    one = ar.recommend_account(account_id, sessions_of_it, items_of_it, fired_of_it, config)

They are imported on first use, so ``import alertrec`` stays light (no Spark).
"""

from __future__ import annotations

from typing import Any

from alertrec.config import Config
from alertrec.errors import AlertrecError, ConfigError, InputError, OutputError, PublishError

__version__ = "0.1.0"

#: public name -> module that defines it; imported on first access (PEP 562)
_LAZY = {
    "build_spark": "alertrec.io.spark",
    "read_inputs": "alertrec.io.inputs",
    "storage_for": "alertrec.io.storage",
    "read_day": "alertrec.io.publish",
    "published_days": "alertrec.io.publish",
    "Extraction": "alertrec.stages.extract",
    "extract_sessions": "alertrec.stages.extract",
    "normalize_items": "alertrec.stages.normalize",
    "ClusterParams": "alertrec.stages.cluster",
    "Clusters": "alertrec.stages.cluster",
    "cluster_sessions": "alertrec.stages.cluster",
    "recommend_account": "alertrec.account",
    "recommend_accounts": "alertrec.account",
    "prepare_account": "alertrec.account",
    "finish_account": "alertrec.account",
    "PopularityRanker": "alertrec.stages.rank",
    "GlueTarget": "alertrec.io.glue",
    "check_day_input": "alertrec.ops",
    "run_day_guarded": "alertrec.ops",
}

__all__ = [
    *_LAZY,
    "AlertrecError",
    "Config",
    "ConfigError",
    "InputError",
    "OutputError",
    "PublishError",
    "run_day",
    "__version__",
]


def run_day(config: Config, spark: Any = None, storage: Any = None) -> dict[str, Any]:
    """Run the nightly job for one day; see :func:`alertrec.pipeline.run_day`."""
    from alertrec.pipeline import run_day as _run_day  # Spark and friends load on first use

    return _run_day(config, spark=spark, storage=storage)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'alertrec' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
