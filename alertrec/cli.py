"""Command line: parses arguments, builds the config, calls the pipeline; nothing else.

``alertrec run --input ROOT --output ROOT --date D [--history-days N] [--top-k K]``
``alertrec evaluate --input ROOT --date D [--days N]`` -- the rankers compared on held-out days
``alertrec serve --output ROOT [--host H] [--port P]`` -- the serving folders over HTTP (alertrec.serving)
``alertrec cron --input ROOT --output ROOT [--date D] ...`` -- the same run under the
day's lock, after the day's input check (``alertrec.ops``; docs/operations.md)
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from alertrec.config import Config
from alertrec.errors import AlertrecError, ConfigError

if TYPE_CHECKING:  # imported where used: the CLI starts without loading them
    from alertrec.io.glue import GlueTarget
    from alertrec.progress import Progress

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1  # an unexpected failure; the traceback is in the log with --verbose
EXIT_USAGE = 2  # bad arguments
# 3 input, 4 output: the exit_code of alertrec.errors.InputError / OutputError
EXIT_LOCKED = 5  # another run of the day holds its lock (alertrec.io.lock.LockError)
EXIT_TERMINATED = 143  # SIGTERM (cron): the day was not published by this run


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
    _add_job_arguments(run)

    cron = sub.add_parser(
        "cron",
        help="the nightly job for a scheduler: the day's lock, the day's input check, plain logs",
        description="Run the nightly job under the day's lock after checking the day's input "
        "(exit codes: docs/operations.md).",
    )
    _add_job_arguments(cron)
    cron.add_argument(
        "--lock-ttl",
        type=float,
        default=900.0,
        help="lease of the S3 lock in seconds, renewed while the run lasts (default 900)",
    )
    cron.add_argument("--no-lock", action="store_true", help="do not take the day's lock")
    cron.add_argument(
        "--no-input-check", action="store_true", help="run even when the day's input (dt=D-1) is missing or empty"
    )

    from alertrec import evaluate as evaluation

    evaluate = sub.add_parser(
        "evaluate",
        help="temporal holdout: the MXNet ranker vs the popularity yardstick vs random",
        description="For each of the N days before D, train on the history before it and score "
        "that day's sessions; prints a table and writes JSON and a PNG chart.",
    )
    # the whole span is collected to the driver: a larger default heap than the job's
    _add_config_arguments(evaluate, driver_memory="2g")
    evaluation.add_arguments(evaluate)
    serve = sub.add_parser(
        "serve",
        help="serve the serving folders over HTTP (SageMaker multi-model container routes)",
        description="HTTP server of the per-account serving folders under ROOT/models/serving/ "
        "(docs/contract.md, Serving); stops cleanly on SIGTERM.",
    )
    serve.add_argument("--output", default="./warehouse", help="the output root; relative model URLs are under it")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (a container: 0.0.0.0)")
    serve.add_argument("--port", type=int, default=8080, help="port (default 8080, as SageMaker needs)")
    serve.add_argument("--max-models", type=int, default=1000, help="loaded models at most (LRU eviction)")
    serve.add_argument(
        "--max-memory-mb",
        type=int,
        default=3072,
        help="ceiling of the loaded models' estimated memory in MiB (default 3072)",
    )
    return parser


def _add_config_arguments(parser: argparse.ArgumentParser, driver_memory: str = "1g") -> None:
    """The settings of :class:`Config` that ``run``, ``cron`` and ``evaluate`` share (one copy)."""
    parser.add_argument("--input", required=True, help="folder or prefix holding alerts/ and actions/")
    parser.add_argument("--output", default="./warehouse", help="folder or s3://bucket/prefix (default ./warehouse)")
    parser.add_argument("--date", default=None, help="the day D, YYYY-MM-DD (default: today, UTC)")
    parser.add_argument("--history-days", type=int, default=28, help="learn from [D - N days, D) (default 28)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the models and samples (default 0)")
    parser.add_argument("--spark-master", default="local[*]", help="Spark master for a local run (default local[*])")
    parser.add_argument("--driver-memory", default=driver_memory, help=f"Spark driver heap (default {driver_memory})")
    parser.add_argument(
        "--shared-max-lists",
        type=int,
        default=3000,
        help="training lists sampled for the shared MXNet model (default 3000)",
    )
    parser.add_argument(
        "--score-batch-definitions",
        type=int,
        default=2000,
        help="fired definitions of an account scored at a time (memory; default 2000)",
    )


def _add_job_arguments(parser: argparse.ArgumentParser) -> None:
    _add_config_arguments(parser)
    parser.add_argument("--top-k", type=int, default=10, help="at most K rows per alert definition (default 10)")
    parser.add_argument(
        "--workers", type=int, default=0, help="processes of the per-account work (default 0: every available core)"
    )
    parser.add_argument(
        "--max-account-rows",
        type=int,
        default=5_000_000,
        help="fail the run when one account has more staged rows (default 5000000)",
    )
    parser.add_argument(
        "--serving-bundles",
        action="store_true",
        help="also write each account's serving folder models/serving/dt=D/account=A/ (alertrec serve)",
    )
    parser.add_argument(
        "--staging", default="", help="staging folder or prefix of the per-account frames (default: a temp dir locally)"
    )
    parser.add_argument(
        "--ranker",
        choices=("mxnet", "popularity"),
        default="mxnet",
        help="the learned MXNet ranker (default) or the popularity yardstick",
    )
    parser.add_argument(
        "--engine",
        choices=("local", "spark"),
        default="local",
        help="run the per-account work in a local process pool or on Spark's executors (EMR)",
    )
    parser.add_argument(
        "--input-cache-dir",
        default="",
        help="local copy of s3:// input for a local Spark (default: alertrec-input-cache in the temp folder)",
    )
    parser.add_argument(
        "--input-cache-gb",
        type=float,
        default=None,
        help="bound of that copy in GiB; least recently used days beyond it are evicted (default 20)",
    )
    parser.add_argument(
        "--glue-database",
        default=None,
        help="register the published day in this Glue database (with --glue-table; s3:// output)",
    )
    parser.add_argument("--glue-table", default=None, help="the Glue table of --glue-database (created if missing)")


def glue_from_args(args: argparse.Namespace) -> GlueTarget | None:
    """The Glue target of ``--glue-database``/``--glue-table`` (both or neither; raises ConfigError)."""
    database, table = getattr(args, "glue_database", None), getattr(args, "glue_table", None)
    if database is None and table is None:
        return None
    if database is None or table is None:
        raise ConfigError("--glue-database and --glue-table go together")
    from alertrec.io.glue import GlueTarget

    return GlueTarget(database=database, table=table)


def shared_config(args: argparse.Namespace, now: dt.datetime) -> dict[str, Any]:
    """The :class:`Config` settings of :func:`_add_config_arguments` from parsed arguments."""
    return dict(
        input_root=args.input,
        output_root=args.output,
        date=args.date if args.date is not None else now.date().isoformat(),
        history_days=args.history_days,
        seed=args.seed,
        spark_master=args.spark_master,
        spark_driver_memory=args.driver_memory,
        shared_max_lists=args.shared_max_lists,
        score_batch_definitions=args.score_batch_definitions,
        generated_at=now,
    )


def config_from_args(args: argparse.Namespace, now: dt.datetime) -> Config:
    """Build the validated :class:`Config` of ``alertrec run`` (raises ConfigError)."""
    return Config(
        **shared_config(args, now),
        top_k=args.top_k,
        workers=args.workers,
        max_account_rows=args.max_account_rows,
        staging_root=args.staging,
        serving_bundles=args.serving_bundles,
        engine=args.engine,
        ranker=args.ranker,
        input_cache_dir=getattr(args, "input_cache_dir", "") or "",
        **_cache_bytes(args),
    )


def _cache_bytes(args: argparse.Namespace) -> dict[str, Any]:
    """``input_cache_bytes`` from ``--input-cache-gb`` when given (raises ConfigError when not > 0)."""
    gb = getattr(args, "input_cache_gb", None)
    if gb is None:
        return {}
    if not gb > 0:
        raise ConfigError(f"--input-cache-gb must be > 0, got {gb}")
    return {"input_cache_bytes": int(gb * 1024**3)}


def setup_logging(verbose: bool) -> Progress:
    """Log lines on stderr: a status line at a terminal, plain lines otherwise (alertrec.progress)."""
    from alertrec import progress

    return progress.setup_logging(verbose, stream=sys.stderr, detail=_spark_stages)


def _spark_stages() -> str | None:
    """The active Spark stages for the terminal's status line; None when Spark is not in use."""
    if "pyspark" not in sys.modules:
        return None
    from alertrec.io.spark import active_stages

    return active_stages()


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
        f"mean duration {mean / 60:.1f} min"
        if mean is not None
        else "  no investigation sessions in the window",
        f"  action rows: {actions.get('read', 0)} read = {actions.get('used', 0)} used + "
        f"{actions.get('quarantined', 0)} quarantined + {actions.get('ignored', 0)} ignored",
        f"  report: {report.get('report_url')}",
    ]


