"""The fast lane (samrun/runtime/lane.py): samrun's own Python and Node.js runtimes speak the
Runtime API over a socketpair; `provided` runtimes and awslambdaric keep HTTP. Which one an
instance used is in /_samrun/state (pools[].runtime_api), so these tests can tell."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shutil
import socket
import struct
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest

from samrun.runtime import lane, protocol
from samrun.runtime.session import InvokeEvent, RuntimeSession
from tests.conftest import SamrunProcess, invoke_http, start_up
from tests.runtime.sam_app import FUNCTIONS, function, write_template

HAS_RIC = importlib.util.find_spec("awslambdaric") is not None

PYTHON = """
import os, subprocess, urllib.error, urllib.request

def served():
    # the HTTP Runtime API answers this instance too: a stale request id is refused
    api = os.environ["AWS_LAMBDA_RUNTIME_API"]
    url = f"http://{api}/2018-06-01/runtime/invocation/not-this-one/response"
    try:
        urllib.request.urlopen(urllib.request.Request(url, data=b"{}", method="POST"))
    except urllib.error.HTTPError as error:
        return error.code
    return 202

def handler(event, context):
    # a child that inherits every inheritable descriptor: the lane must not be one of them
    script = 'cd /proc/$$/fd && for f in *; do [ "$f" -gt 2 ] && readlink "$f"; done; true'
    child = subprocess.run(["/bin/sh", "-c", script], close_fds=False, capture_output=True)
    return {
        "lane_variable": any(name.startswith("_SAMRUN") for name in os.environ),
        "runtime_api": os.environ.get("AWS_LAMBDA_RUNTIME_API", ""),
        "child_sockets": child.stdout.decode().count("socket:"),
        "http_status": served(),
        "request_id": context.aws_request_id,
        "remaining": context.get_remaining_time_in_millis(),
        "event": event,
    }
