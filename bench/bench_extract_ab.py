"""A/B of the extraction's SQL on one machine load.

The staged extraction (``stage_extraction``, as the nightly job runs it) with the statements
of another folder (``before``) and with the package's own (``after``), alternating in one Spark
session so that both see the same load and the same JIT warm-up. Prints each run's wall time
and step timings, then the medians::

    mkdir -p /tmp/sql_before
    for f in sql/*.sql; do git show REV:$f > /tmp/sql_before/$(basename $f); done
    .venv/bin/python bench/bench_extract_ab.py /tmp/sql_before --repeat 3

``--input`` defaults to bench_run.py's 2.05M-row world (``bench/out/world-2050000-11-a12-d35``;
``bench/bench_run.py --actions 2050000 --accounts 12 --days 35`` generates it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from alertrec.config import Config
from alertrec.io import extract
from alertrec.io.inputs import read_inputs
from alertrec.io.spark import build_spark
from alertrec.pipeline import _rows_read, _sql_conf
from alertrec.sqlfiles import load_statement


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path, help="folder with the other version's sql/*.sql")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--input", default=str(REPO / "bench" / "out" / "world-2050000-11-a12-d35"))
    parser.add_argument("--date", default="2026-02-01")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="alertrec-ab-"))
    config = Config(input_root=args.input, output_root=str(work / "out"), date=dt.date.fromisoformat(args.date))
    spark = build_spark(master="local[*]", driver_memory=config.spark_driver_memory)
    alerts, actions, inputs = read_inputs(spark, config)
    conf = _sql_conf(spark, _rows_read(inputs))
    loaders = {"before": lambda name: (args.before / f"{name}.sql").read_text(), "after": load_statement}
    runs: dict[str, list[tuple[float, dict[str, float]]]] = {name: [] for name in loaders}
    try:
        for _ in range(args.repeat):
            for name, loader in loaders.items():
                extract.load_statement = loader
                shutil.rmtree(work / "stage", ignore_errors=True)
                t = time.perf_counter()
                staged = extract.stage_extraction(spark, alerts, actions, config, str(work / "stage"), sql_conf=conf)
                runs[name].append((time.perf_counter() - t, staged.timings_s))
                print(name, round(runs[name][-1][0], 1), staged.timings_s, flush=True)
    finally:
        extract.load_statement = load_statement
        spark.stop()
        shutil.rmtree(work, ignore_errors=True)
    for name, results in runs.items():
        steps = {k: round(statistics.median(r[1][k] for r in results), 1) for k in results[0][1]}
        print(name, "median", round(statistics.median(r[0] for r in results), 1), "s", steps)


if __name__ == "__main__":
    main()
