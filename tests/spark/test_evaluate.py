"""``alertrec evaluate`` end to end on a small generated world (one Spark extraction).

The world has planted structure (effective investigation steps per failure mode), so a
ranker that learned anything beats random order on the item that revealed the cause.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from alertrec import evaluate as E
from alertrec.config import Config
from alertrec.errors import ConfigError
from alertrec.generate import WorldSpec, generate_world, write_world

pytestmark = pytest.mark.spark

DAY = dt.date(2026, 2, 1)


@pytest.fixture(scope="module")
def world_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval-world")
    write_world(generate_world(WorldSpec.for_actions(8_000, end_date=DAY, days=10), seed=5), root)
    return root


@pytest.fixture(scope="module")
def report(spark, world_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("eval-out")
    config = Config(input_root=str(world_root), date=DAY, output_root=str(out), history_days=7)
    settings = E.EvalSettings(config=config, days=2, list_length=10, cold_start_share=0.3)
    return E.evaluate(settings, spark=spark), out


def test_report_covers_every_day_ranker_and_subset(report):
    rep, _ = report
    assert rep["days"] == ["2026-01-30", "2026-01-31"]
    assert all(c["sessions"] > 0 and c["history_sessions"] > 0 for c in rep["counts"])
    assert set(rep["rankers"]) == {"mxnet", "popularity", "random"}
    for res in rep["rankers"].values():
        assert res["all"]["sessions"] == sum(c["sessions"] for c in rep["counts"])
        for view in ("used", "cause"):
            for key, value in res["all"][view].items():
                if key in ("hit_rate_at_1", "hit_rate_at_5", "ndcg_at_10", "mrr", "found_in_list"):
                    assert 0.0 <= value <= 1.0, (view, key)
        assert res["all"]["cause"]["hit_rate_at_1"] <= res["all"]["cause"]["hit_rate_at_5"]
        assert len(res["per_day"]) == 2
        assert 0.0 < res["catalog_coverage"] <= 1.0
    held = sum(c["held_out_definitions"] for c in rep["counts"])
    assert held > 0 and rep["rankers"]["popularity"]["cold_start_held_out"]["sessions"] > 0


def test_learned_rankers_beat_random_order_on_the_cause(report):
    rep, _ = report
    cause = {name: res["all"]["cause"] for name, res in rep["rankers"].items()}
    assert cause["popularity"]["mrr"] > cause["random"]["mrr"] + 0.2
    assert cause["mxnet"]["mrr"] > cause["random"]["mrr"] + 0.2
    assert cause["mxnet"]["mttr_estimated_s"] < cause["random"]["mttr_estimated_s"]


def test_json_png_and_table_are_written(report):
    rep, out = report
    folder = out / "evaluations" / DAY.isoformat()
    saved = json.loads((folder / "evaluation.json").read_text())
    assert saved["rankers"]["mxnet"]["all"]["cause"]["mrr"] == pytest.approx(
        rep["rankers"]["mxnet"]["all"]["cause"]["mrr"]
    )
    assert (folder / "evaluation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = E.format_table(rep)
    assert all(name in table for name in ("mxnet", "popularity", "random", "cause MRR", "MTTR est s"))


def test_evaluate_from_args_parses_and_reports(monkeypatch, capsys, report):
    rep, _ = report
    seen = {}

    def fake_evaluate(settings):
        seen["settings"] = settings
        return {**rep, "outputs": {"json": "J", "png": "P"}}

    monkeypatch.setattr("alertrec.evaluate.cli.evaluate", fake_evaluate)  # where evaluate_from_args looks it up
    from alertrec import cli

    code = cli.main(
        [
            "evaluate",
            "--input",
            "in",
            "--date",
            "2026-02-01",
            "--days",
            "3",
            "--list-length",
            "15",
            "--history-days",
            "9",
            "--seed",
            "4",
        ]
    )
    printed = capsys.readouterr().out
    settings = seen["settings"]
    assert code == 0
    assert settings.days == 3 and settings.list_length == 15 and settings.date == DAY
    # the job's settings are the job's Config, with the evaluation's larger driver heap
    assert (settings.config.history_days, settings.config.seed, settings.config.top_k) == (9, 4, 10)
    assert settings.config.spark_driver_memory == "2g"
    assert "cause MRR" in printed and "report: J" in printed
    with pytest.raises(ConfigError, match="--list-length"):
        E.EvalSettings(config=settings.config, list_length=5)
