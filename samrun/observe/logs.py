"""Logging: samrun's own records, and each function's output under `samrun.fn.<name>`."""

from __future__ import annotations

import asyncio
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


class ConsoleHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes records as they come, but flushes at most every FLUSH_S while a loop runs: a
    write syscall per log line would cost a busy server a tenth of its invoke rate."""

    FLUSH_S = 0.02

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._flush_pending = False

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(self.format(record) + self.terminator)
        except Exception:  # logging's own contract: a broken stream must not break the caller
            self.handleError(record)
            return
        if self._flush_pending:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._flush_pending = True
        loop.call_later(self.FLUSH_S, self._flush_now)

    def _flush_now(self) -> None:
        self._flush_pending = False
        self.flush()


def setup_logging(stream: TextIO | None = None, level: int = logging.INFO) -> None:
    handler = ConsoleHandler(stream or sys.stderr)
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
