"""The input check (alertrec/io/input_check.py), the reads it drives and the engine-error translation.

The check itself needs no Spark (footers only); the tests that read through ``read_inputs`` or
make Spark fail on a damaged page use the session's Spark.
"""

from __future__ import annotations

import datetime as dt
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from alertrec import schema as s
from alertrec.config import Config
from alertrec.errors import InputError
from alertrec.io.engine_errors import input_problem, one_line, translated_engine_errors
from alertrec.io.input_check import check_dataset
from alertrec.io.inputs import read_inputs

UTC = dt.UTC
D = "2026-02-01"
DAY1, DAY2 = "2026-01-20", "2026-01-21"


def actions(n=2, *, ts_type=pa.timestamp("us", tz="UTC"), account_type=pa.int64(), payload=None, user="u1"):
    rows = {
        s.EVENT_ID: pa.array([f"e{i}" for i in range(n)]),
        s.ACCOUNT_ID: pa.array([7] * n, account_type),
        s.USER_ID: pa.array([user] * n),
        s.TS: pa.array([dt.datetime(2026, 1, 20, 10, 0, 0, 123456)] * n, ts_type),
        s.ACTION: pa.array([s.DASHBOARD_OPENED] * n),
        s.PAYLOAD: payload if payload is not None else pa.array(['{"dashboard": {"id": "d1"}}'] * n),
    }
    return pa.table(rows)


def alerts(n=1):
    return pa.Table.from_pylist(
        [
            {
                s.ACCOUNT_ID: 7,
                s.ALERT_EVENT_ID: f"f{i}",
                s.ALERT_ID: "cpu",
                s.ALERT_TITLE: "CPU high",
                s.SEVERITY: "HIGH",
                s.FIRED_AT: dt.datetime(2026, 1, 20, tzinfo=UTC),
            }
            for i in range(n)
        ],
        schema=s.ALERTS_ARROW,
    )


def write(root, dataset, day, table, name="part-0.parquet"):
    folder = root / dataset / f"dt={day}"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / name)
    return folder / name


@pytest.fixture()
def root(tmp_path):
    root = tmp_path / "in"
    write(root, s.DATASET_ALERTS, DAY1, alerts())
    write(root, s.DATASET_ACTIONS, DAY1, actions(3))
    write(root, s.DATASET_ACTIONS, DAY2, actions(2))
    return root


def check(root):
    return check_dataset(str(root / s.DATASET_ACTIONS), s.DATASET_ACTIONS, s.ACTION_COLUMNS, "2026-01-04", D)


def error_of(root) -> str:
    with pytest.raises(InputError) as info:
        check(root)
    message = str(info.value)
    assert "\n" not in message
    return message


# --------------------------------------------------------------------------- files
def test_rows_and_files_come_from_the_footers(root):
    result = check(root)
    assert (result.rows, len(result.files), result.partitions, result.skipped) == (5, 2, [DAY1, DAY2], [])


def test_random_bytes_named_parquet_is_an_input_error_naming_the_file(root):
    bad = root / s.DATASET_ACTIONS / f"dt={DAY2}" / "part-x.parquet"
    bad.write_bytes(os.urandom(300))
    message = error_of(root)
    assert message.startswith(f"{bad} (actions partition dt={DAY2}) is not a Parquet file")
    assert "remove it" in message


def test_a_truncated_file_is_an_input_error(root):
    path = root / s.DATASET_ACTIONS / f"dt={DAY2}" / "part-0.parquet"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    message = error_of(root)
    assert f"{path} (actions partition dt={DAY2}) is a truncated Parquet file" in message
    assert "re-export the partition" in message


def test_a_damaged_footer_is_an_input_error(root):
    path = root / s.DATASET_ACTIONS / f"dt={DAY2}" / "part-0.parquet"
    data = bytearray(path.read_bytes())
    footer_len = int.from_bytes(data[-8:-4], "little")
    start = len(data) - 8 - footer_len
    data[start : start + footer_len] = os.urandom(footer_len)
    path.write_bytes(bytes(data))
    assert f"{path} (actions partition dt={DAY2}) is a damaged Parquet file" in error_of(root)


def test_a_hive_file_without_extension_is_data_and_checked(root):
    folder = root / s.DATASET_ACTIONS / f"dt={DAY2}"
    pq.write_table(actions(4), folder / "000000_0")
    assert check(root).rows == 9
    (folder / "000001_0").write_bytes(b"garbage, not parquet")
    assert "000001_0" in error_of(root) and "is not a Parquet file" in error_of(root)


