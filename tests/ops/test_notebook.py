"""The example notebook, executed by papermill with parameters, as a processing job runs it."""

from __future__ import annotations

import json
import os
import sys

import pytest

from alertrec.io.storage import storage_for
from tests.conftest import FIXTURE_DAY, FIXTURES, REPO
from tests.ops.helpers import DAY
from tests.output_contract import check_recommendations, read_published_day

pytestmark = pytest.mark.spark

NOTEBOOK = REPO / "notebooks" / "daily_recommendations.ipynb"


def test_notebook_runs_on_the_fixtures_under_papermill(tmp_path, monkeypatch):
    papermill = pytest.importorskip("papermill")
    import nbformat

    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)  # the kernel inherits it
    out = tmp_path / "warehouse"
    executed = tmp_path / "executed.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOK),
        str(executed),
        parameters={
            "input_root": str(FIXTURES),
            "output_root": str(out),
            "day": FIXTURE_DAY,
            "top_k": 3,
            "spark_master": "local[2]",
        },
        kernel_name="python3",
        cwd=str(NOTEBOOK.parent),
        progress_bar=False,
        execution_timeout=600,
    )
    nb = nbformat.read(executed, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and f'output_root = "{out}"' in injected[0].source
    (result_cell,) = [c for c in nb.cells if "result" in c.metadata.get("tags", [])]
    text = "".join(o.get("text", "") for o in result_cell.outputs if o.get("output_type") == "stream")
    result = json.loads(text.split("NOTEBOOK_RESULT ", 1)[1])
    # the stage-by-stage sessions are the ones the whole job reported, and the day was published where asked
    assert result["day"] == FIXTURE_DAY
    assert result["sessions"] == result["report_sessions"] > 0 and result["resolved"] > 0
    assert result["groups"] > 0 and result["clusters"] >= result["groups"] - 1
    assert result["stage_recommendations"] > 0 and result["published_rows"] > 0
    assert result["output"] == str(out / "recommendations" / f"dt={FIXTURE_DAY}")
    check_recommendations(read_published_day(storage_for(str(out)), DAY), top_k=3)
    # the frames are shown: sessions, accounting, clusters, medoids, recommendations, published rows
    tables = [
        c
        for c in nb.cells
        if c.cell_type == "code" and any("text/html" in o.get("data", {}) for o in c.get("outputs", []))
    ]
    assert len(tables) >= 7, [c.source[:40] for c in tables]
    assert not os.path.exists(NOTEBOOK.parent / "warehouse")
