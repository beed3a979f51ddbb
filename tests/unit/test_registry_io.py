"""The query registry's files: versions that only grow, a corrupt one is an error, a race keeps the first id."""

from __future__ import annotations

import pandas as pd
import pytest

from alertrec import schema as S
from alertrec.errors import RegistryError
from alertrec.io import registry as io_registry
from alertrec.io.lock import LockOwner
from alertrec.io.registry import KEEP_VERSIONS, REGISTRY_DIR
from alertrec.io.storage import storage_for
from alertrec.stages.normalize.canonical import query_item_id
from alertrec.stages.normalize.registry import append_entries, validate_registry


def read_registry(storage):
    return io_registry.read_registry(storage, validate_registry)


def write_registry(storage, entries, owner):
    """As the pipeline writes: the run's new forms appended to the newest version, under the lock."""
    return io_registry.write_registry(storage, lambda newest: append_entries(newest, entries), validate_registry, owner)


def _entries(*forms, account=1, day="2026-02-01", ids=None):
    return pd.DataFrame(
        {
            S.ACCOUNT_ID: [account] * len(forms),
            S.CANONICAL: list(forms),
            S.ITEM_ID: list(ids) if ids else [query_item_id(f) for f in forms],
            "first_seen": [day] * len(forms),
        }
    )


def _owner():
    return LockOwner.current("test-registry")


def _roundtrip(storage):
    first = read_registry(storage)
    assert first.frame is None and first.report()["status"] == "rebuilt"
    info = write_registry(storage, _entries("a = <NUM>", "b = <STR>"), _owner())
    assert info == {"forms_added": 2, "taken_by_another_run": 0, "written_version": 1, "forms_total": 2}, info
    got = read_registry(storage)
    assert got.version == 1 and sorted(got.frame[S.CANONICAL]) == ["a = <NUM>", "b = <STR>"]
    # a later run adds one form; the registered ones stay as they are
    info = write_registry(storage, _entries("c = <NUM>", day="2026-02-02"), _owner())
    assert info["written_version"] == 2 and info["forms_total"] == 3
    again = read_registry(storage).frame
    assert again.set_index(S.CANONICAL).loc["a = <NUM>", "first_seen"] == "2026-02-01"
    # nothing new: no new version
    assert write_registry(storage, _entries("a = <NUM>"), _owner())["written_version"] == 2


def test_versions_grow_and_a_rerun_adds_nothing(tmp_path):
    _roundtrip(storage_for(str(tmp_path / "root")))


def test_on_s3(s3_bucket):
    _roundtrip(storage_for(f"s3://{s3_bucket}/warehouse"))


def test_a_form_another_run_registered_meanwhile_keeps_the_first_id(tmp_path):
    storage = storage_for(str(tmp_path))
    write_registry(storage, _entries("x = <NUM>", ids=["q_00000000000000aa"]), _owner())
    info = write_registry(storage, _entries("x = <NUM>", "y = <NUM>"), _owner())
    assert info["taken_by_another_run"] == 1 and info["forms_added"] == 1
    frame = read_registry(storage).frame.set_index(S.CANONICAL)
    assert frame.loc["x = <NUM>", S.ITEM_ID] == "q_00000000000000aa"


def test_old_versions_are_pruned(tmp_path):
    storage = storage_for(str(tmp_path))
    for n in range(KEEP_VERSIONS + 2):
        write_registry(storage, _entries(f"f{n} = <NUM>"), _owner())
    files = sorted(storage.list(REGISTRY_DIR + "/"))
    assert len(files) == KEEP_VERSIONS and files[-1].endswith(f"v-{KEEP_VERSIONS + 2:08d}.parquet")
    assert len(read_registry(storage).frame) == KEEP_VERSIONS + 2


@pytest.mark.parametrize("damage", ["bytes", "columns", "bad_id"])
def test_a_corrupt_registry_is_an_error_not_a_reset(tmp_path, damage):
    storage = storage_for(str(tmp_path))
    write_registry(storage, _entries("a = <NUM>"), _owner())
    (path,) = (tmp_path / REGISTRY_DIR).glob("v-*.parquet")
    if damage == "bytes":
        path.write_bytes(b"not parquet at all")
    elif damage == "columns":
        pd.DataFrame({"x": [1]}).to_parquet(path)
    else:
        _entries("a = <NUM>", ids=["not-an-id"]).to_parquet(path)
    with pytest.raises(RegistryError) as exc:
        read_registry(storage)
    message = str(exc.value)
    assert "\n" not in message and path.name in message and "delete" in message
    with pytest.raises(RegistryError):
        write_registry(storage, _entries("b = <NUM>"), _owner())
