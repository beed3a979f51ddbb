"""A fixed clock for the CLI, so that tests of its "today (UTC)" default never race midnight.

The CLI reads the clock once per command (``dt.datetime.now(dt.timezone.utc)`` in
``alertrec.cli``) and passes it down in the config; :func:`freeze_cli_clock` swaps the
CLI's view of :mod:`datetime` for one whose ``now`` is a fixed instant, leaving the real
module (and every other importer) alone.
"""

from __future__ import annotations

import datetime as dt
import types

import pytest

#: one microsecond before midnight UTC: a test that also read the real clock would fail here
FIXED_NOW = dt.datetime(2026, 3, 14, 23, 59, 59, 999_999, tzinfo=dt.UTC)


def freeze_cli_clock(monkeypatch: pytest.MonkeyPatch, now: dt.datetime = FIXED_NOW) -> dt.datetime:
    """Make ``alertrec.cli`` see ``now`` as the current time for the rest of the test; returns ``now``."""
    from alertrec import cli

    class _FixedDatetime(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> dt.datetime:  # type: ignore[override]
            return now.astimezone(tz) if tz is not None else now.replace(tzinfo=None)

    clock = types.SimpleNamespace(**{name: getattr(dt, name) for name in dir(dt) if not name.startswith("__")})
    clock.datetime = _FixedDatetime
    monkeypatch.setattr(cli, "dt", clock)
    return now
