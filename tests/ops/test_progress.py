"""alertrec.progress: a status line for a person at a terminal, plain lines for cron and EMR."""

from __future__ import annotations

import io
import logging

from alertrec.monitor import Timer
from alertrec.progress import TerminalHandler, is_interactive, setup_logging, timings_line


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _logger(handler: logging.Handler) -> logging.Logger:
    """alertrec.monitor's records routed to ``handler`` only."""
    logger = logging.getLogger("alertrec.monitor")
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    logger.propagate = False
    return logger


def test_the_terminal_shows_the_running_stage_and_clears_it(monkeypatch):
    screen = FakeTerminal()
    handler = TerminalHandler(screen, refresh_s=0)
    logger = _logger(handler)
    try:
        timer = Timer()
        with timer.step("extract"):
            assert handler.status().startswith("| extract 0:0")
            logging.getLogger("alertrec.monitor").info("reading %d partitions", 29)
        text = screen.getvalue()
        # the status line is drawn, erased before each log line, drawn again after it, and erased at the end
        assert text.count("\r\x1b[2K| extract 0:0") == 2
        assert "\r\x1b[2K" in text.split("reading 29 partitions")[0]
        assert text.endswith("stage extract: 0.0 s\n")  # nothing redrawn once the stage is over
        assert [name for name, _ in handler.done] == ["extract"]
        # short lines: a clock, the message
        shown = [line.rsplit("\x1b[2K", 1)[-1] for line in text.split("\n")]
        assert any(line.endswith(" reading 29 partitions") and line[2] == ":" and len(line) == 30 for line in shown)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
        handler.close()


def test_warnings_keep_their_level_on_the_terminal():
    screen = FakeTerminal()
    handler = TerminalHandler(screen, refresh_s=0)
    record = logging.LogRecord("alertrec.io.lock", logging.WARNING, __file__, 1, "took over %s", ("x",), None)
    handler.emit(record)
    assert screen.getvalue().split(" ", 1)[1] == "WARNING: took over x\n"


def test_plain_output_has_no_control_characters():
    stream = io.StringIO()
    assert not is_interactive(stream)
    handler = logging.StreamHandler(stream)
    from alertrec.progress import PLAIN_FORMAT

    handler.setFormatter(logging.Formatter(PLAIN_FORMAT))
    logger = _logger(handler)
    try:
        with Timer().step("rank"):
            pass
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    lines = stream.getvalue().splitlines()
    assert [line.split(" ", 2)[2] for line in lines] == [
        "INFO alertrec.monitor: stage rank: started",
        "INFO alertrec.monitor: stage rank: 0.0 s",
    ]
    assert "\r" not in stream.getvalue() and "\x1b" not in stream.getvalue()


def test_setup_logging_picks_by_the_stream_and_replaces_its_own_handler():
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers = []
    try:
        shown = setup_logging(stream=FakeTerminal())
        assert shown.interactive and isinstance(root.handlers[0], TerminalHandler)
        shown = setup_logging(stream=io.StringIO())
        assert not shown.interactive and len(root.handlers) == 1
        assert not isinstance(root.handlers[0], TerminalHandler)
        assert logging.getLogger("botocore").level == logging.WARNING
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers, root.level = saved


def test_setup_logging_leaves_someone_elses_handlers_alone():
    root = logging.getLogger()
    theirs = logging.NullHandler()
    root.addHandler(theirs)
    try:
        shown = setup_logging(stream=FakeTerminal())
        assert shown.handler is None and theirs in root.handlers
    finally:
        root.removeHandler(theirs)


def test_timings_line():
    assert timings_line({"timings_s": {"read": 2.04, "extract": 10.4}}) == (
        "  stages: read 2.0 s, extract 10.4 s (total 12.4 s)"
    )
    assert timings_line({}) == "  stages: (no timings)"
