"""alertrec: ranked dashboards and queries for each alert, learned from past investigations.

In a notebook::

    from alertrec import Config, run_day
    report = run_day(Config(input_root="data/fixtures", output_root="./warehouse", date="2026-02-01"))
"""

from __future__ import annotations

from typing import Any

from alertrec.config import Config
from alertrec.errors import AlertrecError, ConfigError, InputError, OutputError, PublishError

__version__ = "0.1.0"

__all__ = [
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
