"""Per-query canonicalization speed: medians per language and text size.

The speed targets that used to be asserted in ``tests/unit/test_normalize.py``
live here (issue 13): a test must pass on a loaded machine, a benchmark
measures and reports. Target: under 2 ms per query on 10 KB texts.

::

    .venv/bin/python bench/bench_canonical.py                 # 100 B, 1 KB, 10 KB; 7 repeats
    .venv/bin/python bench/bench_canonical.py --sizes 10240 --repeat 21

For each language and size it canonicalizes a set of realistic query shapes
(AND/OR chains, joins, nested groups, pipelines) and pathological ones (deep
nesting, unterminated quotes, long runs), each with cold caches (the term and
literal caches are cleared before every run, so every text is new), and
prints the median (cold, and warm: the same text again with its terms cached)
and the worst per-shape median in milliseconds. With
``--rows`` it also times ``normalize_items`` on that many generated item rows.
The results go to ``bench/results/canonical-<label>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

Shape = tuple[str, Callable[[int], str]]

SHAPES: dict[str, list[Shape]] = {
    "lucene": [
        (
            "terms",
            lambda n: " AND ".join(
                f'field{i}:value{i} host:ip-10-0-{i % 256}-1 "phrase {i}"' for i in range(n // 20 + 1)
            )[:n],
        ),
        (
            "or-groups",
            lambda n: " OR ".join(
                f"(service:svc{i % 40} AND status:{500 + i % 4} AND trace.id:{i:016x})" for i in range(n // 50 + 1)
            )[:n],
        ),
        ("nested", lambda n: "(a OR " * (n // 6)),
        ("field-groups", lambda n: "a:(" * (n // 3)),
        ("open-quote", lambda n: 'a:"' + "x" * n),
        ("brackets", lambda n: "[" * n),
    ],
    "dql": [
        ("filter-and", lambda n: "fetch logs | filter " + " and ".join(f'f{i} == "v{i}"' for i in range(n // 19 + 1))),
        (
            "filter-or-groups",
            lambda n: (
                "fetch logs | filter "
                + " or ".join(f'(k8s.pod.name == "p-{i}" and loglevel == "ERROR")' for i in range(n // 54 + 1))
            ),
        ),
        ("kql", lambda n: " and ".join(f"service:svc{i} or level:warn" for i in range(n // 33 + 1))),
        ("stages", lambda n: "fetch logs " + "| limit 1 " * (n // 10)),
        ("nested", lambda n: "fetch " + "[{(" * (n // 3)),
        ("open-quote", lambda n: 'fetch logs | filter "' + "x" * n),
    ],
    "sql": [
        (
            "where-and",
            lambda n: "SELECT * FROM t WHERE " + " AND ".join(f"c{i} = '{i:08x}ab'" for i in range(n // 24 + 1)),
        ),
        (
            "join-on",
            lambda n: "SELECT * FROM a JOIN b ON " + " AND ".join(f"a.c{i} = b.c{i}" for i in range(n // 20 + 1)),
        ),
        (
            "having",
            lambda n: (
                "SELECT k FROM t GROUP BY k HAVING "
                + " OR ".join(f"(count(c{i}) > {i} AND max(d{i}) < 5)" for i in range(n // 40 + 1))
            ),
        ),
        ("nested-calls", lambda n: "select " + "f(a" * (n // 3)),
        ("open-comment", lambda n: "select /*" + "*" * n),
        ("open-quote", lambda n: "select '" + "x" * n),
    ],
}


def _clear_caches() -> None:
    """Clear every lru_cache of the normalize modules (a cold run: every term is new)."""
    import importlib
    import pkgutil

    from alertrec.stages import normalize

    modules = [normalize]
    if hasattr(normalize, "__path__"):  # a package
        modules += [
            importlib.import_module(f"{normalize.__name__}.{m.name}") for m in pkgutil.iter_modules(normalize.__path__)
        ]
    for module in modules:
        for value in vars(module).values():
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()


def _cold_run(text: str, language: str) -> float:
    from alertrec.stages import normalize

    _clear_caches()
    start = time.perf_counter()
    normalize.canonical_query(text, language)
    return time.perf_counter() - start


def _warm_run(text: str, language: str) -> float:
    """The same text again: its terms and literals are cached, as across a day's texts."""
    from alertrec.stages import normalize

    start = time.perf_counter()
    normalize.canonical_query(text, language)
    return time.perf_counter() - start


