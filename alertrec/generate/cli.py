"""Command line of the generator: ``python -m alertrec.generate world --out DIR --actions N ...``.

The bundled fixtures are not made here: their planted cases and expected
answers live with the tests (``python -m tests.planted_fixtures --out data/fixtures``).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence

from alertrec.config import parse_date
from alertrec.errors import ConfigError
from alertrec.generate.spec import WorldSpec
from alertrec.generate.world import generate_world
from alertrec.generate.write import write_world

log = logging.getLogger(__name__)

#: the default ``--end-date``: the day the bundled fixtures are built around
DEFAULT_END_DATE = "2026-02-01"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m alertrec.generate world ...``; returns the exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after the program name; ``sys.argv[1:]`` when None.

    Returns
    -------
    int
        0 when the world was written; the error's exit code (2) for bad arguments.
    """
    parser = argparse.ArgumentParser(prog="python -m alertrec.generate", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    world = sub.add_parser("world", help="generate a world and write its alerts/ and actions/")
    world.add_argument("--out", required=True, help="folder receiving alerts/ and actions/")
    world.add_argument("--actions", type=int, default=20_000, help="approximate number of action rows")
    world.add_argument("--seed", type=int, default=0)
    world.add_argument("--end-date", default=DEFAULT_END_DATE, help="the day D, YYYY-MM-DD")
    world.add_argument("--days", type=int, default=28)
    world.add_argument("--dirt", type=float, default=0.02)
    world.add_argument("--novice-share", type=float, default=0.35)
    world.add_argument("--no-drift", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    started = time.perf_counter()
    try:
        try:
            end_date = parse_date(args.end_date)
        except ConfigError as exc:
            raise ConfigError(str(exc).replace("--date", "--end-date", 1)) from None
        spec = WorldSpec.for_actions(
            args.actions,
            end_date,
            days=args.days,
            dirt=args.dirt,
            novice_share=args.novice_share,
            drift=not args.no_drift,
        )
        generated = generate_world(spec, args.seed)
        write_world(generated, args.out)
    except ConfigError as exc:
        log.error("%s", exc)
        return exc.exit_code
    log.info(
        "%d action rows, %d alert rows (%d accounts) written to %s in %.1f s",
        len(generated.actions),
        len(generated.alerts),
        spec.accounts,
        args.out,
        time.perf_counter() - started,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
