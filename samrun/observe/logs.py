"""Logging: samrun's own records, and each function's output under `samrun.fn.<name>`."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from typing import TextIO

FUNCTION_LOGGER = "samrun.fn"
# An invocation's last line (text, or JSON with LogFormat JSON): written before the caller has
# its answer, as every line was when written one by one.
END_OF_TURN = (" | REPORT RequestId: ", '"type": "platform.report"')


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
    """Writes a function's lines (its output, START, END) with its REPORT line, or FLUSH_S after
    the first of them: a terminal's line buffering (or PYTHONUNBUFFERED) made each line a write
    syscall, three or more per invocation, now one. samrun's own records are written at once,
    after whatever function lines are pending, so the order of records is kept, and an
    invocation's lines are all out before its caller has the answer, as before."""

    FLUSH_S = 0.02

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._flush_pending = False
        self._pending: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record) + self.terminator
        except Exception:  # logging's own contract: a broken record must not break the caller
            self.handleError(record)
            return
        self._add(text, record.name.startswith(FUNCTION_LOGGER + "."), record)

    def function_line(self, text: str) -> None:
        """A function's line, formatted and ended: what `emit` does with its record."""
        self.acquire()
        try:
            self._add(text, True, None)
        finally:
            self.release()

    def _add(self, text: str, function: bool, record: logging.LogRecord | None) -> None:
        self._pending.append(text)
        loop = asyncio._get_running_loop()  # None outside a loop (the public call raises)
        if loop is None or not function or any(end in text for end in END_OF_TURN):
            self._write_pending(record)
        elif not self._flush_pending:
            self._flush_pending = True
            loop.call_later(self.FLUSH_S, self._flush_now)

    def flush(self) -> None:
        self.acquire()
        try:
            self._write_pending(None)
        finally:
            self.release()

    def _write_pending(self, record: logging.LogRecord | None) -> None:
        text, self._pending = "".join(self._pending), []
        try:
            if text:
                self.stream.write(text)
            if self.stream and hasattr(self.stream, "flush"):
                self.stream.flush()
        except Exception:  # a closed or broken console must not break the caller
            if record is not None:
                self.handleError(record)

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
    """The sink of one function's output lines: through the `samrun.fn.<name>` logger, or
    straight into the console's buffer when the console is all that listens, as `up` sets it
    (a LogRecord per line cost ~6 % of samrun's CPU under load)."""
    logger = logging.getLogger(f"{FUNCTION_LOGGER}.{function_name}")
    console = sole_console(logger)
    if console is not None:
        prefix = f"{function_name} | "

        def write(line: str) -> None:
            console.function_line(f"{prefix}{line}\n")

        return write

    def emit(line: str) -> None:
        if logger.isEnabledFor(logging.INFO):
            logger.info("%s", line)

    return emit


def sole_console(logger: logging.Logger) -> ConsoleHandler | None:
    """The ConsoleHandler that alone gets `logger`'s INFO records, unfiltered, if there is one."""
    handlers: list[logging.Handler] = []
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters:
            return None
        handlers += current.handlers
        current = current.parent if current.propagate else None
    if len(handlers) != 1 or not logger.isEnabledFor(logging.INFO):
        return None
    console = handlers[0]
    if type(console) is not ConsoleHandler or console.filters or console.level > logging.INFO:
        return None
    if type(console.formatter) is not ConsoleFormatter:
        return None
    return console