def test_stray_and_hidden_files_are_skipped_and_listed(root):
    folder = root / s.DATASET_ACTIONS / f"dt={DAY2}"
    for name in ("README.txt", ".part-0.parquet.crc", "_SUCCESS", "notes.json", "dump.csv", "x.md", "blob.bin"):
        (folder / name).write_bytes(b"not data")
    (folder / "empty.parquet").write_bytes(b"")
    (folder / "_temporary" / "0").mkdir(parents=True)
    (folder / "_temporary" / "0" / "part-9.parquet").write_bytes(b"half written")
    pq.write_table(actions(1), folder / "part-7.c000")  # unknown extension, Parquet inside: data
    result = check(root)
    assert result.rows == 6 and len(result.files) == 3
    reasons = {os.path.basename(e["file"]): e["reason"] for e in result.skipped}
    assert set(reasons) == {
        "README.txt",
        ".part-0.parquet.crc",
        "_SUCCESS",
        "notes.json",
        "dump.csv",
        "x.md",
        "blob.bin",
        "empty.parquet",
        "part-9.parquet",
    }
    assert reasons["README.txt"] == "not a data file (.txt)"
    assert reasons["_SUCCESS"].startswith("hidden file")
    assert reasons["blob.bin"] == "not a data file (no Parquet magic)"
    assert reasons["empty.parquet"].startswith("empty file")
    assert reasons["part-9.parquet"].startswith("inside a hidden folder")


def test_a_partition_without_payload_names_partition_and_column(root):
    write(root, s.DATASET_ACTIONS, DAY2, actions(2).drop_columns([s.PAYLOAD]))
    message = error_of(root)
    assert f"actions partition dt={DAY2} lacks column payload of the data contract" in message


@pytest.mark.parametrize(
    "column, values, found, expected",
    [
        (s.ACCOUNT_ID, pa.array(["7", "7"]), "string", "int64"),
        (s.TS, pa.array(["2026-01-20", "2026-01-20"]), "string", "timestamp[us, tz=UTC]"),
        (s.ACCOUNT_ID, pa.array([7, 7], pa.uint64()), "uint64", "int64"),
        (s.PAYLOAD, pa.array([b"{}", b"{}"], pa.binary()), "binary", "string"),
        (s.TS, pa.array([dt.date(2026, 1, 20)] * 2, pa.date32()), "date32[day]", "timestamp[us, tz=UTC]"),
    ],
)
def test_a_wrong_type_in_a_later_partition_names_partition_column_found_and_expected(
    root, column, values, found, expected
):
    table = actions(2)
    table = table.set_column(table.schema.get_field_index(column), column, values)
    write(root, s.DATASET_ACTIONS, DAY2, table)
    message = error_of(root)
    assert f"actions partition dt={DAY2}: column {column} is {found}, expected {expected}" in message


def test_several_problems_give_the_first_and_a_count(root):
    write(root, s.DATASET_ACTIONS, DAY1, actions(2).drop_columns([s.PAYLOAD]))
    (root / s.DATASET_ACTIONS / f"dt={DAY2}" / "part-1.parquet").write_bytes(b"x" * 50)
    message = error_of(root)
    assert f"dt={DAY1} lacks column payload" in message and "(and 1 more problem(s)" in message


@pytest.mark.parametrize(
    "kwargs, read_as",
    [
        ({"account_type": pa.int32()}, {s.ACCOUNT_ID: "int"}),
        ({"account_type": pa.uint16()}, {s.ACCOUNT_ID: "int"}),
        ({"ts_type": pa.timestamp("ns")}, {s.TS: "nanos"}),
        ({"ts_type": pa.timestamp("ms")}, {s.TS: "timestamp_ntz"}),
        ({"ts_type": pa.timestamp("ms", tz="UTC")}, {s.TS: "timestamp"}),
    ],
)
def test_losslessly_castable_types_are_accepted(root, kwargs, read_as):
    write(root, s.DATASET_ACTIONS, DAY2, actions(2, **kwargs))
    result = check(root)
    later = dict(next(f for f in result.files if f.partition == DAY2).signature)
    assert {k: later[k] for k in read_as} == read_as


# --------------------------------------------------------------------------- reading
def config_for(root):
    return Config(input_root=str(root), output_root=str(root.parent / "out"), date=D)


@pytest.mark.spark
def test_read_inputs_reports_rows_files_and_skipped(spark, root):
    (root / s.DATASET_ACTIONS / f"dt={DAY2}" / "README.txt").write_text("hello")
    _alerts, actions_df, info = read_inputs(spark, config_for(root))
    assert info[s.DATASET_ACTIONS]["rows"] == 5 and info[s.DATASET_ACTIONS]["files"] == 2
    assert info[s.DATASET_ACTIONS]["skipped"] == [
        {"file": str(root / s.DATASET_ACTIONS / f"dt={DAY2}" / "README.txt"), "reason": "not a data file (.txt)"}
    ]
    assert (info[s.DATASET_ALERTS]["rows"], info[s.DATASET_ALERTS]["files"], info[s.DATASET_ALERTS]["skipped"]) == (
        1,
        1,
        [],
    )
    assert actions_df.count() == 5