"""

NODE = """
exports.handler = async (event, context) => ({
  lane_variable: Object.keys(process.env).some((name) => name.startsWith('_SAMRUN')),
  runtime_api: process.env.AWS_LAMBDA_RUNTIME_API || '',
  request_id: context.awsRequestId,
  remaining: context.getRemainingTimeInMillis(),
  event,
});
"""


def app(tmp_path: Path) -> Path:
    (tmp_path / "py").mkdir()
    (tmp_path / "py" / "app.py").write_text(textwrap.dedent(PYTHON))
    (tmp_path / "node").mkdir()
    (tmp_path / "node" / "index.js").write_text(NODE)
    functions = {
        "Py": function("app.handler", tmp_path / "py", "python3.11"),
        "Node": function("index.handler", tmp_path / "node", "nodejs20.x"),
        "Provided": function("function.handler", FUNCTIONS / "provided_python", "provided.al2023"),
    }
    if HAS_RIC:  # the official Python runtime interface client, as the base images start it
        code = tmp_path / "ric"
        shutil.copytree(FUNCTIONS / "awslambdaric_app", code)
        bootstrap = code / "bootstrap"
        bootstrap.write_text(f'#!/bin/sh\nexec {sys.executable} -m awslambdaric "$_HANDLER"\n')
        bootstrap.chmod(0o755)
        functions["Ric"] = function("app.handler", code, "provided.al2023")
    return write_template(tmp_path, functions)


def transports(server: SamrunProcess) -> dict[str, dict[str, int]]:
    with urllib.request.urlopen(f"{server.lambda_endpoint}/_samrun/state", timeout=30) as reply:
        state = json.loads(reply.read())
    return {pool["function"]: pool["runtime_api"] for pool in state["pools"]}


def invoke_each(server: SamrunProcess, names: list[str]) -> dict[str, object]:
    bodies = {}
    for name in names:
        for order in (1, 2):  # the second event goes through the pipelined `next`
            status, headers, body = invoke_http(server.lambda_endpoint, name, {"order": order})
            assert status == 200, (name, body)
            assert "X-Amz-Function-Error" not in headers, (name, body)
        bodies[name] = body
    return bodies


def test_samruns_own_runtimes_use_the_lane_and_the_others_http(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAMRUN_LANE", "1")  # the default, whatever the suite runs with
    server = start_up(app(tmp_path), tmp_path / ".samrun")
    try:
        names = ["Py", "Node", "Provided", *(["Ric"] if HAS_RIC else [])]
        bodies = invoke_each(server, names)
        assert transports(server) == {
            "Py": {"lane": 1},
            "Node": {"lane": 1},
            "Provided": {"http": 1},
            **({"Ric": {"http": 1}} if HAS_RIC else {}),
        }
        for name in ("Py", "Node"):
            body = bodies[name]
            assert isinstance(body, dict)
            assert body["event"] == {"order": 2}
            assert body["lane_variable"] is False  # removed before the function's code loads
            assert body["runtime_api"].startswith("127.0.0.1:")  # still set, and served
            assert 0 < body["remaining"] <= 10_000
        assert bodies["Py"]["child_sockets"] == 0  # type: ignore[index]
        assert bodies["Py"]["http_status"] == 400  # type: ignore[index]  # InvalidRequestID
    finally:
        assert server.stop() == 0


def test_samrun_lane_0_puts_every_runtime_on_http(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAMRUN_LANE", "0")
    server = start_up(app(tmp_path), tmp_path / ".samrun")
    try:
        invoke_each(server, ["Py", "Node"])
        assert transports(server) == {"Py": {"http": 1}, "Node": {"http": 1}}
    finally:
        assert server.stop() == 0


# -- the protocol itself, over a real socketpair -------------------------------------------------


def read_frame(sock: socket.socket) -> tuple[bytes, list[bytes]]:
    def exactly(size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = sock.recv(size - len(data))
            assert chunk, "samrun closed the lane"
            data += chunk
        return data

    kind, _, count = struct.unpack(">cBB", exactly(3))
    sizes = struct.unpack(f">{count}I", exactly(4 * count))
    return kind, [exactly(size) for size in sizes]


async def test_a_body_over_the_limit_is_discarded_as_it_comes_never_buffered() -> None:
    session = RuntimeSession()
    opened = await lane.open_lane(session)
    runtime = socket.socket(fileno=os.dup(opened.runtime_fd))  # as a runtime's process gets it
    opened.handed_over()
    runtime.setblocking(True)
    loop = asyncio.get_running_loop()
    try:
        await loop.run_in_executor(None, runtime.sendall, lane.frame(b"N", 0))
        assert await session.wait_ready() is None
        event = InvokeEvent(
            request_id="r-1", payload=b"{}", deadline_ms=1, invoked_arn="arn", trace_id="t"
        )
        reply = loop.create_task(session.invoke(event))
        kind, fields = await loop.run_in_executor(None, read_frame, runtime)
        assert kind == b"V" and fields[0] == b"r-1" and fields[-1] == b"{}"

        size = protocol.MAX_PAYLOAD_BYTES + 1
        head = struct.pack(">cBB2I", b"R", lane.ACK, 2, 3, size) + b"r-1"
        await loop.run_in_executor(None, runtime.sendall, head)
        answer = await reply  # judged on the header, before the body arrives
        assert answer.error_type == protocol.RESPONSE_TOO_LARGE
        assert b"6291456 bytes" in answer.payload
        chunk = b"x" * 65536
        for _ in range(size // len(chunk)):
            await loop.run_in_executor(None, runtime.sendall, chunk)
            assert len(opened.protocol._buffer) < len(chunk) * 2
        rest = size % len(chunk)
        await loop.run_in_executor(None, runtime.sendall, b"x" * rest + lane.frame(b"N", 0))
        kind, fields = await loop.run_in_executor(None, read_frame, runtime)
        assert (kind, fields[0]) == (b"A", b"413")
        assert json.loads(fields[1])["errorType"] == protocol.PAYLOAD_TOO_LARGE

        # the lane goes on: the `next` after the discarded body gets the next event
        second = InvokeEvent(
            request_id="r-2", payload=b"[]", deadline_ms=1, invoked_arn="arn", trace_id="t"
        )
        reply = loop.create_task(session.invoke(second))
        kind, fields = await loop.run_in_executor(None, read_frame, runtime)
        assert (kind, fields[0]) == (b"V", b"r-2")
        error = lane.frame(b"E", lane.ACK, b"r-2", b"", b'{"errorType": "Boom"}')
        await loop.run_in_executor(None, runtime.sendall, error)
        answer = await reply
        assert (answer.error_type, answer.payload) == ("Boom", b'{"errorType": "Boom"}')
        kind, fields = await loop.run_in_executor(None, read_frame, runtime)
        assert (kind, fields[0]) == (b"A", b"202")

        # a broken contract gets the HTTP path's answer, on the lane
        stale = lane.frame(b"R", lane.ACK, b"r-1", b"{}")
        await loop.run_in_executor(None, runtime.sendall, stale)
        kind, fields = await loop.run_in_executor(None, read_frame, runtime)
        assert (kind, fields[0]) == (b"A", b"400")
        assert json.loads(fields[1])["errorType"] == protocol.INVALID_REQUEST_ID
    finally:
        runtime.close()
        opened.close()
        session.close("test over")