def measure(sizes: list[int], repeat: int) -> list[dict]:
    """One row per (language, size): median over shapes and repeats, worst shape median, in ms."""
    rows = []
    for language, shapes in SHAPES.items():
        for size in sizes:
            per_shape = {}
            samples: list[float] = []
            warm_samples: list[float] = []
            for name, make in shapes:
                text = make(size)
                times = [_cold_run(text, language) for _ in range(repeat)]
                per_shape[name] = statistics.median(times) * 1e3
                samples.extend(times)
                warm_samples.extend(_warm_run(text, language) for _ in range(repeat))
            worst = max(per_shape, key=per_shape.get)
            rows.append(
                {
                    "language": language,
                    "size": size,
                    "median_ms": round(statistics.median(samples) * 1e3, 4),
                    "warm_median_ms": round(statistics.median(warm_samples) * 1e3, 4),
                    "worst_shape": worst,
                    "worst_shape_median_ms": round(per_shape[worst], 4),
                    "shape_median_ms": {k: round(v, 4) for k, v in per_shape.items()},
                }
            )
    return rows


def measure_items(n: int) -> dict:
    """``normalize_items`` on ``n`` generated rows (about 1 distinct text in 8)."""
    import numpy as np
    import pandas as pd

    from alertrec import schema as S
    from alertrec.stages.normalize import normalize_items

    rng = np.random.default_rng(0)
    kinds = rng.integers(0, 3, n)
    numbers = rng.integers(0, 1 << 30, n) % max(n // 8, 1)
    texts = [
        f"service:svc{num % 40} AND status:{500 + num % 4} AND host.name:ip-10-0-{num % 256}-{num % 199}"
        if k == 0
        else f"trace.id:{num:016x}{num:016x} OR level:error"
        if k == 1
        else f"SELECT count(*) FROM logs WHERE service = 'svc{num % 40}' AND ts > {1714557600000 + num}"
        for k, num in zip(kinds, numbers)
    ]
    items = pd.DataFrame(
        {
            S.SESSION_ID: np.arange(n) // 5,
            S.ACCOUNT_ID: (np.arange(n) % 50).astype("int64"),
            S.EVENT_ID: np.arange(n).astype(str),
            S.TS: pd.Timestamp("2026-01-20", tz="UTC") + pd.to_timedelta(np.arange(n), unit="s"),
            S.ITEM_TYPE: S.ITEM_QUERY,
            S.ITEM_KEY: texts,
            S.ITEM_TITLE: None,
            S.QUERY_LANGUAGE: np.where(kinds == 2, "sql", "lucene"),
        }
    )
    start = time.perf_counter()
    normalize_items(items)
    elapsed = time.perf_counter() - start
    return {"rows": n, "seconds": round(elapsed, 3), "us_per_row": round(elapsed / n * 1e6, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1024, 10 * 1024])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--rows", type=int, default=0, help="also time normalize_items on this many rows")
    parser.add_argument("--label", default=f"{os.cpu_count()}core")
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args(argv)

    rows = measure(args.sizes, args.repeat)
    print(f"{'language':8} {'size':>7} {'median ms':>10} {'warm ms':>8} {'worst shape':>18} {'its median ms':>14}")
    for row in rows:
        print(
            f"{row['language']:8} {row['size']:>7} {row['median_ms']:>10.3f} {row['warm_median_ms']:>8.3f} "
            f"{row['worst_shape']:>18} {row['worst_shape_median_ms']:>14.3f}"
        )
    result = {
        "bench": "canonical",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "repeat": args.repeat,
        "target_ms_at_10kb": 2.0,
        "rows": rows,
    }
    if args.rows:
        result["normalize_items"] = measure_items(args.rows)
        print(f"normalize_items: {result['normalize_items']}")
    args.results.mkdir(parents=True, exist_ok=True)
    out = args.results / f"canonical-{args.label}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")
    slow = [r for r in rows if r["size"] >= 10 * 1024 and r["worst_shape_median_ms"] >= 2.0]
    return 1 if slow else 0


if __name__ == "__main__":
    raise SystemExit(main())