@pytest.mark.spark
def test_partitions_with_different_accepted_types_are_read_as_the_contract(spark, tmp_path):
    root = tmp_path / "in"
    write(root, s.DATASET_ALERTS, DAY1, alerts())
    write(root, s.DATASET_ACTIONS, "2026-01-19", actions(1))  # the contract's own types
    write(root, s.DATASET_ACTIONS, DAY1, actions(1, account_type=pa.int32(), ts_type=pa.timestamp("ns")))
    write(root, s.DATASET_ACTIONS, DAY2, actions(1, account_type=pa.int16(), ts_type=pa.timestamp("ms")))
    write(root, s.DATASET_ACTIONS, "2026-01-22", actions(1, ts_type=pa.timestamp("ns", tz="UTC")))
    _alerts, frame, info = read_inputs(spark, config_for(root))
    assert dict(frame.dtypes) == {
        s.EVENT_ID: "string",
        s.ACCOUNT_ID: "bigint",
        s.USER_ID: "string",
        s.TS: "timestamp",
        s.ACTION: "string",
        s.PAYLOAD: "string",
        s.DT: "string",
    }
    got = {r[s.DT]: (r[s.ACCOUNT_ID], r[s.TS]) for r in frame.collect()}
    at = dt.datetime(2026, 1, 20, 10, 0, 0, 123456)  # naive = UTC; Spark hands back the session's UTC wall clock
    assert got == {
        "2026-01-19": (7, at),
        DAY1: (7, at),
        DAY2: (7, at.replace(microsecond=123000)),  # stored in ms
        "2026-01-22": (7, at),
    }
    assert info[s.DATASET_ACTIONS]["rows"] == 4


def _invalid_utf8(values: list[bytes]) -> pa.Array:
    """A string array holding raw bytes, unvalidated (as a broken producer writes them)."""
    offsets, pos = [0], 0
    for v in values:
        pos += len(v)
        offsets.append(pos)
    return pa.Array.from_buffers(
        pa.string(),
        len(values),
        [None, pa.py_buffer(pa.array(offsets, pa.int32()).buffers()[1]), pa.py_buffer(b"".join(values))],
    )


@pytest.mark.spark
def test_invalid_utf8_payload_becomes_null_and_other_text_is_made_valid(spark, tmp_path):
    root = tmp_path / "in"
    write(root, s.DATASET_ALERTS, DAY1, alerts())
    payloads = _invalid_utf8(
        [b'{"query": {"text": "a\xff"}}', b'{"x": "\xed\xa0\x80"}', b'{"ok": 1}']
    )  # bad, lone surrogate, good
    table = actions(3, payload=payloads)
    table = table.set_column(
        table.schema.get_field_index(s.USER_ID), s.USER_ID, _invalid_utf8([b"u\xff", b"u1", b"u1"])
    )
    write(root, s.DATASET_ACTIONS, DAY1, table)
    _alerts, frame, _info = read_inputs(spark, config_for(root))
    rows = frame.orderBy(s.EVENT_ID).toPandas()  # the Arrow conversion that failed the whole run
    assert rows[s.PAYLOAD].tolist() == [None, None, '{"ok": 1}']
    assert rows[s.USER_ID].tolist() == ["u\ufffd", "u1", "u1"]


# --------------------------------------------------------------------------- engine errors
def _flip_page(path):
    """Damage the first data page, keeping the footer valid (the check cannot see it)."""
    data = bytearray(path.read_bytes())
    for i in range(8, min(len(data) // 2, 120)):
        data[i] ^= 0xA5
    path.write_bytes(bytes(data))


@pytest.mark.spark
def test_a_damaged_page_becomes_one_input_error_naming_the_file(spark, tmp_path):
    path = write(tmp_path, "d", DAY1, actions(200), name="part-0.parquet")
    _flip_page(path)
    check_dataset(str(tmp_path / "d"), "d", s.ACTION_COLUMNS, DAY1, DAY1)  # the footer is fine
    with pytest.raises(InputError) as info, translated_engine_errors("reading the input"):
        spark.read.parquet(str(path)).selectExpr("max(length(payload))", "max(event_id)").collect()
    message = str(info.value)
    assert "\n" not in message and "part-0.parquet" in message and "while reading the input" in message
    assert "An error occurred while calling" not in message
    assert info.value.__cause__ is not None


@pytest.mark.spark
def test_one_line_of_a_java_failure_has_no_stack_trace(spark, tmp_path):
    path = tmp_path / "x.parquet"
    path.write_bytes(b"PAR1 not really PAR1")
    with pytest.raises(Exception) as info:
        spark.read.parquet(str(path)).collect()
    line = one_line(info.value)
    assert "\n" not in line and "\tat " not in line and "calling o" not in line, line
    translated = input_problem(info.value)
    assert translated is not None and str(path) in str(translated)


def test_real_bugs_pass_through_unchanged():
    with pytest.raises(KeyError), translated_engine_errors("reading the input"):
        raise KeyError("dt")
    assert input_problem(ValueError("corrupt")) is None  # not an engine exception
    assert one_line(RuntimeError("boom\nsecond")) == "RuntimeError: boom"
    assert one_line(InputError("a\nb")) == "a b"


def test_a_pyarrow_failure_about_a_file_is_an_input_error(tmp_path):
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"nothing")
    with pytest.raises(InputError) as info, translated_engine_errors("reading the input"):
        pq.read_table(path)
    assert "not a Parquet file or is truncated" in str(info.value)
