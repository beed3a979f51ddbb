"""S3 faults (5xx, throttling, reset connections, cut-off bodies, partial deletes) are retried.

Every S3 request of the code under test goes through :class:`tests.ops.faults.FaultyProxy`
(a loopback proxy in front of the moto server) that fails a share of them. The
published days are then checked directly on moto, without the proxy.
"""

from __future__ import annotations

import datetime as dt

import pytest

from alertrec.errors import PublishError
from alertrec.io.lock import LockOwner, lock_for, lock_path
from alertrec.io.publish import publish_day, read_day
from alertrec.io.storage import storage_for
from tests.ops.faults import KINDS, FaultyProxy
from tests.output_contract import read_published_day
from tests.unit.test_publish import item_ids, recs

pytestmark = pytest.mark.s3

DAYS = [dt.date(2026, 2, 1) + dt.timedelta(days=i) for i in range(3)]


@pytest.fixture()
def proxy(s3_server, monkeypatch):
    with FaultyProxy(s3_server, rate=0.35, seed=3) as faulty:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", faulty.url)
        yield faulty
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server)


def test_publish_reread_and_republish_survive_a_third_of_requests_failing(s3_bucket, s3_server, proxy, monkeypatch):
    root = f"s3://{s3_bucket}/out"
    storage = storage_for(root)
    assert storage.endpoint_url == proxy.url
    for i, day in enumerate(DAYS):
        publish_day(storage, recs(f"a{i}"), day, f"run-a{i}")
        publish_day(storage, recs(f"b{i}", n=4), day, f"run-b{i}")  # a rerun: step 3 deletes run-a's file
        assert item_ids(read_day(storage, day)) == [f"b{i}-item-{j}" for j in range(4)]
    # every kind of fault was injected, and more than a few of them
    assert set(proxy.injected) == set(KINDS), proxy.injected
    assert sum(proxy.injected.values()) >= 12, proxy.injected
    # on moto itself (no proxy): each day holds exactly the files its manifest lists, nothing left over
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server)
    direct = storage_for(root)
    for i, day in enumerate(DAYS):
        assert item_ids(read_published_day(direct, day)) == [f"b{i}-item-{j}" for j in range(4)]


def test_the_lock_survives_lost_responses_and_resets(s3_bucket, s3_server, proxy, monkeypatch):
    root = f"s3://{s3_bucket}/out"
    for i in range(6):
        with lock_for(storage_for(root), DAYS[0], LockOwner.current(f"run-{i}"), ttl_s=60) as lock:
            lock.renew()
            lock.check()
    assert proxy.injected["reset_after"] >= 1, proxy.injected  # a PUT that landed but whose answer was lost
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server)
    assert not storage_for(root).exists(lock_path(DAYS[0])), "the lock was left behind"


def test_persistent_throttling_fails_in_one_line_after_the_configured_attempts(s3_bucket, s3_server, monkeypatch):
    root = f"s3://{s3_bucket}/out"
    publish_day(storage_for(root), recs("old"), DAYS[0], "run-old")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "3")
    with FaultyProxy(s3_server, rate=1.0, kinds=("503",)) as throttled:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", throttled.url)
        with pytest.raises(PublishError) as info:
            publish_day(storage_for(root), recs("new"), DAYS[0], "run-new")
        assert throttled.requests == 3  # the first call of the protocol, tried 3 times, then given up
    message = str(info.value)
    assert "\n" not in message and "SlowDown" in message and "step 1 of 4" in message
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server)
    assert item_ids(read_published_day(storage_for(root), DAYS[0])) == ["old-item-0", "old-item-1", "old-item-2"]
