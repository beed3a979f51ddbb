"""The evaluation's report as a fixed-width table, a JSON file and a PNG chart."""

from __future__ import annotations

import io
import logging
from typing import Any

import numpy as np

from alertrec.evaluate.settings import EvalSettings

log = logging.getLogger(__name__)

TABLE_COLUMNS = (
    ("cause", "hit_rate_at_1", "cause HR@1"),
    ("cause", "hit_rate_at_5", "cause HR@5"),
    ("cause", "mrr", "cause MRR"),
    ("cause", "median_rank", "cause rank"),
    ("cause", "mttr_estimated_s", "MTTR est s"),
    ("used", "hit_rate_at_1", "used HR@1"),
    ("used", "hit_rate_at_5", "used HR@5"),
    ("used", "ndcg_at_10", "NDCG@10"),
    ("used", "mrr", "used MRR"),
)


def format_table(report: dict[str, Any]) -> str:
    """The comparison as a fixed-width table (one row per ranker and subset)."""
    header = ["ranker", "subset", "sessions"] + [label for _, _, label in TABLE_COLUMNS] + ["coverage"]
    rows = [header]
    for name, res in report["rankers"].items():
        for subset in ("all", "cold_start", "cold_start_held_out"):
            m = res[subset]
            if not m.get("sessions"):
                continue
            row = [name, subset, str(m["sessions"])]
            for view, key, _ in TABLE_COLUMNS:
                v = m.get(view, {}).get(key, float("nan"))
                row.append(f"{v:.0f}" if key.endswith("_s") else f"{v:.3f}" if key != "median_rank" else f"{v:.1f}")
            row.append(f"{res['catalog_coverage']:.3f}" if subset == "all" else "")
            rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) if i > 1 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    observed = next(iter(report["rankers"].values()))["all"].get("cause", {}).get("mttr_observed_s")
    if observed is not None:
        lines.append(
            f"observed time to the cause item: {observed:.0f} s (mean over resolved sessions); "
            f"MTTR est: {report['settings']['seconds_per_item']:.0f} s per recommendation opened in rank order"
        )
    return "\n".join(lines)


def render_chart(report: dict[str, Any]) -> bytes:
    """A PNG bar chart of the main metrics per ranker (all sessions, and held-out cold start)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(report["rankers"])
    panels = [
        ("all", "cause", ("hit_rate_at_1", "hit_rate_at_5", "mrr"), "cause item: HR@1, HR@5, MRR"),
        (
            "all",
            "used",
            ("hit_rate_at_1", "hit_rate_at_5", "ndcg_at_10", "mrr"),
            "used items: HR@1, HR@5, NDCG@10, MRR",
        ),
        ("cold_start_held_out", "cause", ("hit_rate_at_1", "hit_rate_at_5", "mrr"), "held-out cold start, cause item"),
    ]
    fig, axes = plt.subplots(1, len(panels) + 1, figsize=(17, 4.2))
    width = 0.8 / max(len(names), 1)
    for ax, (subset, view, keys, title) in zip(axes, panels):
        x = np.arange(len(keys))
        for j, name in enumerate(names):
            m = report["rankers"][name][subset].get(view, {})
            ax.bar(x + j * width, [m.get(k, 0.0) for k in keys], width, label=name)
        ax.set_xticks(
            x + width * (len(names) - 1) / 2,
            [k.replace("hit_rate_at_", "HR@").replace("ndcg_at_", "NDCG@").replace("mrr", "MRR") for k in keys],
        )
        ax.set_ylim(0, 1)
        ax.set_title(title, fontsize=9)
    ax = axes[-1]
    values = [report["rankers"][n]["all"].get("cause", {}).get("mttr_estimated_s", 0.0) / 60 for n in names]
    observed = report["rankers"][names[0]]["all"].get("cause", {}).get("mttr_observed_s", 0.0) / 60 if names else 0
    ax.bar([*names, "observed"], [*values, observed], color=[f"C{i}" for i in range(len(names))] + ["grey"])
    ax.set_title("minutes to the cause item (MTTR estimate)", fontsize=9)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"alertrec evaluate: {report['days'][0]} .. {report['days'][-1]}", fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def write_report(report: dict[str, Any], settings: EvalSettings) -> dict[str, str]:
    """Write ``evaluations/<D>/evaluation.json`` and ``evaluation.png`` under ``output_root``."""
    from alertrec.io.publish import write_json
    from alertrec.io.storage import storage_for

    storage = storage_for(settings.config.output_root)
    storage.check_writable()
    base = f"evaluations/{settings.date.isoformat()}"
    json_url = write_json(storage, f"{base}/evaluation.json", report)
    storage.write_bytes(f"{base}/evaluation.png", render_chart(report))
    return {"json": json_url, "png": storage.url(f"{base}/evaluation.png")}
