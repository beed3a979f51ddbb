"""read_inputs: partition pruning, the dict of what was read, and one-line InputErrors."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from alertrec import schema as s
from alertrec.config import Config
from alertrec.errors import InputError
from alertrec.io.inputs import read_inputs

pytestmark = pytest.mark.spark

UTC = dt.UTC
D = "2026-02-01"


def write_partition(root, dataset, day, table):
    folder = root / dataset / f"dt={day}"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / "part-0.parquet")


def alerts_table(n=1, fired_at=dt.datetime(2026, 1, 20, tzinfo=UTC)):
    return pa.Table.from_pylist(
        [
            {
                s.ACCOUNT_ID: 1,
                s.ALERT_EVENT_ID: f"f{i}",
                s.ALERT_ID: "cpu",
                s.ALERT_TITLE: "CPU high",
                s.SEVERITY: "HIGH",
                s.FIRED_AT: fired_at,
            }
            for i in range(n)
        ],
        schema=s.ALERTS_ARROW,
    )


def actions_table(n=1, ts=dt.datetime(2026, 1, 20, tzinfo=UTC)):
    return pa.Table.from_pylist(
        [
            {
                s.EVENT_ID: f"e{i}",
                s.ACCOUNT_ID: 1,
                s.USER_ID: "u1",
                s.TS: ts,
                s.ACTION: s.DASHBOARD_OPENED,
                s.PAYLOAD: '{"dashboard": {"id": "d1"}}',
            }
            for i in range(n)
        ],
        schema=s.ACTIONS_ARROW,
    )


def config_for(root):
    return Config(input_root=str(root), output_root=str(root.parent / "out"), date=D)


@pytest.fixture()
def root(tmp_path):
    root = tmp_path / "in"
    write_partition(root, s.DATASET_ALERTS, "2026-01-02", alerts_table(5))  # before alerts_from day
    write_partition(root, s.DATASET_ALERTS, "2026-01-03", alerts_table(2))  # the lookback day
    write_partition(root, s.DATASET_ALERTS, "2026-01-20", alerts_table(1))
    write_partition(root, s.DATASET_ACTIONS, "2026-01-03", actions_table(7))  # before window_start day
    write_partition(root, s.DATASET_ACTIONS, "2026-01-04", actions_table(1))
    write_partition(root, s.DATASET_ACTIONS, D, actions_table(2))
    write_partition(root, s.DATASET_ACTIONS, "2026-02-02", actions_table(4))  # after D
    return root


def one_line(exc_info) -> str:
    message = str(exc_info.value)
    assert "\n" not in message, message
    return message


def test_reads_only_the_partitions_in_range(spark, root):
    alerts, actions, read = read_inputs(spark, config_for(root))
    assert read[s.DATASET_ALERTS]["partitions"] == ["2026-01-03", "2026-01-20"]
    assert read[s.DATASET_ACTIONS]["partitions"] == ["2026-01-04", D]
    assert (read[s.DATASET_ACTIONS]["dt_from"], read[s.DATASET_ACTIONS]["dt_to"]) == ("2026-01-04", D)
    assert (read[s.DATASET_ALERTS]["dt_from"], read[s.DATASET_ALERTS]["dt_to"]) == ("2026-01-03", D)
    assert alerts.columns == [*s.ALERT_COLUMNS, s.DT]
    assert actions.columns == [*s.ACTION_COLUMNS, s.DT]
    assert dict(actions.dtypes)[s.DT] == "string"
    assert dict(actions.dtypes)[s.TS] == "timestamp"
    assert alerts.count() == 3
    assert sorted(r[s.DT] for r in actions.select(s.DT).collect()) == ["2026-01-04", D, D]


def test_missing_root(spark, tmp_path):
    with pytest.raises(InputError) as exc_info:
        read_inputs(spark, config_for(tmp_path / "nowhere"))
    message = one_line(exc_info)
    assert "nowhere" in message and "does not exist" in message


def test_missing_actions_folder(spark, tmp_path):
    root = tmp_path / "in"
    write_partition(root, s.DATASET_ALERTS, "2026-01-20", alerts_table())
    with pytest.raises(InputError) as exc_info:
        read_inputs(spark, config_for(root))
    message = one_line(exc_info)
    assert "no actions/ folder" in message


def test_no_partition_in_range(spark, tmp_path):
    root = tmp_path / "in"
    write_partition(root, s.DATASET_ALERTS, "2026-01-20", alerts_table())
    write_partition(root, s.DATASET_ACTIONS, "2025-12-01", actions_table())
    write_partition(root, s.DATASET_ACTIONS, "2026-02-02", actions_table())
    with pytest.raises(InputError) as exc_info:
        read_inputs(spark, config_for(root))
    message = one_line(exc_info)
    assert "no actions partition with dt in [2026-01-04, 2026-02-01]" in message
    assert "2025-12-01 to 2026-02-02" in message


def test_empty_dataset_folder(spark, tmp_path):
    root = tmp_path / "in"
    write_partition(root, s.DATASET_ALERTS, "2026-01-20", alerts_table())
    (root / s.DATASET_ACTIONS).mkdir()
    with pytest.raises(InputError) as exc_info:
        read_inputs(spark, config_for(root))
    assert "no actions partition with dt in [2026-01-04, 2026-02-01]" in one_line(exc_info)


def test_missing_column(spark, tmp_path):
    root = tmp_path / "in"
    write_partition(root, s.DATASET_ALERTS, "2026-01-20", alerts_table())
    write_partition(root, s.DATASET_ACTIONS, "2026-01-20", actions_table().drop_columns([s.PAYLOAD, s.USER_ID]))
    with pytest.raises(InputError) as exc_info:
        read_inputs(spark, config_for(root))
    message = one_line(exc_info)
    assert "actions partition dt=2026-01-20 lacks column user_id" in message
    assert "actions partition dt=2026-01-20 lacks column payload" in message


def test_incompatible_column_type(spark, tmp_path):
    root = tmp_path / "in"
    write_partition(root, s.DATASET_ALERTS, "2026-01-20", alerts_table())
    table = actions_table()
    table = table.set_column(table.schema.get_field_index(s.TS), s.TS, pa.array(["2026-01-20"]))
    write_partition(root, s.DATASET_ACTIONS, "2026-01-20", table)
    with pytest.raises(InputError) as exc_info:
        read_inputs(spark, config_for(root))
    message = one_line(exc_info)
    assert "actions partition dt=2026-01-20: column ts is string, expected timestamp[us, tz=UTC]" in message


def test_other_scheme_missing_path_is_an_input_error(spark, tmp_path):
    # a URL (file:// here, s3:// in production) is not checked with os.path: Spark's
    # PATH_NOT_FOUND becomes the InputError
    root = tmp_path / "in"
    write_partition(root, s.DATASET_ALERTS, "2026-01-20", alerts_table())
    config = Config(input_root=f"file://{root}", output_root=str(tmp_path / "out"), date=D)
    with pytest.raises(InputError) as exc_info:
        read_inputs(spark, config)
    assert "no actions/ folder" in one_line(exc_info)


# --------------------------------------------------------------------------- issue 9's table, through the CLI
def _fixture_window(dest, history_days=3):
    """A copy of the bundled fixtures' partitions that a run of FIXTURE_DAY with ``history_days`` reads."""
    import shutil

    from tests.conftest import FIXTURE_DAY, FIXTURES

    day = dt.date.fromisoformat(FIXTURE_DAY)
    for dataset, back in ((s.DATASET_ALERTS, history_days + 1), (s.DATASET_ACTIONS, history_days)):
        for n in range(back + 1):
            name = f"dt={(day - dt.timedelta(days=n)).isoformat()}"
            shutil.copytree(FIXTURES / dataset / name, dest / dataset / name)
    return dest


