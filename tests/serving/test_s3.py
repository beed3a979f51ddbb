"""A serving folder read from S3 (moto's server on 127.0.0.1), by the Python API and the server."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from alertrec.io.storage import storage_for
from alertrec.serving import load_bundle
from alertrec.serving.app import ServeSettings, create_app
from alertrec.serving.bundle import serving_prefix
from tests.serving.conftest import ACCOUNT, DAY, opened, published_lists

pytestmark = pytest.mark.s3


def test_load_from_s3_and_serve(s3_bucket, serving_files):
    root = f"s3://{s3_bucket}/warehouse"
    storage = storage_for(root)
    for name, data in serving_files.items():
        storage.write_bytes(f"{serving_prefix(DAY, ACCOUNT)}/{name}", data)
    bundle = load_bundle(f"{root}/{serving_prefix(DAY, ACCOUNT)}")
    expected = list(published_lists().query("alert_id == 'a1'")["item_id"])
    assert [r["item_id"] for r in bundle.recommend("a1", [opened()])["recommendations"]] == expected
    with TestClient(create_app(ServeSettings(root=root))) as client:
        assert client.post("/models", json={"model_name": "7", "url": serving_prefix(DAY, ACCOUNT)}).status_code == 200
        assert client.post("/models", json={"model_name": "9", "url": f"{root}/nothing"}).status_code == 404
        r = client.post("/models/7/invoke", json={"alert_id": "a1", "events": [opened()]})
        assert [x["item_id"] for x in r.json()["recommendations"]] == expected
