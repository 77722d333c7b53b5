"""Idle instances are frozen between invocations, as Lambda freezes an execution environment
(samrun/runtime/freeze.py): a background thread or a Node.js timer does not run until the next
event, unless `--no-freeze`; a frozen instance still times out, and samrun stops with frozen
instances and leaves none behind.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SamrunProcess, alive, invoke_http, start_up, wait_until

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs node on PATH")

PYTHON = """
import os, threading, time

count = 0
started = False


def tick():
    global count
    while True:
        time.sleep(0.01)
        count += 1


def ticker(event, context):
    global started
    if not started:
        started = True
        threading.Thread(target=tick, daemon=True).start()
    return {"count": count, "pid": os.getpid()}


def slow(event, context):
    time.sleep(event.get("seconds", 0))
    return os.getpid()
"""

NODE = """
let count = 0;
let timer = null;
exports.ticker = async () => {
  if (timer === null) timer = setInterval(() => { count += 1; }, 10);
  return { count, pid: process.pid };
};
"""

TEMPLATE = """Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    CodeUri: src/
    MemorySize: 256
    Timeout: 1
Resources:
  PyTicker:
    Type: AWS::Serverless::Function
    Properties: {Runtime: python3.11, Handler: app.ticker}
  NodeTicker:
    Type: AWS::Serverless::Function
    Properties: {Runtime: nodejs20.x, Handler: index.ticker}
  Slow:
    Type: AWS::Serverless::Function
    Properties: {Runtime: python3.11, Handler: app.slow}
"""

TICKERS = ("PyTicker", "NodeTicker")


def start(folder: Path, *extra: str) -> SamrunProcess:
    (folder / "src").mkdir()
    (folder / "src" / "app.py").write_text(PYTHON)
    (folder / "src" / "index.js").write_text(NODE)
    (folder / "template.yaml").write_text(TEMPLATE)
    return start_up(folder / "template.yaml", folder / ".samrun", *extra)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SamrunProcess]:
    process = start(tmp_path_factory.mktemp("freeze"))
    yield process
    process.stop()


def call(server: SamrunProcess, name: str, payload: object = None) -> Any:
    status, _, body = invoke_http(server.lambda_endpoint, name, payload)
    assert status == 200, body
    return body


def state(pid: int) -> str:
    """The process's state letter in /proc (`T`: stopped)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]


def moved_while_idle(server: SamrunProcess, name: str, *, frozen: bool) -> int:
    """How far the function's background counter moved between two invocations 500 ms apart."""
    first = call(server, name)  # starts the thread or timer (a cold start, or not)
    first = call(server, name)
    if frozen:  # the runtime has called `next`: the instance is stopped
        wait_until(lambda: state(first["pid"]) == "T", timeout=10)
    time.sleep(0.5)  # the scenario itself: 500 ms between two invocations
    second = call(server, name)
    assert second["pid"] == first["pid"]  # the same warm instance
    return second["count"] - first["count"]


@pytest.mark.parametrize("name", TICKERS)
def test_a_background_thread_or_timer_does_not_run_between_invocations(
    server: SamrunProcess, name: str
) -> None:
    # a tick may land in the moments before the freeze (it waits 2 ms after `next`) and
    # between the thaw and the read, on a busy machine a few: ~50 land in 500 ms unfrozen
    assert moved_while_idle(server, name, frozen=True) <= 5
    assert moved_while_idle(server, name, frozen=True) <= 5  # thawed, and frozen again


def test_with_no_freeze_the_background_keeps_running(tmp_path: Path) -> None:
    server = start(tmp_path, "--no-freeze")
    try:
        for name in TICKERS:
            assert moved_while_idle(server, name, frozen=False) >= 20  # ~50 ticks of 10 ms
        pid = call(server, "PyTicker")["pid"]
        assert state(pid) != "T"
    finally:
        server.stop()


def test_a_previously_frozen_instance_still_times_out(server: SamrunProcess) -> None:
    pid = call(server, "Slow")
    wait_until(lambda: state(pid) == "T", timeout=10)
    _, _, body = invoke_http(server.lambda_endpoint, "Slow", {"seconds": 5})
    assert body["errorType"] == "Sandbox.Timedout", body
    wait_until(lambda: not alive(pid), timeout=10)  # killed and discarded
    assert call(server, "Slow") != pid  # a new instance serves the next one


def test_samrun_stops_promptly_with_frozen_instances(server: SamrunProcess) -> None:
    """(Last: it stops the module's server.)"""
    pids = [call(server, name)["pid"] for name in TICKERS]
    for pid in pids:
        wait_until(lambda pid=pid: state(pid) == "T", timeout=10)
    assert server.stop(timeout=20) == 0
    assert not any(alive(pid) for pid in pids)
