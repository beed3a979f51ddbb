"""Fuzz: damaged inputs never cost more than a one-line exit 3, and a run that publishes accounts for every row.

A seeded generator damages one file of a copy of the bundled fixtures (the partitions of a short
window only, so that each run costs seconds): each kind of damage of issue 9 (random bytes, a
truncated file, stray and hidden files, a wrong type, a missing column, invalid UTF-8, accepted
narrower types) plus random truncations and bit flips of a real partition file. Every run goes
in-process through ``alertrec.cli.main`` with the session's Spark and ``--ranker popularity``; it
must either publish with ``read == used + quarantined + ignored`` for both datasets, or exit 3
with one ``alertrec: error:`` line and publish nothing. Never exit 1, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from alertrec import cli
from alertrec import schema as S
from tests.conftest import FIXTURE_DAY, FIXTURES

pytestmark = pytest.mark.spark

HISTORY_DAYS = 3
KINDS = (
    "random_bytes",
    "truncate",
    "bit_flips",
    "stray_files",
    "wrong_type",
    "missing_column",
    "invalid_utf8",
    "narrower_types",
    "empty_file",
    "random_truncate",
)


def _window(dataset: str) -> list[str]:
    day = dt.date.fromisoformat(FIXTURE_DAY)
    back = HISTORY_DAYS + (1 if dataset == S.DATASET_ALERTS else 0)
    return [(day - dt.timedelta(days=n)).isoformat() for n in range(back, -1, -1)]


def _copy_window(dest: Path) -> None:
    for dataset in (S.DATASET_ALERTS, S.DATASET_ACTIONS):
        for day in _window(dataset):
            src = FIXTURES / dataset / f"dt={day}"
            if src.is_dir():
                shutil.copytree(src, dest / dataset / f"dt={day}")


def _raw_utf8(values: list[bytes]) -> pa.Array:
    offsets = [0]
    for v in values:
        offsets.append(offsets[-1] + len(v))
    return pa.Array.from_buffers(
        pa.string(), len(values), [None, pa.array(offsets, pa.int32()).buffers()[1], pa.py_buffer(b"".join(values))]
    )


def damage(root: Path, seed: int) -> str:
    """Damage the copy under ``root`` with the seed's kind of damage; returns what was done."""
    rng = random.Random(seed)
    kind = KINDS[seed % len(KINDS)]
    dataset = rng.choice((S.DATASET_ALERTS, S.DATASET_ACTIONS))
    folders = sorted(p for p in (root / dataset).iterdir() if p.is_dir())
    folder = rng.choice(folders)
    target = folder / "part-0.parquet"
    data = target.read_bytes()
    if kind == "random_bytes":
        (folder / f"part-x{seed}.parquet").write_bytes(rng.randbytes(rng.randint(1, 4000)))
    elif kind == "truncate":
        target.write_bytes(data[: len(data) // 2])
    elif kind == "random_truncate":
        target.write_bytes(data[: rng.randint(1, len(data) - 1)])
    elif kind == "bit_flips":
        flipped = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            pos = rng.randrange(len(flipped))
            flipped[pos] ^= 1 << rng.randrange(8)
        target.write_bytes(bytes(flipped))
    elif kind == "stray_files":
        for name in ("README.txt", ".part-0.parquet.crc", "_SUCCESS", "meta.json", "_temporary/0/part-1.parquet"):
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(rng.randbytes(64))
    elif kind == "empty_file":
        (folder / "part-9.parquet").write_bytes(b"")
    else:
        table = pq.read_table(target)
        if kind == "wrong_type":
            column = rng.choice([S.ACCOUNT_ID, S.FIRED_AT if dataset == S.DATASET_ALERTS else S.TS])
            values = pa.array([str(v) for v in table[column].to_pylist()])
            table = table.set_column(table.schema.get_field_index(column), column, values)
        elif kind == "missing_column":
            column = rng.choice(S.ALERT_COLUMNS if dataset == S.DATASET_ALERTS else S.ACTION_COLUMNS)
            table = table.drop_columns([column])
        elif kind == "invalid_utf8":
            column = S.ALERT_TITLE if dataset == S.DATASET_ALERTS else rng.choice([S.PAYLOAD, S.USER_ID])
            values = [(v or "").encode() for v in table[column].to_pylist()]
            for i in rng.sample(range(len(values)), k=max(1, len(values) // 10)):
                values[i] = values[i][: rng.randint(0, len(values[i]))] + rng.choice(
                    [b"\xff", b"\xed\xa0\x80", b"\xc3"]
                )
            table = table.set_column(table.schema.get_field_index(column), column, _raw_utf8(values))
        elif kind == "narrower_types":
            time_column = S.FIRED_AT if dataset == S.DATASET_ALERTS else S.TS
            table = table.set_column(
                table.schema.get_field_index(S.ACCOUNT_ID), S.ACCOUNT_ID, table[S.ACCOUNT_ID].cast(pa.int32())
            )
            table = table.set_column(
                table.schema.get_field_index(time_column),
                time_column,
                # ms drops the microseconds (an exporter's choice), ns is exact
                table[time_column].cast(pa.timestamp(rng.choice(["ms", "ns"])), safe=False),
            )
        pq.write_table(table, target)
    return f"seed {seed}: {kind} in {dataset}/{folder.name}"


def run_damaged(tmp_path: Path, seed: int, capsys) -> None:
    root, out = tmp_path / f"in-{seed}", tmp_path / f"out-{seed}"
    _copy_window(root)
    what = damage(root, seed)
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
            str(HISTORY_DAYS),
            "--ranker",
            "popularity",
            "--workers",
            "1",
        ]
    )
    captured = capsys.readouterr()
    err = captured.err
    assert "Traceback" not in err and "Traceback" not in captured.out, what
    published = (out / S.RECOMMENDATIONS_DIR / f"dt={FIXTURE_DAY}" / S.SUCCESS_MARKER).exists()
    if code == 0:
        assert published, what
        (report_file,) = (out / S.RUNS_DIR).glob("*.json")
        rows = json.loads(report_file.read_text())["rows"]
        for dataset in (S.DATASET_ALERTS, S.DATASET_ACTIONS):
            r = rows[dataset]
            assert r["read"] == r["used"] + r["quarantined"] + r["ignored"] and r["reconciled"], (what, r)
        return
    last = err.strip().splitlines()[-1] if err.strip() else ""
    assert code == 3, f"{what}: exit {code}: {last}"
    assert last.startswith("alertrec: error: ") and "unexpected" not in last, (what, last)
    assert not published, what


@pytest.mark.parametrize("seed", range(10))
def test_damaged_input_ci(spark, tmp_path, capsys, seed):
    run_damaged(tmp_path, seed, capsys)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(10, 70))
def test_damaged_input_slow(spark, tmp_path, capsys, seed):
    run_damaged(tmp_path, seed, capsys)