def spark_submit_main(argv: Sequence[str], command: str = "cron") -> int:
    """Entry of the ``jobs/`` scripts: ``alertrec <command> ARGS``, with spark-submit's master.

    Under spark-submit (``PYSPARK_GATEWAY_PORT`` set by it) the job runs on the
    master the submission names (``yarn`` on EMR, ``local[2]`` in the tests)
    unless ``--spark-master`` is given; ``-v`` may appear anywhere.
    """
    args = list(argv)
    verbose = [a for a in args if a in ("-v", "--verbose")]
    args = [a for a in args if a not in ("-v", "--verbose")]
    if os.environ.get("PYSPARK_GATEWAY_PORT") and not any(
        a == "--spark-master" or a.startswith("--spark-master=") for a in args
    ):
        from alertrec.io.spark import submitted_master

        master = submitted_master()
        if master:
            args += ["--spark-master", master]
    return main([*verbose[:1], command, *args])


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``alertrec`` console script and ``python -m alertrec``."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # usage errors (one line, exit 2) and --help (exit 0)
        return int(exc.code or 0)
    shown = setup_logging(args.verbose)
    try:
        if args.command == "run":
            from alertrec import ops
            from alertrec.io.engine_errors import translated_engine_errors

            config = config_from_args(args, dt.datetime.now(dt.UTC))
            glue = glue_from_args(args)
            with translated_engine_errors("running the day"):
                # the day's lock, as for cron: a second run of the same day is refused (exit 5)
                report = ops.run_day_guarded(config, lock=True, check_input=False, glue=glue)
            shown.close()
            print("\n".join(summary_lines(report)))
            if shown.interactive:
                from alertrec.progress import timings_line

                print(timings_line(report))
            return EXIT_OK
        if args.command == "cron":
            return _cron(args, shown)
        if args.command == "serve":
            from alertrec.serving.app import ServeSettings, serve

            if args.max_models < 1 or args.max_memory_mb < 1 or not 0 < args.port < 65536:
                raise ConfigError("--max-models and --max-memory-mb must be >= 1, --port within 1..65535")
            return serve(
                ServeSettings(
                    root=args.output, max_models=args.max_models, max_memory_bytes=args.max_memory_mb * 2**20
                ),
                host=args.host,
                port=args.port,
            )
        if args.command == "evaluate":
            from alertrec import evaluate as evaluation

            now = dt.datetime.now(dt.UTC)
            lines = evaluation.evaluate_from_args(args, Config(**shared_config(args, now)))
            shown.close()
            print("\n".join(lines))
            return EXIT_OK
    except AlertrecError as exc:
        shown.close()
        log.debug("failed", exc_info=True)
        print(f"alertrec: error: {_one_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        shown.close()
        print("alertrec: interrupted; the day was not published by this run", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug or an environment failure: one line, traceback with -v
        shown.close()
        log.debug("unexpected failure", exc_info=True)
        print(f"alertrec: error: unexpected {_one_line(exc)} (rerun with -v for the traceback)", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_USAGE


def _one_line(exc: BaseException) -> str:
    """The one line of ``exc`` that the user sees (alertrec.io.engine_errors.one_line)."""
    from alertrec.io.engine_errors import one_line

    return one_line(exc)


def _cron(args: argparse.Namespace, shown: Progress) -> int:
    """``alertrec cron``: the guarded run; the summary goes to the log unless a person watches."""
    from alertrec import ops
    from alertrec.progress import timings_line

    config = config_from_args(args, dt.datetime.now(dt.UTC))
    if args.lock_ttl <= 0:
        raise ConfigError(f"--lock-ttl must be > 0 seconds, got {args.lock_ttl}")
    from alertrec.io.engine_errors import translated_engine_errors

    try:
        with ops.terminate_on_sigterm(), translated_engine_errors("running the day"):
            report = ops.run_day_guarded(
                config,
                lock=not args.no_lock,
                lock_ttl_s=args.lock_ttl,
                check_input=not args.no_input_check,
                glue=glue_from_args(args),
            )
    except ops.Terminated:
        shown.close()
        print("alertrec: terminated (SIGTERM); the day was not published by this run", file=sys.stderr)
        return EXIT_TERMINATED
    shown.close()
    lines = [*summary_lines(report), timings_line(report)]
    if "glue" in report:
        lines.append(f"  glue: {report['glue']['table']} {report['glue']['partition']}")
    if shown.interactive:
        print("\n".join(lines))
    else:
        for line in lines:
            log.info("%s", line.strip())
    return EXIT_OK
