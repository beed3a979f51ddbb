"""What a run prints while it works: a live status line at a terminal, plain log lines elsewhere.

:func:`setup_logging` is called by the CLI.  When stderr is a terminal, log
records are printed short (``HH:MM:SS message``) and a status line below them
shows the stage that is running (from the ``stage NAME: started`` records of
:class:`alertrec.monitor.Timer`), its elapsed time and, while Spark works, the
tasks of its active stages; the line is redrawn twice a second and erased at
the end.  Cron, EMR steps and anything else that is not a terminal get one
plain, time-stamped log line per record on stderr and no control characters.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any, cast

log = logging.getLogger(__name__)

PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
NOISY_LOGGERS = ("py4j", "botocore", "boto3", "urllib3", "s3transfer", "be.kuleuven.dtai")
_SPINNER = "|/-\\"
_CLEAR = "\r\x1b[2K"
_MARK = "_alertrec_handler"


def is_interactive(stream: IO[str]) -> bool:
    """True when ``stream`` is a terminal that understands a redrawn line (not TERM=dumb)."""
    try:
        return bool(stream.isatty()) and os.environ.get("TERM", "") != "dumb"
    except (AttributeError, ValueError):
        return False


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


class TerminalHandler(logging.Handler):
    """Short log lines with a redrawn status line below them; for a terminal.

    Parameters
    ----------
    stream : file
        Where to write (a terminal).
    refresh_s : float
        How often the status line is redrawn by the ticker thread; 0 for no thread.
    detail : callable, optional
        Returns a text appended to the status line (the CLI passes the active
        Spark stages), or None.
    """

    def __init__(self, stream: IO[str], refresh_s: float = 0.5, detail: Callable[[], str | None] | None = None) -> None:
        super().__init__()
        self.stream = stream
        self.detail = detail
        self.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
        self.stage: str | None = None
        self.stage_started = 0.0
        self.done: list[tuple[str, float]] = []
        self.status_shown = False
        self._tick = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if refresh_s > 0:
            self._thread = threading.Thread(
                target=self._ticker, args=(refresh_s,), name="alertrec-progress", daemon=True
            )
            self._thread.start()

    # -- what the status line says --------------------------------------------
    def _track(self, record: logging.LogRecord) -> None:
        if record.name != "alertrec.monitor" or not isinstance(record.args, tuple) or not record.args:
            return
        if record.msg == "stage %s: started":
            self.stage, self.stage_started = str(record.args[0]), time.monotonic()
        elif record.msg == "stage %s: %.1f s":
            self.done.append((str(record.args[0]), float(cast(float, record.args[1]))))
            if self.stage == str(record.args[0]):
                self.stage = None

    def status(self) -> str:
        """The status line now ('' when no stage runs)."""
        if self.stage is None:
            return ""
        spin = _SPINNER[self._tick % len(_SPINNER)]
        text = f"{spin} {self.stage} {_clock(time.monotonic() - self.stage_started)}"
        extra = self.detail() if self.detail is not None else None
        return f"{text}  {extra}" if extra else text

    # -- drawing ------------------------------------------------------------------
    def _draw(self, text: str) -> None:
        width = 200
        try:
            columns = os.get_terminal_size(self.stream.fileno()).columns
            if columns > 20:  # a pty that was never sized says 0
                width = columns - 1
        except (OSError, AttributeError, ValueError):
            pass
        if text:
            self.stream.write(_CLEAR + text[:width])
            self.status_shown = True
        elif self.status_shown:
            self.stream.write(_CLEAR)
            self.status_shown = False
        self.stream.flush()

    def _ticker(self, refresh_s: float) -> None:
        while not self._stop.wait(refresh_s):
            self.acquire()
            try:
                self._tick += 1
                self._draw(self.status())
            except Exception:
                pass
            finally:
                self.release()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._track(record)
            line = self.format(record)
            if record.levelno >= logging.WARNING:
                line = line.replace(" ", f" {record.levelname}: ", 1)
            if self.status_shown:
                self.stream.write(_CLEAR)
                self.status_shown = False
            self.stream.write(line + "\n")
            self._draw(self.status())
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self.acquire()
        try:
            if self.status_shown:
                self.stream.write(_CLEAR)
                self.stream.flush()
                self.status_shown = False
        except Exception:
            pass
        finally:
            self.release()
        super().close()


class Progress:
    """What :func:`setup_logging` set up; ``interactive`` says which kind."""

    def __init__(self, interactive: bool, handler: logging.Handler | None) -> None:
        self.interactive = interactive
        self.handler = handler

    def close(self) -> None:
        """Stop the status line (the handler stays for later records)."""
        if isinstance(self.handler, TerminalHandler):
            self.handler._stop.set()
            self.handler.acquire()
            try:
                self.handler.stage = None
                self.handler._draw("")
            finally:
                self.handler.release()


def setup_logging(
    verbose: bool = False,
    stream: IO[str] | None = None,
    interactive: bool | None = None,
    detail: Callable[[], str | None] | None = None,
) -> Progress:
    """Configure logging for a run: a status line at a terminal, plain lines otherwise.

    Replaces the handler an earlier call installed; leaves the root logger's
    handlers alone when someone else (pytest, a notebook's own setup) already
    installed some, like :func:`logging.basicConfig`.

    Parameters
    ----------
    verbose : bool
        DEBUG instead of INFO.
    stream : file, optional
        ``sys.stderr`` by default.
    interactive : bool, optional
        Force the terminal (True) or plain (False) output; by default, whether
        ``stream`` is a terminal.
    detail : callable, optional
        Extra text for the terminal's status line (see :class:`TerminalHandler`).

    Returns
    -------
    Progress
    """
    stream = stream if stream is not None else sys.stderr
    if interactive is None:
        interactive = is_interactive(stream)
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(handler)
        handler.close()
    installed: logging.Handler | None = None
    if not root.handlers:
        if interactive:
            installed = TerminalHandler(stream, detail=detail)
        else:
            installed = logging.StreamHandler(stream)
            installed.setFormatter(logging.Formatter(PLAIN_FORMAT))
        setattr(installed, _MARK, True)
        root.addHandler(installed)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return Progress(bool(interactive), installed)


def timings_line(report: dict[str, Any]) -> str:
    """``  stages: read 2.1 s, extract 10.4 s, ... (total 31.0 s)`` from a run report."""
    timings = report.get("timings_s") or {}
    if not timings:
        return "  stages: (no timings)"
    parts = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items())
    return f"  stages: {parts} (total {sum(timings.values()):.1f} s)"
