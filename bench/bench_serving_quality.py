"""Quality of the next-step model: replay held-out days step by step (alertrec.serving.replay).

    .venv/bin/python bench/bench_serving_quality.py    # 60k rows, seeds 22 33 (11 tuned on), 2 held-out days each
    .venv/bin/python bench/bench_serving_quality.py --actions 30000 --seeds 11 --days 1

Per seed: a generated world (``alertrec.generate``) of ``--actions`` rows over 28 + ``--days``
days; sessions and items from ``tests/reference_sessionize.py`` (the pandas reference of the
Spark SQL extraction; no Spark), ``normalize_items``; then for every held-out day ``D``: the
28 days before it (``alertrec.evaluate.history_window``), the cluster stage, an
``MXNetRanker`` fit and its published lists, one serving folder per account
(``build_serving_files``), and the replay of the day's sessions of each account against
it. Prints the three rankers' figures and writes ``bench/results/serving-quality.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np
import pandas as pd

from alertrec import schema as S

END = dt.date(2026, 2, 1)
HISTORY_DAYS = 28
log = logging.getLogger("bench_serving_quality")


def world_frames(actions: int, seed: int, days: int) -> dict:
    """Generate a world and extract its sessions and normalized items without Spark."""
    from alertrec.config import Config
    from alertrec.generate import WorldSpec, generate_world
    from alertrec.stages.normalize import normalize_items
    from tests.reference_sessionize import reference_extract

    world = generate_world(WorldSpec.for_actions(actions, end_date=END, days=HISTORY_DAYS + days), seed)
    config = Config(input_root="generated", date=END, history_days=HISTORY_DAYS + days)
    ex = reference_extract(world.alerts, world.actions, config)
    items = normalize_items(ex.items, link_threshold=config.query_link_threshold)
    return {"world": world, "sessions": ex.sessions, "items": items}


def bundles_for_day(sessions: pd.DataFrame, items: pd.DataFrame, day: dt.date, seed: int) -> dict:
    """Serving folders of every account for ``day``, built as the nightly run would.

    Returns ``{"files": {account: {name: bytes}}, "history": (sessions, items), "test": (...)}``.
    """
    from alertrec.config import Config
    from alertrec.evaluate import history_window
    from alertrec.mxnet_ranker import MXNetRanker
    from alertrec.serving.bundle import build_serving_files
    from alertrec.stages.cluster import ClusterParams, cluster_sessions

    d0 = pd.Timestamp(day, tz="UTC")
    hist_s, hist_i = history_window(sessions, items, d0, HISTORY_DAYS)
    test_s = sessions[(sessions[S.STARTED_AT] >= d0) & (sessions[S.STARTED_AT] < d0 + pd.Timedelta(days=1))]
    test_i = items[items[S.SESSION_ID].isin(test_s[S.SESSION_ID])]
    config = Config(input_root="generated", date=day, history_days=HISTORY_DAYS, seed=seed)
    defs = pd.concat([hist_s, test_s])[[S.ACCOUNT_ID, S.ALERT_ID, S.ALERT_TITLE]]
    fired = defs.drop_duplicates([S.ACCOUNT_ID, S.ALERT_ID], keep="last").sort_values([S.ACCOUNT_ID, S.ALERT_ID])
    clusters = cluster_sessions(hist_s, hist_i, ClusterParams())
    ranker = MXNetRanker().fit(hist_s, hist_i, fired, config, clusters=clusters)
    recs = ranker.recommend(fired)
    ranker_files = ranker.to_files()
    files = {}
    for account in sorted(int(a) for a in hist_s[S.ACCOUNT_ID].unique()):
        mine = {k: v for k, v in ranker_files.items() if k.split("/")[0] in ("shared", str(account))}
        files[account] = build_serving_files(account, day, hist_s, hist_i, clusters, recs, mine, config)
    return {"files": files, "history": (hist_s, hist_i), "test": (test_s, test_i)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=60_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[22, 33])
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "serving-quality.json"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    from alertrec.serving.model import Bundle
    from alertrec.serving.replay import replay_day, summarize

    replays, sizes, per_seed = [], [], {}
    t_start = time.perf_counter()
    for seed in args.seeds:
        frames = world_frames(args.actions, seed, args.days)
        seed_replays = []
        for d in range(args.days, 0, -1):
            day = END - dt.timedelta(days=d)
            built = bundles_for_day(frames["sessions"], frames["items"], day, seed)
            hist_s, hist_i = built["history"]
            test_s, test_i = built["test"]
            bundles = {}
            for account, files in built["files"].items():
                sizes.append(sum(len(v) for v in files.values()))
                bundles[account] = Bundle.from_files(files)
            seed_replays.extend(replay_day(bundles, hist_s, hist_i, test_s, test_i))
        per_seed[seed] = summarize(seed_replays)
        replays.extend(seed_replays)
    overall = summarize(replays)
    result = {
        "actions": args.actions,
        "seeds": args.seeds,
        "held_out_days": args.days,
        "bundle_bytes": {"mean": int(np.mean(sizes)), "max": int(np.max(sizes)), "n": len(sizes)},
        "overall": overall,
        "per_seed": per_seed,
        "wall_s": round(time.perf_counter() - t_start, 1),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    cols = {
        "next_item_hit_rate_at_5": "next@5",
        "root_cause_in_top5_after_0": "cause@5 t0",
        "root_cause_in_top5_after_1": "cause@5 t1",
        "root_cause_in_top5_after_2": "cause@5 t2",
        "dynamic_mttr_s": "MTTR s",
        "dynamic_mttr_s_list_not_rank1": "MTTR s (list miss)",
        "real_time_to_cause_s": "real s",
    }
    print(f"{'ranker':<14}" + "".join(f"{c:>20}" for c in cols.values()))
    for name, row in overall.items():
        print(f"{name:<14}" + "".join(f"{row[c]:>20.3f}" for c in cols))
    print(
        f"(list miss: {overall['dynamic']['sessions_list_not_rank1']} sessions whose root cause the published "
        f"list does not rank first; their real time {overall['dynamic']['real_time_to_cause_s_list_not_rank1']:.1f} s)"
    )
    print(
        f"steps {overall['dynamic']['steps']}, resolved sessions {overall['dynamic']['resolved_sessions']}, "
        f"bundle {result['bundle_bytes']['mean'] / 1024:.0f} KiB mean, "
        f"{result['bundle_bytes']['max'] / 1024:.0f} KiB max; "
        f"{result['wall_s']} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
