"""``alertrec evaluate``: the evaluation's own arguments and the call the CLI makes."""

from __future__ import annotations

import argparse
import logging

from alertrec.config import Config
from alertrec.evaluate.holdout import evaluate
from alertrec.evaluate.report import format_table
from alertrec.evaluate.settings import EvalSettings

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the evaluation's own ``alertrec evaluate`` arguments to ``parser`` (a subparser).

    The job's settings (``--input``, ``--output``, ``--date``, ``--history-days``, ``--seed``,
    Spark and model settings) are the CLI's shared :class:`Config` arguments.
    """
    parser.add_argument("--days", type=int, default=7, help="N, the number of evaluated days D-N .. D-1 (default 7)")
    parser.add_argument(
        "--list-length",
        type=int,
        default=20,
        help="how deep the lists are scored (default 20: beyond the published top 10; >= 10)",
    )
    parser.add_argument(
        "--cold-start-share",
        type=float,
        default=0.2,
        help="share of each day's definitions held out as cold start (default 0.2; 0 = none)",
    )
    return parser


def settings_from_args(args: argparse.Namespace, config: Config) -> EvalSettings:
    """Validated :class:`EvalSettings` from parsed arguments and the job's config (raises ConfigError)."""
    return EvalSettings(
        config=config, days=args.days, list_length=args.list_length, cold_start_share=args.cold_start_share
    )


def evaluate_from_args(args: argparse.Namespace, config: Config) -> list[str]:
    """``alertrec evaluate``: run the evaluation; the lines the CLI prints (table, files written).

    Errors of alertrec (bad settings, unreadable input, unwritable output) propagate as
    :class:`~alertrec.errors.AlertrecError` for the CLI to report as one line.
    """
    settings = settings_from_args(args, config)
    report = evaluate(settings)
    outputs = report.get("outputs", {})
    return [format_table(report), f"report: {outputs.get('json')}", f"chart:  {outputs.get('png')}"]
