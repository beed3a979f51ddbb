"""Wall time and peak memory (whole process tree, Spark JVM included) of ``alertrec run``.

Runs the real CLI as a child process and samples the RSS of the child and all
its descendants every 0.1 s. Rerun it anyone::

    .venv/bin/python bench/bench_run.py --fixtures            # the bundled fixtures
    .venv/bin/python bench/bench_run.py --actions 1000000     # a generated world of ~1M action rows
    .venv/bin/python bench/bench_run.py --actions 1000000 --repeat 3
    .venv/bin/python bench/bench_run.py --actions 2050000 --accounts 12 --days 35 --repeat 3   # issue 8's world

Timings are reported per repetition and as a median (the machine is noisy).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from alertrec.monitor import PeakMemory

DAY = "2026-02-01"


def _world(actions: int, seed: int, out: Path, **shape: int) -> tuple[Path, float, int]:
    from alertrec.generate import WorldSpec, generate_world, write_world

    suffix = "".join(f"-{k[0]}{v}" for k, v in sorted(shape.items()))
    root = out / f"world-{actions}-{seed}{suffix}"
    marker = root / ".complete"
    if marker.exists():
        return root, float("nan"), int(marker.read_text())
    t0 = time.perf_counter()
    world = generate_world(WorldSpec.for_actions(actions, end_date=dt.date.fromisoformat(DAY), **shape), seed=seed)
    write_world(world, root)
    elapsed = time.perf_counter() - t0
    marker.write_text(str(len(world.actions)))
    return root, elapsed, len(world.actions)


def _run(input_root: Path, output: Path, extra: list[str]) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "alertrec",
        "run",
        "--input",
        str(input_root),
        "--output",
        str(output),
        "--date",
        DAY,
        *extra,
    ]
    t0 = time.perf_counter()
    child = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with PeakMemory(interval_s=0.1, pid=child.pid) as peak:
        _stdout, stderr = child.communicate()
    wall = time.perf_counter() - t0
    if child.returncode != 0:
        raise SystemExit(f"alertrec run failed ({child.returncode}):\n{stderr[-3000:]}")
    reports = sorted((output / "runs").glob("*.json"), key=lambda p: p.stat().st_mtime)
    report = json.loads(reports[-1].read_text())
    return {"wall_s": round(wall, 2), "peak_tree_rss_mib": round(peak.peak_bytes / 2**20, 1), "report": report}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", action="store_true", help="run on data/fixtures")
    parser.add_argument("--actions", type=int, default=1_000_000, help="action rows of the generated world")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--accounts", type=int, default=None, help="accounts of the generated world")
    parser.add_argument("--days", type=int, default=None, help="days of the generated world")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    parser.add_argument("extra", nargs="*", help="extra arguments for alertrec run (after --)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.fixtures:
        input_root, gen_s, rows, name = REPO / "data" / "fixtures", None, None, "fixtures"
    else:
        shape = {k: v for k, v in (("accounts", args.accounts), ("days", args.days)) if v is not None}
        input_root, gen_s, rows = _world(args.actions, args.seed, args.out, **shape)
        name = input_root.name
    runs = []
    for i in range(args.repeat):
        output = args.out / f"warehouse-{name}"
        runs.append(_run(input_root, output, args.extra))
        r = runs[-1]
        print(
            f"run {i + 1}: wall {r['wall_s']} s, peak tree RSS {r['peak_tree_rss_mib']} MiB, "
            f"stages {r['report']['timings_s']}",
            flush=True,
        )
    last = runs[-1]["report"]
    result = {
        "input": name,
        "generated_rows": rows,
        "generation_s": gen_s,
        "action_rows_read": last["rows"]["actions"]["read"],
        "sessions": last["sessions"]["sessions"],
        "recommendation_rows": last["output"]["rows"],
        "wall_s": [r["wall_s"] for r in runs],
        "wall_s_median": statistics.median(r["wall_s"] for r in runs),
        "peak_tree_rss_mib": [r["peak_tree_rss_mib"] for r in runs],
        "peak_tree_rss_mib_median": statistics.median(r["peak_tree_rss_mib"] for r in runs),
        "stage_timings_s": [r["report"]["timings_s"] for r in runs],
        "spark_jobs": [r["report"].get("spark_jobs") for r in runs],
        "accounts": last.get("accounts"),
        "in_process_peak_mib": round(last["peak_memory_bytes"] / 2**20, 1),
        "rows_per_s_median": round(last["rows"]["actions"]["read"] / statistics.median(r["wall_s"] for r in runs)),
    }
    path = args.out / f"bench_run-{name}.json"
    path.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "stage_timings_s"}, indent=2))
    print(f"written {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
