"""Logging for ``viora serve``: JSON lines for machines, the familiar one-line format for people.

When stderr is not a terminal the logs are going to a collector (systemd's journal, a container
runtime, a file shipped to a log store), which wants one self-contained JSON object per line: a
multi-line traceback then stays inside its record instead of becoming stray lines. On a terminal
the text format reads better. ``VIORA_LOG_FORMAT=json|text`` overrides the guess.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Literal, TextIO

LogFormat = Literal["json", "text"]
FORMATS: tuple[LogFormat, ...] = ("json", "text")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``,
    and ``exception`` / ``stack`` when the record carries them."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False)


def choose_format(configured: str | None, stream: TextIO) -> LogFormat:
    """The configured format, else text on a terminal and JSON anywhere else."""
    if configured:
        choice = configured.strip().lower()
        if choice not in FORMATS:
            raise ValueError(f"VIORA_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {configured!r}")
        return "json" if choice == "json" else "text"
    return "text" if stream.isatty() else "json"


def configure_logging(
    configured: str | None, *, stream: TextIO | None = None, level: int = logging.INFO
) -> LogFormat:
    """Send the root logger's records to ``stream`` (stderr) in the chosen format; returns it."""
    stream = sys.stderr if stream is None else stream
    chosen = choose_format(configured, stream)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if chosen == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    return chosen
