"""Logging, the same in every process: the API (and each `serve --workers N` child), the scheduler, the
Dramatiq workers and the CLI.

- One line per record, as text (`time LEVEL logger: message`) or, with LOG_FORMAT=json, as one JSON object
  (`time`, `level`, `logger`, `message`, and `error_id`, `exception`, `repeated` when there are some).
- Repeats are summarised: a WARNING or worse that is the same as one just written (same logger, same message
  template, same exception type) is counted, not written; every `window` seconds a cause that repeated
  leaves one line, "... (repeated N times in the last 5 s)". A database outage is then one line per cause
  every few seconds, not a traceback per request and per tick. The first record of a burst keeps its
  traceback; the summary has none.

Below everything (like config.py): it imports nothing of the project. `configure` sets up a process that
logs on its own; `uvicorn_config` is the dictConfig that uvicorn applies in the server and in each worker
child (server.py passes it as `log_config`).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FORMATS = ("text", "json")
#: Seconds during which the repeats of a record are counted instead of written.
WINDOW = 5.0


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: what a log collector indexes without a parser of its own."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in ("error_id", "repeated"):
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


@dataclass(slots=True)
class _Window:
    ends: float
    count: int = 0
    last: logging.LogRecord | None = None


class Summarise(logging.Filter):
    """Lets the first of identical WARNING+ records through per window and counts the others (module
    docstring). One instance may sit on several handlers: a record is decided once, whatever their number."""

    def __init__(self, window: float = WINDOW) -> None:
        super().__init__()
        self.window = window
        self._windows: dict[tuple[str, str, str | None], _Window] = {}
        self._lock = threading.Lock()
        self._flusher: threading.Thread | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        decided = getattr(record, "_outbound_passes", None)
        if decided is not None:
            return bool(decided)
        passes = record.levelno < logging.WARNING or getattr(record, "repeated", None) is not None
        if not passes:
            passes = self._first_in_window(record)
        record._outbound_passes = passes
        return passes

    def _first_in_window(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else None
        key = (record.name, str(record.msg), exc)
        now = time.monotonic()
        with self._lock:
            window = self._windows.get(key)
            if window is None or (window.ends <= now and window.count == 0):
                self._windows[key] = _Window(now + self.window)
                self._start_flusher()
                return True
            window.count += 1
            window.last = record
            return False

    def _start_flusher(self) -> None:
        if self._flusher is None or not self._flusher.is_alive():
            self._flusher = threading.Thread(target=self._flush_loop, name="log-summaries", daemon=True)
            self._flusher.start()

    def _flush_loop(self) -> None:
        while True:
            time.sleep(min(1.0, self.window / 5))
            if not self.flush():
                return

    def flush(self, *, everything: bool = False) -> bool:
        """Write the summaries of the windows that ended (all of them with `everything`); True while some are
        still open. A window that ended with repeats opens the next one at once, so a steady failure stays at
        one line per window."""
        now = time.monotonic()
        due: list[tuple[logging.LogRecord, int]] = []
        with self._lock:
            for key, window in list(self._windows.items()):
                if window.ends > now and not everything:
                    continue
                if window.count and window.last is not None:
                    due.append((window.last, window.count))
                    self._windows[key] = _Window(now + self.window)
                else:
                    del self._windows[key]
            still_open = bool(self._windows) and not everything
        for record, count in due:
            logging.getLogger(record.name).handle(self._summary(record, count))
        return still_open

    def _summary(self, record: logging.LogRecord, count: int) -> logging.LogRecord:
        times = "time" if count == 1 else "times"
        message = f"{record.getMessage()} (repeated {count} {times} in the last {self.window:g} s)"
        summary = logging.LogRecord(
            record.name, record.levelno, record.pathname, record.lineno, message, None, None, record.funcName
        )
        summary.repeated = count
        error_id = getattr(record, "error_id", None)
        if error_id is not None:
            summary.error_id = error_id  # the last one's: the others are in no line of their own
        return summary


def configure(level: str = "INFO", log_format: str = "text") -> None:
    """Set up this process's logging: a stderr handler, or the handlers that are already there (the Dramatiq
    CLI writes its workers' logs through a pipe to the parent) with our format and summaries."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    summarise = Summarise()
    for handler in root.handlers:
        handler.setFormatter(formatter(log_format))
        for old in [f for f in handler.filters if isinstance(f, Summarise)]:
            handler.removeFilter(old)
        handler.addFilter(summarise)
    root.setLevel(level.upper())


def uvicorn_config(level: str = "INFO", log_format: str = "text") -> dict[str, Any]:
    """uvicorn's `log_config`: the root, uvicorn's own loggers and its access log through one handler with our
    format and summaries. uvicorn applies it in the server and again in each `--workers` child."""
    level = level.upper()
    kind = "logs.JsonFormatter" if log_format == "json" else "logs.TextFormatter"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"outbound": {"()": kind}},
        "filters": {"summarise": {"()": "logs.Summarise"}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "outbound",
                "filters": ["summarise"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": level, "propagate": True},
        },
    }
