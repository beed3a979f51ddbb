"""Load test of ``alertrec serve``: latency and throughput with 8 clients, RSS with 12/100/500 models.

    .venv/bin/python bench/bench_serve.py                     # 90k-row world (12 accounts), 8 clients
    .venv/bin/python bench/bench_serve.py --requests 2000 --clients 8

The serving folders of a generated world's accounts (built as the nightly run would:
``bench_serving_quality.bundles_for_day``) are written under a temporary output root and
copied under new account numbers up to 500 folders. The server runs as its own process
(``python -m alertrec serve``) on 127.0.0.1 only, with its access log on; the clients are
threads of this process, each with one keep-alive connection (``http.client``), sending
invoke requests prepared in advance (after 200 unmeasured warm-up requests): a random loaded
account, one of its alerts, and the ``alert_opened`` plus 0-4 items of one of the alert's
investigation patterns as raw events (dirt included: an unknown action in every fourth
request). Latency is measured by the
client (it includes the client's own waits on 2 shared cores: an upper bound). RSS is the
server process's resident set (psutil) after the models are loaded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import http.client
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np

DAY = dt.date(2026, 1, 31)


def build_bundles(out: Path, actions: int, seed: int) -> list[Path]:
    """Serving folders of a generated world's accounts (cached under ``out``)."""
    from bench.bench_serving_quality import bundles_for_day, world_frames

    marker = out / ".complete"
    if not marker.exists():
        frames = world_frames(actions, seed, 1)
        built = bundles_for_day(frames["sessions"], frames["items"], DAY, seed)
        for account, files in built["files"].items():
            for name, data in files.items():
                path = out / f"account={account}" / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
        marker.write_text("ok")
    return sorted(p for p in out.iterdir() if p.is_dir())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _request(conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    conn.request(method, path, body=body, headers={"content-type": "application/json"} if body else {})
    resp = conn.getresponse()
    return resp.status, resp.read()


def _events(patterns: dict, alert_id: str, rng: random.Random, dirty: bool) -> list[dict]:
    """The alert_opened and 0-4 items of one of the alert's patterns, as raw events."""
    t0 = dt.datetime(2026, 1, 31, 10, 0, tzinfo=dt.UTC)
    events = [
        {
            "event_id": "open",
            "ts": t0.isoformat(),
            "action": "alert_opened",
            "payload": json.dumps({"alert_event_id": "ae-1", "alert_id": alert_id, "source": "ui"}),
        }
    ]
    clusters = patterns.get(alert_id, {}).get("patterns", [])
    if not clusters:
        return events
    medoid = rng.choice(clusters)["medoid"]
    for i, key in enumerate(medoid[: rng.randint(0, 4)]):
        item_type, item_id = key.split(":", 1)
        ts = (t0 + dt.timedelta(seconds=60 * (i + 1))).isoformat()
        if item_type == "dashboard":
            payload = json.dumps({"dashboard": {"id": item_id, "title": "x"}, "panels": [{"id": "p", "type": "stat"}]})
            events.append({"event_id": f"e{i}", "ts": ts, "action": "dashboard_opened", "payload": payload})
    if dirty:
        events.append({"event_id": "junk", "ts": t0.isoformat(), "action": "page_view", "payload": "{"})
    return events


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=90_000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "alertrec-bench-serve"))
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "serve-2core.json"))
    args = parser.parse_args(argv)
    import psutil

    cache = Path(args.cache)
    from alertrec.serving.nextstep.prefix import FEATURES

    tag = hashlib.sha1(",".join(FEATURES).encode()).hexdigest()[:8]  # a cache per feature set
    sources = build_bundles(cache / f"bundles-{args.actions}-{args.seed}-{tag}", args.actions, args.seed)
    root = Path(tempfile.mkdtemp(prefix="alertrec-serve-root-"))
    names = []
    for i in range(500):
        name = str(1000 + i)
        shutil.copytree(sources[i % len(sources)], root / "models" / "serving" / f"dt={DAY}" / f"account={name}")
        names.append(name)
    sizes = [sum(f.stat().st_size for f in s.rglob("*") if f.is_file()) for s in sources]
    port = _free_port()
    log_path = root / "server.log"
    with open(log_path, "wb") as log_file:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "alertrec",
                "serve",
                "--output",
                str(root),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--max-models",
                "1000",
                "--max-memory-mb",
                "3500",
            ],
            stdout=log_file,
            stderr=log_file,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    result: dict = {
        "clients": args.clients,
        "cpu_count": os.cpu_count(),
        "accounts_in_world": len(sources),
        "bundle_bytes_on_disk": {"mean": int(np.mean(sizes)), "max": int(max(sizes))},
    }
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                if _request(conn, "GET", "/ping")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"the server did not start; see {log_path}")
        proc = psutil.Process(server.pid)
        result["rss_mib_no_models"] = round(proc.memory_info().rss / 2**20, 1)
        loaded = 0
        rss = {}
        load_s = []
        for target in (12, 100, 500):
            while loaded < target:
                name = names[loaded]
                body = json.dumps({"model_name": name, "url": f"models/serving/dt={DAY}/account={name}"}).encode()
                t0 = time.perf_counter()
                status, text = _request(conn, "POST", "/models", body)
                load_s.append(time.perf_counter() - t0)
                if status != 200:
                    raise RuntimeError(f"load of {name}: {status} {text[:200]!r}")
                loaded += 1
            rss[target] = round(proc.memory_info().rss / 2**20, 1)
            if target in (12, 500):
                result[f"load_test_{target}_models"] = _load_test(port, root, names[:target], args)
        result["rss_mib"] = rss
        result["load_ms"] = {
            "p50": round(float(np.percentile(load_s, 50)) * 1000, 2),
            "p99": round(float(np.percentile(load_s, 99)) * 1000, 2),
        }
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        result["server_exit_code"] = server.returncode
        shutil.rmtree(root, ignore_errors=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    for key in ("load_test_12_models", "load_test_500_models"):
        t = result[key]
        print(
            f"{key}: {t['requests']} requests, {t['clients']} clients: p50 {t['p50_ms']} ms, p99 {t['p99_ms']} ms, "
            f"{t['throughput_rps']} req/s, errors {t['errors']}"
        )
    print(
        f"RSS: no models {result['rss_mib_no_models']} MiB, " + ", ".join(f"{k} models {v} MiB" for k, v in rss.items())
    )
    print(
        f"bundle on disk: {result['bundle_bytes_on_disk']['mean'] / 1024:.0f} KiB mean; "
        f"load p50 {result['load_ms']['p50']} ms; server exit {result['server_exit_code']}"
    )
    return 0


def _load_test(port: int, root: Path, names: list[str], args: argparse.Namespace) -> dict:
    """``args.requests`` invoke requests from ``args.clients`` threads; latencies in ms."""
    rng = random.Random(args.seed)
    patterns = {}
    bodies = []
    for i in range(args.requests):
        name = rng.choice(names)
        folder = root / "models" / "serving" / f"dt={DAY}" / f"account={name}"
        if name not in patterns:
            patterns[name] = (
                json.loads((folder / "patterns.json").read_text()),
                sorted(json.loads((folder / "lists.json").read_text())),
            )
        pats, alerts = patterns[name]
        alert_id = rng.choice(alerts)
        body = {"alert_id": alert_id, "events": _events(pats, alert_id, rng, dirty=i % 4 == 0), "top_k": 10}
        bodies.append((name, json.dumps(body).encode()))
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    chunks = [bodies[i :: args.clients] for i in range(args.clients)]

    def client(chunk: list[tuple[str, bytes]]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        bad = 0
        for name, body in chunk:
            t0 = time.perf_counter()
            status, _ = _request(conn, "POST", f"/models/{name}/invoke", body)
            mine.append(time.perf_counter() - t0)
            bad += status != 200
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    warm = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for name, body in bodies[:200]:  # warm-up, not measured
        _request(warm, "POST", f"/models/{name}/invoke", body)
    threads = [threading.Thread(target=client, args=(c,)) for c in chunks]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    ms = np.array(latencies) * 1000
    return {
        "requests": len(ms),
        "clients": args.clients,
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "max_ms": round(float(ms.max()), 2),
        "throughput_rps": round(len(ms) / wall, 1),
        "errors": errors[0],
        "wall_s": round(wall, 2),
    }


if __name__ == "__main__":
    sys.exit(main())
