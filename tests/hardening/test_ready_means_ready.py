"""Ready means ready: `samrun up` answers 503 with `Retry-After` (on the Lambda API and
`/_samrun/*`) until everything its `ready` line promises runs, so a script that waits for a first
answer never reaches a half-started app: an S3 put right after the first 200 reaches its trigger.

The test reads samrun's output itself, in the thread that polls, so "before the ready line" is
exact: samrun writes that line before it answers anything but 503, so once an answer other than
503 arrives, the line is already in the pipe and the read that follows finds it.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp

from samrun.frontdoors.server import FrontDoors
from samrun.listeners import ReadyGate
from samrun.model import AppGraph, Route, RouteKind
from tests.aws.helpers import endpoint_client, queue_url, receive
from tests.conftest import ADDRESS, FIXTURES

TEMPLATE = FIXTURES / "templates" / "triggers.yaml"  # on-upload: S3 images/*.png -> `seen`
READY_LINE = re.compile(r"samrun: ready: Lambda API on ")
PATHS = ("/2015-03-31/functions/", "/_samrun/state")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Output:
    """samrun's output, read by whoever calls `read` (no thread of its own until `follow`)."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        self.stream = process.stdout
        os.set_blocking(self.stream.fileno(), False)
        self.text = ""

    def read(self) -> str:
        """Everything written so far."""
        while True:
            try:
                chunk = os.read(self.stream.fileno(), 65536)
            except BlockingIOError:
                return self.text
            if not chunk:
                return self.text
            self.text += chunk.decode(errors="replace")

    def follow(self) -> threading.Thread:
        """Keep reading in the background (samrun must never block on a full pipe)."""

        def drain() -> None:
            while not self.stream.closed:
                try:
                    self.read()
                except (OSError, ValueError):
                    return
                time.sleep(0.05)

        thread = threading.Thread(target=drain, daemon=True)
        thread.start()
        return thread


def ask(port: int, path: str) -> tuple[int, dict[str, str], Any] | None:
    """One GET over a fresh connection: (status, headers, JSON body), or None when refused."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        return response.status, dict(response.getheaders()), json.loads(body or b"null")
    except ConnectionRefusedError:
        return None
    finally:
        connection.close()


def test_nothing_but_503_before_ready_and_a_put_right_after_reaches_its_trigger(
    tmp_path: Path,
) -> None:
    port = free_port()
    args = ["up", str(TEMPLATE), "--port", "0", "--invoke-port", str(port)]
    process = subprocess.Popen(
        [sys.executable, "-m", "samrun", *args, "--state-dir", str(tmp_path / ".samrun")],
        cwd=TEMPLATE.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    output = Output(process)
    try:
        answers: dict[str, int] = {"refused": 0, "503": 0}
        deadline = time.monotonic() + 120
        first_ok = None
        while first_ok is None:
            assert time.monotonic() < deadline, f"no 200 within 120 s:\n{output.read()[-3000:]}"
            assert process.poll() is None, f"samrun exited:\n{output.read()[-3000:]}"
            for path in PATHS:
                answer = ask(port, path)
                text = output.read()  # after the answer: what samrun had written by then
                if answer is None:
                    answers["refused"] += 1
                    continue
                status, headers, body = answer
                if status == 503:
                    answers["503"] += 1
                    assert headers.get("Retry-After") == "1", headers
                    assert headers.get("x-amzn-ErrorType") == "ServiceException", headers
                    assert body["Type"] == "Service" and "starting" in body["message"], body
                    assert not READY_LINE.search(text), "503 after the ready line"
                    continue
                assert READY_LINE.search(text), (
                    f"{path} answered {status} before the ready line:\n{text[-3000:]}"
                )
                assert status == 200, (status, body)
                first_ok = path
                break
            time.sleep(0.01)
        assert answers["503"] >= 1, answers  # the app was caught while it started
        output.follow()
        endpoint = dict(ADDRESS.findall(output.text))["AWS endpoint"]
        endpoint_client(endpoint, "s3").put_object(
            Bucket="uploads", Key="images/right-after-ready.png", Body=b"png"
        )
        sqs = endpoint_client(endpoint, "sqs")
        seen = receive(sqs, queue_url(sqs, "seen"), 1, timeout=60)
        event = seen[0]["Json"]
        assert event["function"] == "on-upload"
        assert event["event"]["Records"][0]["s3"]["object"]["key"] == "images/right-after-ready.png"
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


async def test_front_doors_answer_503_until_the_gate_opens() -> None:
    """The route front doors share the App's gate (in process: no function is invoked)."""
    route = Route(api="Api", kind=RouteKind.REST, method="GET", path="/x", function="F")
    doors = FrontDoors(
        AppGraph(template_path="t.yaml", routes=(route,)),
        None,  # type: ignore[arg-type]
        host="127.0.0.1",
        port=0,
    )
    doors.ready = gate = ReadyGate()
    gate.close()
    await doors.start()
    try:
        url = doors.url(doors.doors[0]) + "/nowhere"
        async with aiohttp.ClientSession() as session:
            async with session.get(url) as response:
                assert response.status == 503 and response.headers["Retry-After"] == "1"
                assert await response.json() == {"message": "samrun is starting"}
            gate.open()
            async with session.get(url) as response:  # served: API Gateway's own miss
                assert response.status == 403
    finally:
        await doors.stop()
