"""The cluster stage (explode + DTW + clustering) on a generated world: timings and parallel efficiency.

Two steps, so the scaling part can run on another machine without Spark::

    # 1. here: generate a world, extract its sessions with Spark, explode the payloads
    #    (timed), normalize, and save the stage's input as Parquet
    .venv/bin/python bench/bench_cluster.py prepare --actions 1000000 --seed 11
    # 2. anywhere with numpy/scipy/scikit-learn/dtaidistance: the stage with 1, 2, ... workers
    .venv/bin/python bench/bench_cluster.py run --input bench/out/cluster-input-1000000-11 --workers 1 2 --repeat 3

``run`` reports, per worker count, the median wall time of the stage, sessions/s,
the parallel efficiency T1 / (w · Tw), the time in encoding vs DTW vs
clustering, and the stage's DTW time against a bare single-threaded
``dtw_ndim.distance_matrix_fast`` over the same sequences (the floor).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DAY = "2026-02-01"


def prepare(args: argparse.Namespace) -> dict:

    from alertrec.config import Config
    from alertrec.generate import WorldSpec, generate_world, write_world
    from alertrec.io.extract import extract_sessions
    from alertrec.io.inputs import read_inputs
    from alertrec.io.spark import build_spark
    from alertrec.stages.explode import explode_items
    from alertrec.stages.normalize import normalize_items

    world_root = args.out / f"world-{args.actions}-{args.seed}"
    if not (world_root / ".complete").exists():
        world = generate_world(WorldSpec.for_actions(args.actions, end_date=dt.date.fromisoformat(DAY)), seed=args.seed)
        write_world(world, world_root)
        (world_root / ".complete").write_text(str(len(world.actions)))
    spark = build_spark(master="local[*]", driver_memory="4g")
    config = Config(input_root=str(world_root), output_root=str(args.out / "unused"), date=DAY)
    alerts, actions, _ = read_inputs(spark, config)
    t0 = time.perf_counter()
    ex = extract_sessions(spark, alerts, actions, config)
    t1 = time.perf_counter()
    exploded, quarantine = explode_items(ex.items)
    t2 = time.perf_counter()
    items = normalize_items(exploded, link_threshold=config.query_link_threshold)
    t3 = time.perf_counter()
    dest = args.out / f"cluster-input-{args.actions}-{args.seed}"
    dest.mkdir(parents=True, exist_ok=True)
    keep = ["session_id", "account_id", "alert_id", "seq", "item_type", "item_id"]
    ex.sessions[["session_id", "account_id", "alert_id", "started_at"]].to_parquet(
        dest / "sessions.parquet", index=False
    )
    items[keep].to_parquet(dest / "items.parquet", index=False)
    result = {
        "actions": args.actions,
        "seed": args.seed,
        "sessions": len(ex.sessions),
        "items": len(items),
        "extract_s": round(t1 - t0, 2),
        "explode_parse_s": round(t2 - t1, 3),
        "explode_items_per_s": round(len(items) / max(t2 - t1, 1e-9)),
        "normalize_s": round(t3 - t2, 2),
        "explode_quarantined": int(len(quarantine)),
        "stage_input": str(dest),
    }
    (dest / "prepare.json").write_text(json.dumps(result, indent=2))
    spark.stop()
    return result


def _floor(tasks, window: int) -> float:
    """Seconds of bare dtw_ndim.distance_matrix_fast over every group's sequences, one thread."""
    from dtaidistance import dtw_ndim

    t0 = time.perf_counter()
    for task in tasks:
        if len(task.sequences) >= 2:
            dtw_ndim.distance_matrix_fast(list(task.sequences), window=window, compact=True, parallel=False)
    return time.perf_counter() - t0


def run(args: argparse.Namespace) -> dict:

    import pandas as pd

    from alertrec.parallel import ProcessPoolMapper, available_cores
    from alertrec.stages.cluster import WORKER_MODULES, ClusterParams, build_tasks, cluster_sessions

    sessions = pd.read_parquet(args.input / "sessions.parquet")
    items = pd.read_parquet(args.input / "items.parquet")
    params = ClusterParams()
    tasks, _ = build_tasks(sessions, items, params)
    floor = min(_floor(tasks, params.window) for _ in range(args.repeat))
    out = {
        "cores": available_cores(),
        "sessions": len(sessions),
        "groups": len(tasks),
        "dtw_floor_s": round(floor, 3),
        "by_workers": {},
    }
    reference = None
    for w in args.workers:
        walls, details = [], []
        for _ in range(args.repeat):
            mapper = ProcessPoolMapper(w, key=lambda t: f"account {t.account_id}", preload=WORKER_MODULES)
            t0 = time.perf_counter()
            res = cluster_sessions(sessions, items, params, mapper=mapper)
            walls.append(time.perf_counter() - t0)
            details.append(res.timings)
        if reference is None:
            reference = res.assignments
        identical = bool(res.assignments.equals(reference))
        med = statistics.median(walls)
        pool = [d["pool_wall_s"] for d in details]
        out["by_workers"][w] = {
            "pool_wall_s_median": round(statistics.median(pool), 3),
            "wall_s": [round(x, 3) for x in walls],
            "wall_s_median": round(med, 3),
            "sessions_per_s": round(len(sessions) / med),
            "timings_s_last": details[-1],
            "identical_to_first": identical,
        }
        print(f"workers {w}: median {med:.2f} s {details[-1]} identical={identical}", flush=True)
    t1 = out["by_workers"][args.workers[0]]["wall_s_median"] * args.workers[0]
    p1 = out["by_workers"][args.workers[0]]["pool_wall_s_median"] * args.workers[0]
    for w, r in out["by_workers"].items():
        r["parallel_efficiency"] = round(t1 / (w * r["wall_s_median"]), 3)
        r["pool_parallel_efficiency"] = round(p1 / (w * r["pool_wall_s_median"]), 3)
    dtw_stage = out["by_workers"][args.workers[0]]["timings_s_last"]["dtw_s"]
    out["dtw_stage_over_floor"] = round(dtw_stage / floor, 3) if floor else None
    print(json.dumps(out, indent=2))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--actions", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    r = sub.add_parser("run")
    r.add_argument("--input", type=Path, required=True)
    r.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    r.add_argument("--repeat", type=int, default=3)
    r.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = parser.parse_args(argv)
    result = prepare(args) if args.cmd == "prepare" else run(args)
    if args.cmd == "prepare":
        print(json.dumps(result, indent=2))
    if getattr(args, "json", None):
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
