"""Query ids hold across days (issue 10): D-1, D, then D-3 as a backfill, over one generated world."""

from __future__ import annotations

import datetime as dt
import itertools
import shutil

import pandas as pd
import pytest

from alertrec import schema as S
from alertrec.config import Config
from alertrec.io.publish import read_day
from alertrec.io.registry import REGISTRY_DIR, read_registry
from alertrec.io.storage import storage_for
from alertrec.pipeline import run_day
from alertrec.stages.normalize import canonical_query
from alertrec.stages.normalize.registry import validate_registry
from tests.output_contract import check_recommendations

pytestmark = pytest.mark.spark

END = dt.date(2026, 2, 1)


HISTORY = 14
#: in the windows of D-1 and D-3, not in D's: a near-duplicate variant of a query shows up only there
VARIANT_DAY = END - dt.timedelta(days=HISTORY + 1)


def _variant(text: str, language: str | None) -> str | None:
    """A text whose canonical form links to ``text``'s (ratio >= 95) and sorts before it."""
    from alertrec.stages.normalize.linking import matches

    canon = canonical_query(text, language)
    for pos in range(len(text)):
        if not text[pos].isalpha() or text[pos] in "aA":
            continue
        candidate = text[:pos] + "a" + text[pos + 1 :]
        form = canonical_query(candidate, language)
        if form != canon and form < canon and matches([form], [canon], 95.0).any():
            return candidate
    return None


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A generated world where, on VARIANT_DAY, a frequent query is run as a near-duplicate variant.

    Without the registry, the variant's form sorts first and names the linked pair in the
    windows that hold it (D-1, D-3) but not in D's: the query would change id between runs.
    """
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from alertrec.generate import WorldSpec, generate_world, write_world

    root = tmp_path_factory.mktemp("world-registry")
    write_world(generate_world(WorldSpec.for_actions(12_000, end_date=END), seed=5), root)
    folder = root / S.DATASET_ACTIONS / f"dt={VARIANT_DAY.isoformat()}"
    files = sorted(folder.glob("*.parquet"))
    tables = [pq.read_table(f) for f in files]
    rows = [r for t in tables for r in t.to_pylist()]

    def query(r):
        if r[S.ACTION] != S.QUERY_RUN or not r[S.PAYLOAD]:
            return None
        try:
            q = json.loads(r[S.PAYLOAD]).get("query") or {}
        except ValueError:
            return None
        return (q.get("text"), q.get("language")) if isinstance(q.get("text"), str) else None

    counts = pd.Series([query(r) for r in rows if query(r)]).value_counts()
    for (text, language), _n in counts.items():
        variant = _variant(text, language)
        if variant is not None:
            break
    else:
        raise AssertionError("no query of the day has a linked variant")
    for path, table in zip(files, tables):
        payloads = []
        for r in table.to_pylist():
            if query(r) == (text, language):
                body = json.loads(r[S.PAYLOAD])
                body["query"]["text"] = variant
                payloads.append(json.dumps(body))
            else:
                payloads.append(r[S.PAYLOAD])
        i = table.schema.get_field_index(S.PAYLOAD)
        pq.write_table(table.set_column(i, S.PAYLOAD, pa.array(payloads, pa.string())), path)
    return root


def _run(spark, world, out, day):
    config = Config(
        input_root=str(world),
        output_root=str(out),
        date=day.isoformat(),
        history_days=HISTORY,
        ranker="popularity",
        workers=1,
        run_id=f"reg-{day.isoformat()}",
    )
    run_day(config, spark=spark)
    rows = check_recommendations(read_day(storage_for(str(out)), day), top_k=config.top_k)
    return rows[rows[S.ITEM_TYPE] == S.ITEM_QUERY]


def test_ids_hold_across_days_and_backfills(spark, world, tmp_path):
    out = tmp_path / "out"
    storage = storage_for(str(out))
    days = [END - dt.timedelta(days=1), END, END - dt.timedelta(days=3)]
    runs, registries = {}, []
    for day in days:
        runs[day] = _run(spark, world, out, day)
        registries.append(read_registry(storage, validate_registry).frame)
    # the registry only grows: every form keeps its id and its first day
    for before, after in itertools.pairwise(registries):
        merged = before.merge(after, on=[S.ACCOUNT_ID, S.CANONICAL], how="left", suffixes=("", "_after"))
        assert merged[S.ITEM_ID + "_after"].notna().all()
        assert (merged[S.ITEM_ID] == merged[S.ITEM_ID + "_after"]).all()
        assert (merged["first_seen"] == merged["first_seen_after"]).all()
    # every query published on two days has one id: by its label's text and by its id's forms
    registry = registries[-1]
    id_of = dict(zip(zip(registry[S.ACCOUNT_ID], registry[S.CANONICAL]), registry[S.ITEM_ID]))
    seen: dict[tuple[int, str], set[str]] = {}
    for day, rows in runs.items():
        for account, item_id, label in rows[[S.ACCOUNT_ID, S.ITEM_ID, S.ITEM_LABEL]].itertuples(index=False):
            seen.setdefault((int(account), label), set()).add(item_id)
            assert item_id in set(registry[S.ITEM_ID]), f"{item_id} of {day} is not in the registry"
    assert all(len(ids) == 1 for ids in seen.values()), {k: v for k, v in seen.items() if len(v) > 1}
    shared = [
        k for k in seen if sum(k in set(zip(r[S.ACCOUNT_ID].astype(int), r[S.ITEM_LABEL])) for r in runs.values()) > 1
    ]
    assert len(shared) > 20, "the days should share many queries"
    assert len(id_of) >= len({i for ids in seen.values() for i in ids})
    # a deleted registry is rebuilt from the window (the report says so), and a rerun of the
    # day on the rebuilt registry gives the same rows
    key = [S.ACCOUNT_ID, S.ALERT_ID, S.RANK]

    def rows_of(frame):
        return frame.drop(columns=[S.GENERATED_AT]).sort_values(key).reset_index(drop=True)

    shutil.rmtree(out / REGISTRY_DIR)
    rebuilt = _run(spark, world, out, END)
    report = max((out / S.RUNS_DIR).glob("*.json"), key=lambda p: p.stat().st_mtime).read_text()
    assert '"rebuilt"' in report
    pd.testing.assert_frame_equal(rows_of(_run(spark, world, out, END)), rows_of(rebuilt))


def test_query_item_id_is_the_published_id_of_an_unlinked_query():
    import alertrec

    text = "service:checkout AND status:503"
    assert alertrec.query_item_id(text, "lucene") == alertrec.query_item_id(
        "status:503   AND service:checkout", "lucene"
    )
    assert canonical_query(text, "lucene")


def test_a_corrupt_registry_fails_the_run_before_any_spark_work(tmp_path):
    from alertrec.errors import RegistryError
    from tests.conftest import FIXTURE_DAY, FIXTURES

    out = tmp_path / "out"
    (out / REGISTRY_DIR).mkdir(parents=True)
    (out / REGISTRY_DIR / "v-00000003.parquet").write_bytes(b"not parquet")
    config = Config(input_root=str(FIXTURES), output_root=str(out), date=FIXTURE_DAY, run_id="corrupt-registry")
    with pytest.raises(RegistryError) as exc:
        run_day(config, spark=object())  # never used: the run stops before Spark
    assert "v-00000003.parquet" in str(exc.value) and "\n" not in str(exc.value)
    assert not (out / S.RECOMMENDATIONS_DIR).exists()
