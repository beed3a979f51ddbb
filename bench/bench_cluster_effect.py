"""How much the cluster stage changes the published recommendations.

Fits the default MXNet ranker twice on the same window, with and without the
cluster stage's patterns, and compares the two days of recommendations::

    .venv/bin/python bench/bench_cluster_effect.py --fixtures
    .venv/bin/python bench/bench_cluster_effect.py --actions 100000 --seed 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DAY = "2026-02-01"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", action="store_true")
    parser.add_argument("--actions", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    args = parser.parse_args(argv)

    from alertrec.account import cluster_params
    from alertrec.config import Config
    from alertrec.io.extract import extract_sessions
    from alertrec.io.inputs import read_inputs
    from alertrec.io.spark import build_spark
    from alertrec.mxnet_ranker import MXNetRanker
    from alertrec.stages.cluster import cluster_sessions
    from alertrec.stages.explode import explode_items
    from alertrec.stages.normalize import normalize_items

    if args.fixtures:
        root, name = REPO / "data" / "fixtures", "fixtures"
    else:
        from alertrec.generate import WorldSpec, generate_world, write_world

        root, name = args.out / f"world-{args.actions}-{args.seed}", f"world-{args.actions}-{args.seed}"
        if not (root / ".complete").exists():
            write_world(
                generate_world(
                    WorldSpec.for_actions(args.actions, end_date=dt.date.fromisoformat(DAY)), seed=args.seed
                ),
                root,
            )
            (root / ".complete").write_text("ok")
    spark = build_spark(master="local[*]")
    config = Config(input_root=str(root), output_root=str(args.out / "unused"), date=DAY)
    alerts, actions, _ = read_inputs(spark, config)
    ex = extract_sessions(spark, alerts, actions, config)
    items = normalize_items(explode_items(ex.items)[0], link_threshold=config.query_link_threshold)
    clusters = cluster_sessions(ex.sessions, items, cluster_params(config))
    key = ["account_id", "alert_id", "item_type", "item_id"]
    with_c = MXNetRanker().fit(ex.sessions, items, ex.fired, config, clusters=clusters).recommend(ex.fired)
    without = MXNetRanker().fit(ex.sessions, items, ex.fired, config, clusters=None).recommend(ex.fired)
    merged = with_c.merge(without, on=key, how="outer", suffixes=("_with", "_without"), indicator=True)
    both = merged[merged["_merge"] == "both"]
    groups = with_c[["account_id", "alert_id"]].drop_duplicates()
    top1 = (
        with_c[with_c["rank"] == 1].set_index(["account_id", "alert_id"])["item_id"]
        != without[without["rank"] == 1].set_index(["account_id", "alert_id"])["item_id"]
    ).sum()
    result = {
        "input": name,
        "definitions": int(len(groups)),
        "rows_with_clusters": int(len(with_c)),
        "rows_only_with_clusters": int((merged["_merge"] == "left_only").sum()),
        "rows_only_without_clusters": int((merged["_merge"] == "right_only").sum()),
        "shared_rows_with_another_rank": int((both["rank_with"] != both["rank_without"]).sum()),
        "definitions_with_another_top1": int(top1),
        "reasons_naming_a_pattern": int(with_c["reason"].str.contains("investigation pattern").sum()),
    }
    print(json.dumps(result, indent=2))
    (args.out / f"cluster_effect-{name}.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
