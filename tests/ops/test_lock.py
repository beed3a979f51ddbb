"""The day's lock (alertrec/io/lock/): local flock and the S3 lock object with its lease."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time

import boto3
import pytest

from alertrec.errors import OutputError
from alertrec.io.lock import (
    LocalLock,
    LockHeldError,
    LockLostError,
    LockOwner,
    S3Lock,
    lock_for,
    lock_path,
)
from alertrec.io.storage import storage_for
from tests.conftest import REPO

DAY = dt.date(2026, 2, 1)

_HOLDER = """
import datetime as dt, sys, time
from alertrec.io.lock import LockOwner, lock_for
from alertrec.io.storage import storage_for
lock = lock_for(storage_for(sys.argv[1]), dt.date(2026, 2, 1), LockOwner.current("run-holder"))
lock.acquire()
print("held", flush=True)
time.sleep(120)
"""


def _hold_in_child(output: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, output], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


class TestLocalLock:
    def test_a_second_run_is_refused_naming_the_holder_and_a_killed_holder_frees_it(self, tmp_path):
        out = str(tmp_path / "warehouse")
        holder = _hold_in_child(out)
        try:
            lock = lock_for(storage_for(out), DAY, LockOwner.current("run-2"))
            assert isinstance(lock, LocalLock)
            with pytest.raises(LockHeldError) as info:
                lock.acquire()
            message = str(info.value)
            assert "\n" not in message and info.value.exit_code == 5
            assert f"run run-holder on host {os.uname().nodename} (pid {holder.pid}" in message
            assert str(tmp_path / "warehouse" / lock_path(DAY)) in message
        finally:
            holder.send_signal(signal.SIGKILL)
            holder.wait()
        # the kernel released the dead holder's flock: the next run takes it at once
        with lock_for(storage_for(out), DAY, LockOwner.current("run-3")) as lock:
            assert lock.held
            assert json.loads((tmp_path / "warehouse" / lock_path(DAY)).read_text())["run_id"] == "run-3"
        assert not lock.held

    def test_other_days_are_not_blocked(self, tmp_path):
        out = storage_for(str(tmp_path))
        with lock_for(out, DAY, LockOwner.current("a")):
            with lock_for(out, DAY + dt.timedelta(days=1), LockOwner.current("b")) as other:
                assert other.held
            with pytest.raises(LockHeldError):
                lock_for(out, DAY, LockOwner.current("c")).acquire()

    def test_lock_file_lives_outside_the_recommendations(self):
        assert lock_path(DAY) == "locks/recommendations-dt=2026-02-01.lock"


@pytest.mark.s3
class TestS3Lock:
    @pytest.fixture()
    def root(self, s3_bucket):
        return f"s3://{s3_bucket}/alertrec"

    def _object(self, s3_bucket):
        client = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL_S3"])
        key = f"alertrec/{lock_path(DAY)}"
        return client, key

    def _plant(self, s3_bucket, **doc):
        client, key = self._object(s3_bucket)
        body = {
            "run_id": "run-other",
            "host": "elsewhere",
            "pid": 1,
            "pid_started": 1.0,
            "token": "t-other",
            "ttl_s": 900.0,
            **doc,
        }
        client.put_object(Bucket=s3_bucket, Key=key, Body=json.dumps(body).encode())

    def test_conditional_put_lets_one_run_in_and_refuses_the_next(self, root, s3_bucket):
        first = lock_for(storage_for(root), DAY, LockOwner.current("run-1"))
        assert isinstance(first, S3Lock)
        first.acquire()
        try:
            client, key = self._object(s3_bucket)
            doc = json.loads(client.get_object(Bucket=s3_bucket, Key=key)["Body"].read())
            assert doc["run_id"] == "run-1" and doc["token"] == first.owner.token and doc["ttl_s"] == 900.0
            second = lock_for(storage_for(root), DAY, LockOwner.current("run-2"))
            with pytest.raises(LockHeldError) as info:
                second.acquire()
            assert "run run-1 on host" in str(info.value) and "\n" not in str(info.value)
            first.check()  # still ours
        finally:
            first.release()
        assert "Contents" not in client.list_objects_v2(Bucket=s3_bucket, Prefix="alertrec/locks/")

    def test_a_live_holder_on_another_host_is_respected(self, root, s3_bucket):
        self._plant(s3_bucket)
        with pytest.raises(LockHeldError, match="run run-other on host elsewhere"):
            lock_for(storage_for(root), DAY, LockOwner.current("run-1")).acquire()

    def test_a_lock_object_gone_when_read_is_no_lock(self, root, s3_bucket):
        # the holder may release between a refused put and the read that names it
        lock = lock_for(storage_for(root), DAY, LockOwner.current("run-1"))
        assert isinstance(lock, S3Lock)
        assert lock._read() is None

    def test_an_expired_lease_is_taken_over(self, root, s3_bucket):
        self._plant(s3_bucket, ttl_s=1.0)
        time.sleep(2.1)  # Last-Modified has one-second resolution
        with lock_for(storage_for(root), DAY, LockOwner.current("run-1"), ttl_s=60) as lock:
            client, key = self._object(s3_bucket)
            assert json.loads(client.get_object(Bucket=s3_bucket, Key=key)["Body"].read())["token"] == lock.owner.token

    def test_a_dead_holder_on_this_host_is_taken_over_at_once(self, root, s3_bucket):
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
        self._plant(s3_bucket, host=os.uname().nodename, pid=int(dead.stdout), pid_started=1.0)
        with lock_for(storage_for(root), DAY, LockOwner.current("run-1")) as lock:
            assert lock.held

    def test_a_reused_pid_is_not_taken_for_the_holder(self, root, s3_bucket):
        # this very process, but with another start time: a pid reused by an unrelated process
        self._plant(s3_bucket, host=os.uname().nodename, pid=os.getpid(), pid_started=12.0)
        with lock_for(storage_for(root), DAY, LockOwner.current("run-1")) as lock:
            assert lock.held
        # the same pid *and* start time is a live holder
        owner = LockOwner.current("x")
        self._plant(s3_bucket, host=owner.host, pid=owner.pid, pid_started=owner.pid_started)
        with pytest.raises(LockHeldError):
            lock_for(storage_for(root), DAY, LockOwner.current("run-2")).acquire()

    def test_a_lost_response_of_our_own_put_still_counts(self, root, s3_bucket):
        lock = lock_for(storage_for(root), DAY, LockOwner.current("run-1"))
        client, key = self._object(s3_bucket)
        # our PUT landed, but we never heard back; botocore's retry then meets our own object
        client.put_object(Bucket=s3_bucket, Key=key, Body=lock._body())
        lock.acquire()
        try:
            assert lock.held
            lock.check()
        finally:
            lock.release()

    def test_heartbeat_renews_and_a_takeover_is_detected(self, root, s3_bucket):
        lock = lock_for(storage_for(root), DAY, LockOwner.current("run-1"), ttl_s=30, heartbeat_s=0.2)
        lock.acquire()
        try:
            client, key = self._object(s3_bucket)
            first_etag = lock.etag
            deadline = time.monotonic() + 10
            while lock.etag == first_etag and time.monotonic() < deadline:
                time.sleep(0.1)
            assert lock.etag != first_etag, "the heartbeat did not renew the lease"
            self._plant(s3_bucket)  # another run took it over (its lease had run out, say)
            with pytest.raises(LockLostError, match=r"lost the lock .*now held by run run-other"):
                lock.check()
        finally:
            lock.release()
        # a lost lock is not ours to delete
        assert json.loads(client.get_object(Bucket=s3_bucket, Key=key)["Body"].read())["run_id"] == "run-other"

    def test_missing_bucket_is_an_output_error(self, s3_server):
        lock = lock_for(storage_for("s3://alertrec-no-such-bucket/x"), DAY, LockOwner.current("r"))
        with pytest.raises(OutputError, match="bucket does not exist"):
            lock.acquire()
