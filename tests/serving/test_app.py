"""alertrec serve: every route and status code, eviction, 507, the access log, SIGTERM."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from starlette.testclient import TestClient

from alertrec.serving import load_bundle
from alertrec.serving.app import ModelRegistry, ServeSettings, create_app
from alertrec.serving.bundle import serving_prefix
from tests.serving.conftest import ACCOUNT, DAY, dashboard, opened

A7 = serving_prefix(DAY, ACCOUNT)
A8 = serving_prefix(DAY, 8)


@pytest.fixture()
def client(serving_root):
    with TestClient(create_app(ServeSettings(root=str(serving_root)))) as c:
        yield c


def _alive(client) -> None:
    assert client.get("/ping").status_code == 200


def test_ping_and_load_list_get_unload(client, serving_root):
    assert client.get("/ping").json()["status"] == "ok"
    r = client.post("/models", json={"model_name": "7", "url": A7})
    assert r.status_code == 200 and r.json()["modelName"] == "7"
    absolute = str(serving_root / A8)
    assert client.post("/models", json={"model_name": "8", "url": absolute}).status_code == 200
    assert client.get("/models").json() == {
        "models": [{"modelName": "7", "modelUrl": A7}, {"modelName": "8", "modelUrl": absolute}]
    }
    assert client.get("/models/7").json() == {"modelName": "7", "modelUrl": A7}
    assert client.delete("/models/7").status_code == 200
    assert client.get("/models/7").status_code == 404
    assert client.delete("/models/7").status_code == 404
    assert [m["modelName"] for m in client.get("/models").json()["models"]] == ["8"]


def test_loaded_twice_is_409(client):
    assert client.post("/models", json={"model_name": "7", "url": A7}).status_code == 200
    r = client.post("/models", json={"model_name": "7", "url": A8})
    assert r.status_code == 409 and "already loaded" in r.json()["error"]
    _alive(client)


def test_no_such_folder_is_404(client):
    r = client.post("/models", json={"model_name": "9", "url": "models/serving/dt=2026-02-01/account=9"})
    assert r.status_code == 404
    assert client.get("/models").json() == {"models": []}
    _alive(client)


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b'{"url": "x"}',
        b'{"model_name": "7"}',
        b'{"model_name": "", "url": "x"}',
        b'{"model_name": "a/b", "url": "x"}',
        b'{"model_name": "7", "url": 5}',
    ],
)
def test_bad_load_requests_are_400(client, body):
    r = client.post("/models", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400 and "error" in r.json()
    _alive(client)


def test_a_bad_scheme_is_400(client):
    assert client.post("/models", json={"model_name": "7", "url": "ftp://host/x"}).status_code == 400


def test_invoke(client, serving_root):
    client.post("/models", json={"model_name": "7", "url": A7})
    events = [opened(), dashboard("e1", 60, "dash-overview"), dashboard("e2", 120, "dash-deploys")]
    r = client.post("/models/7/invoke", json={"alert_id": "a1", "events": events, "top_k": 3})
    assert r.status_code == 200
    expected = load_bundle(str(serving_root / A7)).recommend("a1", events, top_k=3)
    assert r.json() == json.loads(json.dumps(expected))  # the Python API gives the same answer
    assert len(r.json()["recommendations"]) == 3


@pytest.mark.parametrize(
    "body",
    [
        b"{oops",
        b'"a string"',
        b'{"events": []}',
        b'{"alert_id": "a1"}',
        b'{"alert_id": "a1", "events": {}}',
        b'{"alert_id": "a1", "events": [], "top_k": -1}',
        b'{"alert_id": "a1", "events": [7]}',
    ],
)
def test_bad_invoke_requests_are_400_and_the_server_goes_on(client, body):
    client.post("/models", json={"model_name": "7", "url": A7})
    r = client.post("/models/7/invoke", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400 and "error" in r.json()
    ok = client.post("/models/7/invoke", json={"alert_id": "a1", "events": [opened()]})
    assert ok.status_code == 200 and ok.json()["recommendations"]


def test_invoke_unknown_model_is_404(client):
    assert client.post("/models/nope/invoke", json={"alert_id": "a1", "events": []}).status_code == 404
    _alive(client)


def test_least_recently_used_is_evicted(serving_root):
    app = create_app(ServeSettings(root=str(serving_root), max_models=2))
    with TestClient(app) as c:
        assert c.post("/models", json={"model_name": "a", "url": A7}).status_code == 200
        assert c.post("/models", json={"model_name": "b", "url": A8}).status_code == 200
        assert c.post("/models/a/invoke", json={"alert_id": "a1", "events": [opened()]}).status_code == 200
        assert c.post("/models", json={"model_name": "c", "url": A7}).status_code == 200
        assert [m["modelName"] for m in c.get("/models").json()["models"]] == ["a", "c"]  # b was least recent
        assert c.post("/models/b/invoke", json={"alert_id": "a1", "events": []}).status_code == 404


def test_memory_ceiling(serving_root):
    size = load_bundle(str(serving_root / A7)).memory_bytes
    with TestClient(create_app(ServeSettings(root=str(serving_root), max_memory_bytes=size - 1))) as c:
        r = c.post("/models", json={"model_name": "7", "url": A7})
        assert r.status_code == 507 and "needs" in r.json()["error"]
        _alive(c)
    registry = ModelRegistry(max_models=10, max_memory_bytes=int(size * 1.5), evict=False)
    with TestClient(create_app(ServeSettings(root=str(serving_root)), registry=registry)) as c:
        assert c.post("/models", json={"model_name": "7", "url": A7}).status_code == 200
        r = c.post("/models", json={"model_name": "8", "url": A8})
        assert r.status_code == 507 and "no memory left" in r.json()["error"]
        assert [m["modelName"] for m in c.get("/models").json()["models"]] == ["7"]
    registry = ModelRegistry(max_models=10, max_memory_bytes=int(size * 1.5), evict=True)
    with TestClient(create_app(ServeSettings(root=str(serving_root)), registry=registry)) as c:
        c.post("/models", json={"model_name": "7", "url": A7})
        assert c.post("/models", json={"model_name": "8", "url": A8}).status_code == 200
        assert [m["modelName"] for m in c.get("/models").json()["models"]] == ["8"]


def test_access_log_is_one_json_line_per_request(client, caplog):
    with caplog.at_level(logging.INFO, logger="alertrec.serving.access"):
        client.get("/ping")
        client.get("/models/none")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "alertrec.serving.access"]
    assert [(x["method"], x["path"], x["status"]) for x in lines] == [
        ("GET", "/ping", 200),
        ("GET", "/models/none", 404),
    ]
    assert all(x["ms"] >= 0 for x in lines)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_alertrec_serve_stops_cleanly_on_sigterm(serving_root):
    import httpx

    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "alertrec", "serve", "--output", str(serving_root), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ping", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        base = f"http://127.0.0.1:{port}"
        assert httpx.post(f"{base}/models", json={"model_name": "7", "url": A7}).status_code == 200
        assert httpx.post(f"{base}/models/7/invoke", content=b"{bad").status_code == 400
        assert httpx.post(f"{base}/models/7/invoke", json={"alert_id": "a1", "events": [opened()]}).status_code == 200
        # 8 concurrent clients, good and bad requests mixed: every answer has its status
        from concurrent.futures import ThreadPoolExecutor

        def client(i: int) -> list[int]:
            with httpx.Client(base_url=base) as c:
                good = {"alert_id": "a1", "events": [opened(), dashboard("e1", 60, "dash-overview")]}
                return [
                    c.post("/models/7/invoke", json=good).status_code
                    if (i + k) % 3
                    else c.post("/models/7/invoke", content=b"{").status_code
                    for k in range(10)
                ]

        with ThreadPoolExecutor(8) as pool:
            codes = [code for codes in pool.map(client, range(8)) for code in codes]
        assert sorted(set(codes)) == [200, 400] and codes.count(400) == sum(
            1 for i in range(8) for k in range(10) if (i + k) % 3 == 0
        )
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert b"1 models unloaded" in err
