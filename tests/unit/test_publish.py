"""The publish protocol (docs/adr/0002-publish-protocol.md), on a local folder.

``PublishContract`` is the suite every storage passes, crash injection at each
step of the protocol included; a test class provides a ``storage`` fixture.
``tests/integration/test_publish_s3.py`` runs the same suite against S3 on moto.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable

import pyarrow as pa
import pytest

from alertrec import schema as S
from alertrec.errors import OutputError, PublishError
from alertrec.io import publish as publish_mod
from alertrec.io.publish import (
    PublishResult,
    day_dir,
    publish_day,
    published_days,
    read_day,
    read_json,
    read_manifest,
    schema_fingerprint,
    success_path,
    write_json,
)
from alertrec.io.storage import ForwardingStorage, LocalStorage, Storage
from tests.output_contract import read_published_day

D1 = dt.date(2026, 2, 1)
D2 = dt.date(2026, 2, 2)
GENERATED = dt.datetime(2026, 2, 1, 6, 0, tzinfo=dt.UTC)


def recs(tag: str, n: int = 3, account_id: int = 1) -> pa.Table:
    """``n`` recommendation rows whose item ids and model_version carry ``tag``."""
    return pa.table(
        {
            S.ACCOUNT_ID: [account_id] * n,
            S.ALERT_ID: ["alert-a"] * n,
            S.RANK: list(range(1, n + 1)),
            S.ITEM_TYPE: [S.ITEM_DASHBOARD] * n,
            S.ITEM_ID: [f"{tag}-item-{i}" for i in range(n)],
            S.ITEM_LABEL: [f"Dashboard {i}" for i in range(n)],
            S.SCORE: [float(n - i) for i in range(n)],
            S.REASON_TEXT: ["opened in 2 of 3 investigations"] * n,
            S.MODEL_VERSION: [tag] * n,
            S.GENERATED_AT: [GENERATED] * n,
        },
        schema=S.RECOMMENDATIONS_ARROW,
    )


def item_ids(table: pa.Table | None) -> list[str]:
    assert table is not None, "the day is not published"
    return sorted(table.column(S.ITEM_ID).to_pylist())


def snapshot(storage: Storage, prefix: str) -> dict[str, bytes]:
    return {p: storage.read_bytes(p) for p in storage.list(prefix)}


class SimulatedCrash(Exception):
    """Stands for the process dying: the protocol must not catch it."""


class CrashingStorage(ForwardingStorage):
    """Wraps a storage; the ``crash_at``-th mutating call (0-based) crashes.

    ``when`` is ``"before"`` (the call has no effect), ``"after"`` (it took
    effect) or ``"midway"`` (a delete of several files removes only the first).
    """

    def __init__(self, inner: Storage, crash_at: int, when: str) -> None:
        self.inner, self.crash_at, self.when = inner, crash_at, when
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    def _mutate(self, name: str, paths: tuple[str, ...], do) -> None:
        index = len(self.calls)
        self.calls.append((name, paths))
        if index != self.crash_at:
            do()
            return
        if self.when == "after":
            do()
        elif self.when == "midway":
            assert name == "delete" and len(paths) > 1, "midway crashes need a delete of several files"
            self.inner.delete(paths[:1])
        raise SimulatedCrash(f"crash {self.when} {name} {paths}")

    def write_bytes(self, rel_path: str, data: bytes) -> None:
        self._mutate("write_bytes", (rel_path,), lambda: self.inner.write_bytes(rel_path, data))

    def delete(self, rel_paths: Iterable[str]) -> None:
        paths = tuple(rel_paths)
        self._mutate("delete", paths, lambda: self.inner.delete(paths))


class FailingStorage(CrashingStorage):
    """Like CrashingStorage, but the store itself fails (an OutputError), as a full disk would."""

    def _mutate(self, name, paths, do):
        if len(self.calls) == self.crash_at:
            self.calls.append((name, paths))
            raise OutputError(f"cannot write {paths[0]}: no space left on device")
        self.calls.append((name, paths))
        do()


# the mutating calls of a republish over a day that holds an earlier run and a leftover:
# 0 delete _SUCCESS, 1 write the part file, 2 delete the other files, 3 write _SUCCESS;
# (call, when, what the day holds after the crash: "old" run, "new" run, or None = unpublished)
CRASH_POINTS = [
    (0, "before", "old"),
    (0, "after", None),
    (1, "before", None),
    (1, "after", None),
    (2, "before", None),
    (2, "midway", None),
    (2, "after", None),
    (3, "before", None),
    (3, "after", "new"),
]


class PublishContract:
    """The publish protocol on any storage. Subclasses provide a ``storage`` fixture."""

    def test_publish_then_read(self, storage: Storage):
        table = recs("r1")
        result = publish_day(storage, table, D1, "run-1")
        folder = "recommendations/dt=2026-02-01"
        assert result == PublishResult(
            day=D1,
            url=storage.url(folder),
            files=(f"{folder}/part-run-1-00000.parquet",),
            rows=3,
            run_id="run-1",
        )
        assert storage.list("recommendations") == [f"{folder}/_SUCCESS", f"{folder}/part-run-1-00000.parquet"]
        got = read_day(storage, D1)
        assert got.schema == S.RECOMMENDATIONS_ARROW
        assert got.equals(table)
        assert read_published_day(storage, D1).num_rows == 3  # the shared consumer-side checker agrees
        assert published_days(storage) == [D1]

    def test_manifest_is_deterministic(self, storage: Storage):
        publish_day(storage, recs("r1"), D1, "run-1")
        first = storage.read_bytes(success_path(D1))
        assert json.loads(first) == {
            "manifest_version": 1,
            "day": "2026-02-01",
            "run_id": "run-1",
            "files": ["part-run-1-00000.parquet"],
            "rows": 3,
            "format": "parquet",
            "schema_fingerprint": schema_fingerprint(),
        }
        publish_day(storage, recs("r1"), D1, "run-1")
        assert storage.read_bytes(success_path(D1)) == first

    def test_rerun_replaces_the_day_whole(self, storage: Storage):
        publish_day(storage, recs("first", n=4), D1, "run-1")
        publish_day(storage, recs("second", n=2), D1, "run-2")
        got = read_day(storage, D1)
        assert item_ids(got) == ["second-item-0", "second-item-1"]  # no rows of run-1, no duplicates
        assert set(got.column(S.MODEL_VERSION).to_pylist()) == {"second"}
        assert storage.list(day_dir(D1)) == [
            f"{day_dir(D1)}/_SUCCESS",
            f"{day_dir(D1)}/part-run-2-00000.parquet",
        ]
        assert read_manifest(storage, D1)["run_id"] == "run-2"
        assert read_published_day(storage, D1).num_rows == 2

    def test_rerun_with_the_same_rows_does_not_duplicate(self, storage: Storage):
        publish_day(storage, recs("same"), D1, "run-1")
        publish_day(storage, recs("same"), D1, "run-2")
        assert item_ids(read_day(storage, D1)) == ["same-item-0", "same-item-1", "same-item-2"]

    def test_other_days_are_never_touched(self, storage: Storage):
        publish_day(storage, recs("d2"), D2, "run-d2")
        storage.write_bytes("recommendations/dt=2026-02-03/part-crashed.parquet", b"leftover of another day")
        storage.write_bytes("runs/run-d2.json", b"{}")
        before = {p: b for p, b in snapshot(storage, "").items() if not p.startswith(day_dir(D1) + "/")}
        publish_day(storage, recs("d1-a"), D1, "run-1")
        publish_day(storage, recs("d1-b"), D1, "run-2")
        after = {p: b for p, b in snapshot(storage, "").items() if not p.startswith(day_dir(D1) + "/")}
        assert after == before
        assert published_days(storage) == [D1, D2]
        assert item_ids(read_day(storage, D2)) == ["d2-item-0", "d2-item-1", "d2-item-2"]

    def test_unpublished_day_reads_as_none(self, storage: Storage):
        assert read_day(storage, D1) is None
        storage.write_bytes(f"{day_dir(D1)}/part-orphan-00000.parquet", b"not even parquet")
        assert read_day(storage, D1) is None
        assert published_days(storage) == []

    def test_reader_uses_only_the_files_in_the_manifest(self, storage: Storage):
        publish_day(storage, recs("r1"), D1, "run-1")
        # a foreign writer drops a file next to the published one
        storage.write_bytes(f"{day_dir(D1)}/part-stray-00000.parquet", b"garbage")
        assert item_ids(read_day(storage, D1)) == ["r1-item-0", "r1-item-1", "r1-item-2"]

    def test_empty_day_is_published_with_one_empty_file(self, storage: Storage):
        result = publish_day(storage, recs("none", n=0), D1, "run-0")
        assert result.rows == 0 and len(result.files) == 1
        got = read_day(storage, D1)
        assert got.num_rows == 0 and got.schema == S.RECOMMENDATIONS_ARROW

    def test_large_days_are_split_and_read_back_whole(self, storage: Storage, monkeypatch):
        monkeypatch.setattr(publish_mod, "MAX_ROWS_PER_FILE", 2)
        result = publish_day(storage, recs("big", n=5), D1, "run-1")
        assert [f.rsplit("/", 1)[1] for f in result.files] == [
            "part-run-1-00000.parquet",
            "part-run-1-00001.parquet",
            "part-run-1-00002.parquet",
        ]
        assert read_day(storage, D1).equals(recs("big", n=5))
        publish_day(storage, recs("small", n=1), D1, "run-2")  # fewer files than before: old ones go
        assert storage.list(day_dir(D1)) == [f"{day_dir(D1)}/_SUCCESS", f"{day_dir(D1)}/part-run-2-00000.parquet"]

    def test_schema_mismatch_is_refused_before_anything_is_touched(self, storage: Storage):
        publish_day(storage, recs("old"), D1, "run-1")
        before = snapshot(storage, "")
        bad = recs("new").drop_columns([S.SCORE])
        with pytest.raises(PublishError) as info:
            publish_day(storage, bad, D1, "run-2")
        assert str(info.value) == "recommendations do not match the contract's columns: missing score"
        assert snapshot(storage, "") == before

    @pytest.mark.parametrize(
        ("crash_at", "when", "expected"), CRASH_POINTS, ids=[f"{w}-{c}" for c, w, _ in CRASH_POINTS]
    )
    def test_crash_leaves_old_day_or_no_success_and_rerun_heals(self, storage: Storage, crash_at, when, expected):
        publish_day(storage, recs("d2"), D2, "run-d2")
        other_day = snapshot(storage, day_dir(D2))
        publish_day(storage, recs("old"), D1, "run-old")
        # a crashed run before that left a file of its own
        storage.write_bytes(f"{day_dir(D1)}/part-run-crashed-00000.parquet", b"half a run")
        old_files = snapshot(storage, day_dir(D1))

        crashing = CrashingStorage(storage, crash_at=crash_at, when=when)
        with pytest.raises(SimulatedCrash):
            publish_day(crashing, recs("new"), D1, "run-new")
        assert [name for name, _ in crashing.calls] == ["delete", "write_bytes", "delete", "write_bytes"][
            : crash_at + 1
        ]

        if expected == "old":
            assert snapshot(storage, day_dir(D1)) == old_files
            assert item_ids(read_day(storage, D1)) == ["old-item-0", "old-item-1", "old-item-2"]
        elif expected == "new":
            assert item_ids(read_day(storage, D1)) == ["new-item-0", "new-item-1", "new-item-2"]
        else:
            assert not storage.exists(success_path(D1)), "a half-written day must not carry _SUCCESS"
            assert read_day(storage, D1) is None
            assert published_days(storage) == [D2]
        assert snapshot(storage, day_dir(D2)) == other_day

        publish_day(storage, recs("heal"), D1, "run-heal")
        assert item_ids(read_day(storage, D1)) == ["heal-item-0", "heal-item-1", "heal-item-2"]
        assert storage.list(day_dir(D1)) == [f"{day_dir(D1)}/_SUCCESS", f"{day_dir(D1)}/part-run-heal-00000.parquet"]
        assert read_published_day(storage, D1).num_rows == 3
        assert snapshot(storage, day_dir(D2)) == other_day
        assert published_days(storage) == [D1, D2]

    @pytest.mark.parametrize("fail_at", [0, 1, 2, 3])
    def test_storage_failure_is_a_one_line_publish_error(self, storage: Storage, fail_at):
        publish_day(storage, recs("old"), D1, "run-old")
        storage.write_bytes(f"{day_dir(D1)}/part-leftover.parquet", b"x")
        failing = FailingStorage(storage, crash_at=fail_at, when="before")
        with pytest.raises(PublishError) as info:
            publish_day(failing, recs("new"), D1, "run-new")
        message = str(info.value)
        assert "\n" not in message
        assert f"(step {fail_at + 1} of 4)" in message
        assert "no space left on device" in message
        assert message.endswith("run the day again")
        if fail_at == 0:
            assert item_ids(read_day(storage, D1)) == ["old-item-0", "old-item-1", "old-item-2"]
        else:
            assert read_day(storage, D1) is None

    def test_json_round_trip(self, storage: Storage):
        report = {"run_id": "run-1", "day": D1, "rows": {"used": 3}, "at": GENERATED, "tags": {"b", "a"}}
        url = write_json(storage, "runs/run-1.json", report)
        assert url == storage.url("runs/run-1.json")
        assert read_json(storage, "runs/run-1.json") == {
            "run_id": "run-1",
            "day": "2026-02-01",
            "rows": {"used": 3},
            "at": "2026-02-01T06:00:00+00:00",
            "tags": ["a", "b"],
        }
        with pytest.raises(FileNotFoundError):
            read_json(storage, "runs/missing.json")


class TestPublishLocal(PublishContract):
    @pytest.fixture()
    def storage(self, tmp_path) -> LocalStorage:
        return LocalStorage(tmp_path / "warehouse")

    def test_layout_on_disk(self, storage: LocalStorage):
        publish_day(storage, recs("r1"), D1, "20260201T060000Z-abcd1234")
        folder = storage.root / "recommendations" / "dt=2026-02-01"
        assert sorted(p.name for p in folder.iterdir()) == ["_SUCCESS", "part-20260201T060000Z-abcd1234-00000.parquet"]

    def test_leftover_temporary_file_of_a_crashed_write_is_healed(self, storage: LocalStorage):
        publish_day(storage, recs("old"), D1, "run-old")
        folder = storage.root / "recommendations" / "dt=2026-02-01"
        (folder / "_SUCCESS").unlink()  # the crashed run got past step 1 ...
        (folder / ".part-run-x-00000.parquet.tmp-0123").write_bytes(b"half")  # ... and died inside step 2
        assert read_day(storage, D1) is None
        publish_day(storage, recs("new"), D1, "run-new")
        assert sorted(p.name for p in folder.iterdir()) == ["_SUCCESS", "part-run-new-00000.parquet"]

    def test_unwritable_output_is_a_one_line_output_error(self, tmp_path):
        target = tmp_path / "warehouse"
        target.write_text("a file where the output folder should be")
        storage = LocalStorage(target)
        with pytest.raises(OutputError) as info:
            storage.check_writable()
        assert str(info.value) == f"output folder {target} is a file, not a folder; pass a folder path"
        with pytest.raises(OutputError) as info:  # publish itself fails cleanly too
            publish_day(storage, recs("r1"), D1, "run-1")
        assert isinstance(info.value, PublishError)
        assert "\n" not in str(info.value)
        assert "(step 2 of 4)" in str(info.value)


# --------------------------------------------------------------------------
# Schema validation (no storage needed beyond a folder)
# --------------------------------------------------------------------------
class TestSchema:
    @pytest.fixture()
    def storage(self, tmp_path) -> LocalStorage:
        return LocalStorage(tmp_path / "w")

    def test_compatible_types_are_cast(self, storage):
        table = recs("r1")
        loose = pa.table(
            {
                **{name: table.column(name) for name in table.column_names},
                S.RANK: pa.array([1, 2, 3], pa.int64()),
                S.GENERATED_AT: pa.array([dt.datetime(2026, 2, 1, 6, 0)] * 3, pa.timestamp("ns")),
                S.SCORE: pa.array([3, 2, 1], pa.int64()),
            }
        ).select(list(reversed(S.RECOMMENDATIONS_ARROW.names)))  # order does not matter
        publish_day(storage, loose, D1, "run-1")
        got = read_day(storage, D1)
        assert got.schema == S.RECOMMENDATIONS_ARROW
        assert got.equals(table)

    def test_pandas_frame_with_schema_is_accepted(self, storage):
        frame = recs("r1").to_pandas()
        publish_day(storage, pa.Table.from_pandas(frame, preserve_index=False), D1, "run-1")
        assert read_day(storage, D1).equals(recs("r1"))

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            (lambda t: t.drop_columns([S.RANK, S.SCORE]), "missing rank, score"),
            (lambda t: t.append_column("extra", pa.array([1, 2, 3])), "unexpected extra"),
            (
                lambda t: t.set_column(2, S.RANK, pa.array([1, 2, 2**40], pa.int64())),
                "column rank is int64, which does not cast to int32",
            ),
            (
                lambda t: t.set_column(6, S.SCORE, pa.array(["high", "mid", "low"])),
                "column score is string, which does not cast to double",
            ),
            (
                lambda t: t.set_column(4, S.ITEM_ID, pa.array(["a", None, "c"])),
                "column item_id has 1 null value(s)",
            ),
        ],
        ids=["missing", "extra", "overflow", "not-a-number", "null"],
    )
    def test_mismatch_is_a_publish_error_and_writes_nothing(self, storage, change, message):
        with pytest.raises(PublishError) as info:
            publish_day(storage, change(recs("r1")), D1, "run-1")
        assert message in str(info.value)
        assert "\n" not in str(info.value)
        assert storage.list() == []

    @pytest.mark.parametrize("run_id", ["", "a/b", "../x", "has space", "2026-02-01T06:00:00Z", "-lead"])
    def test_run_ids_that_cannot_name_files_are_refused(self, storage, run_id):
        with pytest.raises(PublishError, match="cannot name files"):
            publish_day(storage, recs("r1"), D1, run_id)
        assert storage.list() == []

    def test_a_datetime_is_not_a_day(self, storage):
        with pytest.raises(TypeError):
            publish_day(storage, recs("r1"), dt.datetime(2026, 2, 1), "run-1")

    def test_corrupt_manifest_is_a_publish_error(self, storage):
        publish_day(storage, recs("r1"), D1, "run-1")
        storage.write_bytes(success_path(D1), b"")  # e.g. a Hadoop-style empty marker
        with pytest.raises(PublishError, match="not an alertrec manifest"):
            read_day(storage, D1)

    def test_manifest_naming_a_missing_file_is_a_publish_error(self, storage):
        publish_day(storage, recs("r1"), D1, "run-1")
        storage.delete([f"{day_dir(D1)}/part-run-1-00000.parquet"])
        with pytest.raises(PublishError, match="the file is gone"):
            read_day(storage, D1)

    def test_published_days_ignores_other_names(self, storage):
        publish_day(storage, recs("r1"), D1, "run-1")
        storage.write_bytes("recommendations/dt=2026-13-40/_SUCCESS", b"{}")
        storage.write_bytes("recommendations/dt=2026-02-05/_SUCCESS.tmp", b"{}")
        storage.write_bytes("recommendations/other/_SUCCESS", b"{}")
        assert published_days(storage) == [D1]
