"""Structured logs: JSON lines off a terminal, the text format on one, ``VIORA_LOG_FORMAT`` overrides."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from datetime import datetime

import pytest

from kernel.config import Settings
from viora.logging_setup import JsonFormatter, choose_format, configure_logging


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    """``configure_logging`` replaces the root handlers; put pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_carry_time_level_logger_message_and_the_exception() -> None:
    formatter = JsonFormatter()
    logger = logging.getLogger("viora.test")
    plain = logger.makeRecord(
        "viora.test", logging.WARNING, __file__, 1, "queue %s is %d deep", ("x", 7), None
    )
    try:
        raise RuntimeError("model crashed\nsecond line")
    except RuntimeError:
        failed = logger.makeRecord(
            "viora.test", logging.ERROR, __file__, 2, "batch failed", (), sys.exc_info()
        )

    entry = json.loads(formatter.format(plain))
    assert entry.keys() == {"time", "level", "logger", "message"}
    assert (entry["level"], entry["logger"], entry["message"]) == (
        "WARNING",
        "viora.test",
        "queue x is 7 deep",
    )
    assert datetime.fromisoformat(entry["time"]).utcoffset() is not None

    line = formatter.format(failed)
    assert "\n" not in line, "one record, one line, even with a multi-line traceback"
    entry = json.loads(line)
    assert entry["message"] == "batch failed"
    assert entry["exception"].startswith("Traceback")
    assert "RuntimeError: model crashed\nsecond line" in entry["exception"]


def test_the_format_follows_the_terminal_unless_configured() -> None:
    assert choose_format(None, Terminal()) == "text"
    assert choose_format(None, io.StringIO()) == "json"
    assert choose_format("json", Terminal()) == "json"
    assert choose_format("TEXT", io.StringIO()) == "text"
    with pytest.raises(ValueError, match="VIORA_LOG_FORMAT"):
        choose_format("xml", io.StringIO())


def test_the_setting_comes_from_the_environment() -> None:
    assert Settings.from_env({"VIORA_LOG_FORMAT": "json"}).log_format == "json"
    assert Settings.from_env({}).log_format is None


@pytest.mark.usefixtures("restore_root_logger")
def test_configured_logging_writes_json_lines_off_a_terminal() -> None:
    stream = io.StringIO()
    assert configure_logging(None, stream=stream) == "json"
    logging.getLogger("viora.runtime").info("started %d children", 9)
    (line,) = stream.getvalue().splitlines()
    assert json.loads(line)["message"] == "started 9 children"


@pytest.mark.usefixtures("restore_root_logger")
def test_configured_logging_writes_text_on_a_terminal() -> None:
    stream = Terminal()
    assert configure_logging(None, stream=stream) == "text"
    logging.getLogger("viora.runtime").info("started %d children", 9)
    assert stream.getvalue().rstrip().endswith("INFO viora.runtime: started 9 children")
