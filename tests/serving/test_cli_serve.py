"""``alertrec serve``: the CLI only parses and calls alertrec.serving.app.serve."""

from __future__ import annotations

import pytest

from alertrec import cli
from alertrec.serving import app


def test_serve_arguments_reach_serve(monkeypatch):
    seen = {}

    def fake_serve(settings, host, port):
        seen.update(settings=settings, host=host, port=port)
        return 0

    monkeypatch.setattr(app, "serve", fake_serve)
    assert cli.main(["serve", "--output", "s3://bucket/wh", "--max-models", "5", "--max-memory-mb", "64"]) == 0
    assert seen["host"] == "127.0.0.1" and seen["port"] == 8080
    assert seen["settings"] == app.ServeSettings(root="s3://bucket/wh", max_models=5, max_memory_bytes=64 * 2**20)
    assert cli.main(["serve", "--host", "0.0.0.0", "--port", "9000"]) == 0
    assert (seen["host"], seen["port"], seen["settings"].root) == ("0.0.0.0", 9000, "./warehouse")


@pytest.mark.parametrize("argv", [["serve", "--port", "0"], ["serve", "--max-models", "0"], ["serve", "--port", "x"]])
def test_bad_serve_arguments(monkeypatch, argv):
    monkeypatch.setattr(app, "serve", lambda *a, **k: pytest.fail("must not start"))
    assert cli.main(argv) == 2
