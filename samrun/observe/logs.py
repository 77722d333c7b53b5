"""Logging: samrun's own records, and each function's output under `samrun.fn.<name>`."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import TextIO

FUNCTION_LOGGER = "samrun.fn"


class ConsoleFormatter(logging.Formatter):
    """Function lines as `Name | line`; samrun's own as `samrun: message`."""

    def format(self, record: logging.LogRecord) -> str:
        if record.name.startswith(FUNCTION_LOGGER + "."):
            return f"{record.name[len(FUNCTION_LOGGER) + 1 :]} | {record.getMessage()}"
        level = "" if record.levelno == logging.INFO else f"{record.levelname.lower()}: "
        text = f"samrun: {level}{record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def setup_logging(stream: TextIO | None = None, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(ConsoleFormatter())
    root = logging.getLogger("samrun")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    for noisy in ("aiohttp.access", "aiohttp.server", "aiohttp.web"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def function_output(function_name: str) -> Callable[[str], None]:
    """The sink of one function's output lines."""
    logger = logging.getLogger(f"{FUNCTION_LOGGER}.{function_name}")

    def emit(line: str) -> None:
        if logger.isEnabledFor(logging.INFO):
            logger.info("%s", line)

    return emit
