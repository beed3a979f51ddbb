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

The id a query text gets, for notebooks and for the pipeline that attaches
recommendations to alerts::

    ar.query_item_id("service:api AND status:503", "lucene")   # 'q_8b3064221667ffb7'
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
    "Extraction": "alertrec.io.extract",
    "extract_sessions": "alertrec.io.extract",
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
    "query_item_id",
    "__version__",
]


def run_day(config: Config, spark: Any = None, storage: Any = None) -> dict[str, Any]:
    """Run the nightly job for one day; see :func:`alertrec.pipeline.run_day`."""
    from alertrec.pipeline import run_day as _run_day  # Spark and friends load on first use

    return _run_day(config, spark=spark, storage=storage)


def query_item_id(text: str, language: str | None) -> str:
    """The ``item_id`` a query text gets: ``q_`` + 16 hex digits of the sha1 of its canonical form.

    Texts that differ only in literal values, term or condition order,
    whitespace or keyword case get the same id (``docs/contract.md``). This is
    the id WITHOUT the query registry: a query whose canonical form was linked
    to a near-duplicate registered on an earlier day is published under that
    older id; ``QueryRegistry.lookup`` (:mod:`alertrec.stages.normalize.registry`)
    on the run's registry gives it.

    Parameters
    ----------
    text : str
        The raw query text (``query.text`` of a ``query_run`` payload).
    language : str or None
        ``lucene``, ``dql`` or ``sql``; ``None`` guesses from the text.

    Returns
    -------
    str
        The id; never raises.

    Examples
    --------
    >>> import alertrec
    >>> alertrec.query_item_id("status:503 service:api", "lucene")
    'q_8b3064221667ffb7'
    """
    from alertrec.stages.normalize.canonical import query_text_item_id  # pandas loads on first use

    return query_text_item_id(text, language)


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
