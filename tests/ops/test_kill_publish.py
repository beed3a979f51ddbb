"""A process SIGKILLed at any step of publishing leaves the previous complete day or no _SUCCESS; a rerun heals.

Each run is a real child process (``tests/ops/publish_child.py``) that kills
itself with SIGKILL at a chosen storage call of the publish protocol
(docs/adr/0002-publish-protocol.md), on a local folder and on S3 (moto). After
each kill the day is read as a consumer would (``tests/output_contract.py``).
"""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys

import pytest

from alertrec.io.publish import day_dir, success_path
from alertrec.io.storage import storage_for
from tests.conftest import REPO
from tests.output_contract import read_published_day

D = dt.date(2026, 2, 1)
PROTOCOL = ["delete _SUCCESS", "write the data file", "delete other files", "write _SUCCESS"]


def _child(output: str, tag: str, kill_at: int = -1, when: str = "before") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tests.ops.publish_child", output, tag, f"run-{tag}", str(kill_at), when],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _ids(tag: str) -> list[str]:
    return [f"{tag}-item-{i}" for i in range(3 + len(tag) % 3)]


def _state(storage) -> tuple[str, list[str] | None]:
    """("published", item ids) -- checked file by file against its manifest -- or ("unpublished", None)."""
    if not storage.exists(success_path(D)):
        return "unpublished", None
    table = read_published_day(storage, D)
    return "published", sorted(table.column("item_id").to_pylist())


def _files(storage) -> list[str]:
    return [p.rsplit("/", 1)[-1] for p in storage.list(day_dir(D))]


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def output(request, tmp_path) -> str:
    if request.param == "local":
        return str(tmp_path / "warehouse")
    return f"s3://{request.getfixturevalue('s3_bucket')}/alertrec"


def test_sigkill_at_every_step_of_publishing(output):
    storage = storage_for(output)
    done = _child(output, "old")
    assert done.returncode == 0, done.stderr
    assert _state(storage) == ("published", _ids("old"))

    # a rerun makes 4 storage calls (PROTOCOL); die before each, then right after the last
    expected = {
        0: ("published", _ids("old")),  # before step 1: the previous complete day, untouched
        1: ("unpublished", None),  # _SUCCESS gone, old file still there
        2: ("unpublished", None),  # old file + this run's file, no _SUCCESS
        3: ("unpublished", None),  # only this run's file, no _SUCCESS
        4: ("published", _ids("k4")),  # after step 4: the new day, whole
    }
    for k, want in expected.items():
        tag = f"k{k}"
        killed = _child(output, tag, kill_at=min(k, 3), when="before" if k < 4 else "after")
        assert killed.returncode == -signal.SIGKILL, (k, killed.stdout, killed.stderr)
        assert _state(storage) == want, f"killed before {PROTOCOL[k] if k < 4 else 'exiting'}"
        if k == 2:  # the half day really is on storage: the old run's file and this run's, without _SUCCESS
            assert _files(storage) == ["part-run-k2-00000.parquet", "part-run-old-00000.parquet"]
        if k == 3:
            assert _files(storage) == ["part-run-k3-00000.parquet"]

    # leftovers of two dead runs, then a run killed midway through deleting them (step 3)
    for tag in ("m1", "m2"):
        assert _child(output, tag, kill_at=2).returncode == -signal.SIGKILL
    assert _files(storage) == ["part-run-k4-00000.parquet", "part-run-m1-00000.parquet", "part-run-m2-00000.parquet"]
    assert _child(output, "m3", kill_at=2, when="midway").returncode == -signal.SIGKILL
    assert _state(storage) == ("unpublished", None)
    assert len(_files(storage)) == 3  # one of the three stale files went, m3's own file came

    healed = _child(output, "heal")
    assert healed.returncode == 0, healed.stderr
    assert _state(storage) == ("published", _ids("heal"))
    assert _files(storage) == ["_SUCCESS", "part-run-heal-00000.parquet"]
