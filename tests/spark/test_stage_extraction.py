"""The staged extraction writes the same frames whether the judged events are materialized or not."""

from __future__ import annotations

import pandas as pd
import pytest

from alertrec.config import Config
from alertrec.engines.staging import FRAMES, StagingArea
from alertrec.io.extract import EVENTS_DIR, stage_extraction
from alertrec.io.inputs import read_inputs
from tests.conftest import FIXTURE_DAY, FIXTURES

pytestmark = pytest.mark.spark


def test_materialized_events_give_the_same_frames_and_accounting(spark, tmp_path):
    config = Config(input_root=str(FIXTURES), output_root=str(tmp_path / "o"), date=FIXTURE_DAY)
    alerts, actions, _ = read_inputs(spark, config)
    staged = {}
    for flag in (False, True):
        root = str(tmp_path / f"stage-{flag}")
        staged[flag] = stage_extraction(spark, alerts, actions, config, root, materialize_events=flag)
        assert (tmp_path / f"stage-{flag}" / EVENTS_DIR).exists() == flag
    pd.testing.assert_frame_equal(staged[False].accounting, staged[True].accounting)
    assert set(staged[True].timings_s) == {"extract.judge", "extract.frames", "extract.accounting"}
    areas = {flag: StagingArea(str(tmp_path / f"stage-{flag}")) for flag in staged}
    rows = areas[False].account_rows()
    assert rows == areas[True].account_rows() and len(rows) >= 2
    for account in rows:
        got, want = areas[True].read_account(account), areas[False].read_account(account)
        for name in FRAMES:
            pd.testing.assert_frame_equal(got[name], want[name], check_like=False)
