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

UTC = dt.timezone.utc
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