def _run(root, out, capsys):
    from alertrec import cli
    from tests.conftest import FIXTURE_DAY

    code = cli.main(
        [
            "run",
            "--input",
            str(root),
            "--output",
            str(out),
            "--date",
            FIXTURE_DAY,
            "--history-days",
            "3",
            "--ranker",
            "popularity",
            "--workers",
            "1",
        ]
    )
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, (err.strip().splitlines() or [""])[-1]


def _retype(path, column, values):
    table = pq.read_table(path)
    pq.write_table(table.set_column(table.schema.get_field_index(column), column, values(table[column])), path)


@pytest.mark.parametrize(
    "damage, needle",
    [
        ("random", "is not a Parquet file (it does not start with PAR1)"),
        ("truncated", "is a truncated Parquet file"),
        ("account_id_string", "actions partition dt=2026-01-31: column account_id is string, expected int64"),
        ("ts_string", "actions partition dt=2026-01-31: column ts is string, expected timestamp[us, tz=UTC]"),
        ("no_payload", "actions partition dt=2026-01-31 lacks column payload of the data contract"),
    ],
)
def test_damaged_partition_in_the_window_is_exit_3_with_one_line(spark, tmp_path, capsys, damage, needle):
    root = _fixture_window(tmp_path / "in")
    part = root / s.DATASET_ACTIONS / "dt=2026-01-31" / "part-0.parquet"  # not the first partition
    if damage == "random":
        part = part.with_name("part-x.parquet")
        part.write_bytes(bytes(range(256)) * 8)
    elif damage == "truncated":
        part.write_bytes(part.read_bytes()[:700])
    elif damage == "account_id_string":
        _retype(part, s.ACCOUNT_ID, lambda c: pa.array([str(v) for v in c.to_pylist()]))
    elif damage == "ts_string":
        _retype(part, s.TS, lambda c: pa.array([str(v) for v in c.to_pylist()]))
    else:
        pq.write_table(pq.read_table(part).drop_columns([s.PAYLOAD]), part)
    out = tmp_path / "out"
    code, last = _run(root, out, capsys)
    assert code == 3, last
    assert last.startswith("alertrec: error: ") and needle in last, last
    if damage in ("random", "truncated"):
        assert str(part) in last and "rerun" in last
    assert not (out / s.RECOMMENDATIONS_DIR).exists()


