"""An accepted asynchronous event is never lost: `kill -9` samrun while events are queued, start
it again on the same state folder, and every one of them runs (at least once). The embedded
moto server dies with samrun, even on SIGKILL."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.conftest import (
    FIXTURES,
    SamrunProcess,
    alive,
    complete_lines,
    shared_file,
    start_up,
    wait_until,
)

TEMPLATE = FIXTURES / "templates" / "async.yaml"
EVENTS = 60


def start(state: Path) -> SamrunProcess:
    return start_up(TEMPLATE, state, "--max-sandboxes", "2", "--time-scale", "600")


def delivered(log: Path) -> set[int]:
    return {int(line) for line in complete_lines(log)}


def test_kill_9_loses_no_accepted_event(tmp_path: Path) -> None:
    state, log = tmp_path / ".samrun", shared_file(tmp_path / "delivered.log")
    first = start(state)
    moto = int(first.wait_for(r"embedded moto, pid (\d+)", timeout=1).group(1))
    client = first.lambda_client()

    def accept(n: int) -> int:
        event = {"n": n, "log": str(log), "sleep": 0.05}
        response = client.invoke(
            FunctionName="Counter", InvocationType="Event", Payload=json.dumps(event)
        )
        return response["StatusCode"]

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(accept, range(EVENTS))) == {202}
    first.process.send_signal(signal.SIGKILL)  # samrun only: not its process group
    first.process.wait(10)
    before = delivered(log)
    assert len(before) < EVENTS, "every event ran before the kill: the test proves nothing"
    wait_until(lambda: not alive(moto), timeout=10)  # the moto child died with samrun
    with contextlib.suppress(ProcessLookupError):
        os.killpg(first.process.pid, signal.SIGKILL)  # leftover function sandboxes, if any
    first.stop()

    second = start(state)
    try:
        second.wait_for(r"async queue: \d+ event\(s\) left from the last run", timeout=5)
        wait_until(lambda: delivered(log) == set(range(EVENTS)), timeout=60)
        moto = int(second.wait_for(r"embedded moto, pid (\d+)", timeout=1).group(1))
    finally:
        assert second.stop() == 0
    wait_until(lambda: not alive(moto), timeout=10)  # and with a clean stop, too
