"""A function's lines reach the console exactly as a `samrun.fn.<name>` record would, and go
through logging whenever anything else listens (smoke runs capture them, as may an embedder)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from samrun.observe.logs import ConsoleHandler, function_output, setup_logging, sole_console


@pytest.fixture
def console() -> Iterator[io.StringIO]:
    root = logging.getLogger("samrun")
    saved = (root.handlers[:], root.level, root.propagate)
    stream = io.StringIO()
    setup_logging(stream)
    yield stream
    root.handlers[:], root.level, root.propagate = saved


def only_the_console() -> None:
    """As `up` has it: pytest's own capture handlers out of the way."""
    root = logging.getLogger("samrun")
    root.handlers[:] = [h for h in root.handlers if isinstance(h, ConsoleHandler)]


def test_lines_reach_the_console_as_records_would(console: io.StringIO) -> None:
    only_the_console()
    assert isinstance(sole_console(logging.getLogger("samrun.fn.Echo")), ConsoleHandler)
    function_output("Echo")("hello")
    logging.getLogger("samrun").info("between")
    function_output("Echo")("REPORT-less line")
    logging.getLogger("samrun.fn.Echo").info("%s", "as a record")
    logging.getLogger("samrun").handlers[0].flush()
    assert console.getvalue().splitlines() == [
        "Echo | hello",
        "samrun: between",
        "Echo | REPORT-less line",
        "Echo | as a record",
    ]


def test_another_listener_gets_every_line(console: io.StringIO) -> None:
    only_the_console()
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    functions = logging.getLogger("samrun.fn")
    functions.addHandler(keep := Keep())
    try:
        assert sole_console(logging.getLogger("samrun.fn.Echo")) is None
        function_output("Echo")("hello")
    finally:
        functions.removeHandler(keep)
    logging.getLogger("samrun").handlers[0].flush()
    assert seen == ["hello"]
    assert console.getvalue().splitlines() == ["Echo | hello"]