def test_ns_naive_timestamps_in_a_later_partition_are_read_as_utc(spark, tmp_path):
    root = _fixture_window(tmp_path / "in")
    clean = Config(input_root=str(root), output_root=str(tmp_path / "o"), date=D, history_days=3)
    before = {r[s.EVENT_ID]: r[s.TS] for r in read_inputs(spark, clean)[1].filter("dt = '2026-01-31'").collect()}
    part = root / s.DATASET_ACTIONS / "dt=2026-01-31" / "part-0.parquet"
    _retype(part, s.TS, lambda c: c.cast(pa.timestamp("ns")))
    _retype(part, s.ACCOUNT_ID, lambda c: c.cast(pa.int32()))
    after = {r[s.EVENT_ID]: r[s.TS] for r in read_inputs(spark, clean)[1].filter("dt = '2026-01-31'").collect()}
    assert after == before and len(after) > 10


def test_stray_files_are_skipped_and_a_bad_utf8_payload_is_one_malformed_row(spark, tmp_path, capsys):
    import json

    root = _fixture_window(tmp_path / "in")
    code, last = _run(root, tmp_path / "clean", capsys)
    assert code == 0, last
    folder = root / s.DATASET_ACTIONS / "dt=2026-01-31"
    (folder / "README.txt").write_text("exported by the nightly job")
    (folder / ".part-0.parquet.crc").write_bytes(b"\x00crc")
    table = pq.read_table(folder / "part-0.parquet")
    rows = table.to_pylist()
    victim = next(
        i
        for i, r in enumerate(rows)
        if r[s.ACTION] == s.QUERY_RUN
        and r[s.USER_ID]
        and r[s.TS] >= dt.datetime(2026, 1, 31, tzinfo=UTC)
        and r[s.PAYLOAD].startswith('{"query"')
    )
    raw = [(r[s.PAYLOAD] or "").encode() for r in rows]
    raw[victim] = raw[victim][:20] + b"\xed\xa0\x80" + raw[victim][20:]  # a lone surrogate in the query text
    offsets = [0]
    for v in raw:
        offsets.append(offsets[-1] + len(v))
    payload = pa.Array.from_buffers(
        pa.string(), len(raw), [None, pa.array(offsets, pa.int32()).buffers()[1], pa.py_buffer(b"".join(raw))]
    )
    pq.write_table(
        table.set_column(table.schema.get_field_index(s.PAYLOAD), s.PAYLOAD, payload), folder / "part-0.parquet"
    )
    code, last = _run(root, tmp_path / "dirty", capsys)
    assert code == 0, last

    def report(out):
        (path,) = (out / s.RUNS_DIR).glob("*.json")
        return json.loads(path.read_text())

    clean, dirty = report(tmp_path / "clean"), report(tmp_path / "dirty")
    skipped = {e["file"].rsplit("/", 1)[-1]: e["reason"] for e in dirty["inputs"][s.DATASET_ACTIONS]["skipped"]}
    assert skipped == {
        "README.txt": "not a data file (.txt)",
        ".part-0.parquet.crc": skipped[".part-0.parquet.crc"],
    } and skipped[".part-0.parquet.crc"].startswith("hidden")
    a, b = clean["rows"][s.DATASET_ACTIONS], dirty["rows"][s.DATASET_ACTIONS]
    assert a["read"] == b["read"] and b["reconciled"]
    assert b["by_reason"]["quarantined"]["malformed_payload"] == a["by_reason"]["quarantined"]["malformed_payload"] + 1
