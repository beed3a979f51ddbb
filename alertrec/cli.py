"""Command line: parses arguments, builds the config, calls the pipeline; nothing else.

``alertrec run --input ROOT --output ROOT --date D [--history-days N] [--top-k K]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from typing import Any, NoReturn, Sequence

from alertrec.config import Config
from alertrec.errors import AlertrecError

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1  # an unexpected failure; the traceback is in the log with --verbose
EXIT_USAGE = 2  # bad arguments


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``alertrec`` argument parser."""
    parser = _Parser(prog="alertrec", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging, tracebacks on failure")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run the nightly job for one day and publish it")
    run.add_argument("--input", required=True, help="folder or prefix holding alerts/ and actions/")
    run.add_argument("--output", default="./warehouse", help="folder or s3://bucket/prefix (default ./warehouse)")
    run.add_argument("--date", default=None, help="the day D, YYYY-MM-DD (default: today, UTC)")
    run.add_argument("--history-days", type=int, default=28, help="learn from [D - N days, D) (default 28)")
    run.add_argument("--top-k", type=int, default=10, help="at most K rows per alert definition (default 10)")
    run.add_argument("--spark-master", default="local[*]", help="Spark master for a local run (default local[*])")
    run.add_argument("--driver-memory", default="2g", help="Spark driver heap (default 2g)")
    return parser


def config_from_args(args: argparse.Namespace, now: dt.datetime) -> Config:
    """Build the validated :class:`Config` of ``alertrec run`` (raises ConfigError)."""
    return Config(
        input_root=args.input,
        output_root=args.output,
        date=args.date if args.date is not None else now.date().isoformat(),
        history_days=args.history_days,
        top_k=args.top_k,
        spark_master=args.spark_master,
        spark_driver_memory=args.driver_memory,
        generated_at=now,
    )


def setup_logging(verbose: bool) -> None:
    """Plain log lines on stderr."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("py4j", "botocore", "boto3", "urllib3", "s3transfer"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def summary_lines(report: dict[str, Any]) -> list[str]:
    """The short summary printed after a published run."""
    rows = report.get("rows", {})
    actions = rows.get("actions", {})
    sessions = report.get("sessions", {})
    rank = report.get("stages", {}).get("rank", {})
    out = report.get("output", {})
    mean = sessions.get("mean_duration_s")
    return [
        f"published {report['day']} -> {out.get('url')}",
        f"  {out.get('rows', 0)} recommendations for {rank.get('definitions_with_rows', 0)} of "
        f"{rank.get('fired_definitions', 0)} alert definitions that fired, {rank.get('accounts', 0)} accounts "
        f"(model {rank.get('model_version')})",
        f"  {sessions.get('sessions', 0)} investigation sessions, {sessions.get('resolved', 0)} resolved, "
        f"mean duration {mean / 60:.1f} min" if mean is not None else "  no investigation sessions in the window",
        f"  action rows: {actions.get('read', 0)} read = {actions.get('used', 0)} used + "
        f"{actions.get('quarantined', 0)} quarantined + {actions.get('ignored', 0)} ignored",
        f"  report: {report.get('report_url')}",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``alertrec`` console script and ``python -m alertrec``."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # usage errors (one line, exit 2) and --help (exit 0)
        return int(exc.code or 0)
    setup_logging(args.verbose)
    try:
        if args.command == "run":
            from alertrec import pipeline

            config = config_from_args(args, dt.datetime.now(dt.timezone.utc))
            report = pipeline.run_day(config)
            print("\n".join(summary_lines(report)))
            return EXIT_OK
    except AlertrecError as exc:
        print(f"alertrec: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("alertrec: interrupted; the day was not published by this run", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug or an environment failure: one line, traceback with -v
        log.debug("unexpected failure", exc_info=True)
        print(f"alertrec: error: unexpected {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
              "(rerun with -v for the traceback)", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_USAGE
