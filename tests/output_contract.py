"""The one checker of the output contract, used by every test that produces recommendations.

It reads a published day the way a consumer would (every Parquet file under
``dt=D/``, next to ``_SUCCESS``) and asserts every output rule of
``shared/contract.md``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from alertrec import schema as S


def read_published_day(storage, day: dt.date) -> pa.Table:
    """Read ``recommendations/dt=D/`` through a storage adapter as a consumer would.

    Asserts the day is published (``_SUCCESS`` present), that the manifest in
    ``_SUCCESS`` lists exactly the data files present (so a reader of either
    sees the same rows), and returns all rows.
    """
    prefix = f"{S.RECOMMENDATIONS_DIR}/dt={day.isoformat()}/"
    files = storage.list(prefix)
    success = prefix + S.SUCCESS_MARKER
    assert success in files, f"{prefix} has no {S.SUCCESS_MARKER}: the day is not published"
    data_files = sorted(f for f in files if f.endswith(".parquet"))
    others = sorted(set(files) - set(data_files) - {success})
    assert not others, f"unexpected objects in the published day: {others}"
    manifest = json.loads(storage.read_bytes(success))
    listed = sorted(prefix + f.rsplit("/", 1)[-1] for f in manifest["files"])
    assert listed == data_files, f"manifest lists {listed}, the day holds {data_files}"
    tables = [pq.read_table(pa.BufferReader(storage.read_bytes(f))) for f in data_files]
    assert tables, "a published day holds at least one data file"
    table = pa.concat_tables(tables)
    assert manifest["rows"] == table.num_rows
    return table


def check_recommendations(
    table: pa.Table,
    *,
    top_k: int,
    fired: Iterable[tuple[int, str]] | None = None,
    generated_at: dt.datetime | None = None,
    link_threshold: float | None = 95.0,
) -> pd.DataFrame:
    """Assert every output rule of the contract on one day's rows; return them as pandas.

    Parameters
    ----------
    table : pyarrow.Table
        The rows of one published day.
    top_k : int
        The run's ``--top-k``.
    fired : iterable of (account_id, alert_id), optional
        The definitions that fired in the window: each must have rows, and no
        other definition may.
    generated_at : datetime, optional
        The run's time stamp, when known.
    link_threshold : float, optional
        The run's ``query_link_threshold`` (the default's 95): no list holds two query rows whose labels'
        canonical forms are linked (one row per query in a list).
    """
    # exact schema: names, order and Arrow types
    assert table.schema.names == list(S.RECOMMENDATION_COLUMNS), table.schema.names
    for field in S.RECOMMENDATIONS_ARROW:
        got = table.schema.field(field.name).type
        assert got == field.type, f"{field.name}: {got} != {field.type}"
        assert table.column(field.name).null_count == 0, f"nulls in {field.name}"
    df = table.to_pandas()
    assert len(df) > 0, "no rows"
    key = [S.ACCOUNT_ID, S.ALERT_ID]
    assert set(df[S.ITEM_TYPE]) <= set(S.ITEM_TYPES)
    assert not df.duplicated([*key, S.ITEM_TYPE, S.ITEM_ID]).any(), "an item appears twice for one alert"
    assert not df.duplicated([*key, S.RANK]).any(), "a rank appears twice for one alert"
    for (account, alert), group in df.groupby(key, sort=False):
        group = group.sort_values(S.RANK)
        ranks = group[S.RANK].tolist()
        assert ranks == list(range(1, len(ranks) + 1)), f"{account}/{alert}: ranks {ranks}"
        assert len(ranks) <= top_k, f"{account}/{alert}: {len(ranks)} rows > top-k {top_k}"
        scores = group[S.SCORE].to_numpy()
        assert (scores[1:] <= scores[:-1]).all(), f"{account}/{alert}: score increases with rank {scores}"
    assert df[S.SCORE].map(lambda v: v == v and abs(v) != float("inf")).all(), "non-finite scores"
    for column in (S.ITEM_ID, S.ITEM_LABEL, S.REASON_TEXT, S.MODEL_VERSION, S.ALERT_ID):
        assert (df[column].str.strip().str.len() > 0).all(), f"empty {column}"
    assert not df[S.REASON_TEXT].str.contains("\n").any(), "a reason spans several lines"
    assert df[S.GENERATED_AT].nunique() == 1, "one run stamps one generated_at"
    if generated_at is not None:
        assert df[S.GENERATED_AT].iloc[0] == pd.Timestamp(generated_at).tz_convert("UTC").floor("us")
    dashboards = df[df[S.ITEM_TYPE] == S.ITEM_DASHBOARD]
    queries = df[df[S.ITEM_TYPE] == S.ITEM_QUERY]
    assert not queries[S.ITEM_ID].isin(dashboards[S.ITEM_ID]).any(), "query and dashboard ids collide"
    if link_threshold is not None:
        from alertrec.stages.normalize import canonical_query
        from alertrec.stages.normalize.linking import matches

        for (account, alert), group in queries.groupby(key, sort=False):
            forms = [canonical_query(label, None) for label in group[S.ITEM_LABEL]]
            scores = matches(forms, forms, link_threshold)
            np.fill_diagonal(scores, 0)
            assert not scores.any(), f"{account}/{alert}: two rows of one linked query {group[S.ITEM_ID].tolist()}"
    if fired is not None:
        expected = {(int(a), str(b)) for a, b in fired}
        got = set(map(tuple, df[key].drop_duplicates().itertuples(index=False, name=None)))
        assert got == expected, f"missing {sorted(expected - got)[:5]}, unexpected {sorted(got - expected)[:5]}"
    return df


def without_run_stamp(df: pd.DataFrame) -> pd.DataFrame:
    """The rows without ``generated_at``, sorted, for comparing two runs."""
    return df.drop(columns=[S.GENERATED_AT]).sort_values([S.ACCOUNT_ID, S.ALERT_ID, S.RANK]).reset_index(drop=True)


def definitions_with_history(spark, config) -> tuple[set[tuple[int, str]], int]:
    """The ``fired=`` argument of :func:`check_recommendations` for a run of ``config``.

    Definitions that fired in the window in an account with any investigated item (each must
    get rows), and the number of fired definitions; from the extraction itself.
    """
    from alertrec.io.extract import extract_sessions
    from alertrec.io.inputs import read_inputs

    alerts, actions, _ = read_inputs(spark, config)
    ex = extract_sessions(spark, alerts, actions, config)
    with_items = set(ex.items[S.ACCOUNT_ID])
    fired = ex.fired[ex.fired[S.ACCOUNT_ID].isin(with_items)]
    return set(zip(fired[S.ACCOUNT_ID].astype(int), fired[S.ALERT_ID])), len(ex.fired)
