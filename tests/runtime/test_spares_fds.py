"""An instance made from a spare interpreter gets the descriptors samrun passes at the numbers
they have in samrun (as `pass_fds` keeps them for a spawned runtime) and none of the spare's or
samrun's others, and samrun sees its exit as a child's. Driven here with a real spare and a bare
Runtime API socket."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path

from samrun.runtime.python_spare import PythonSpare
from samrun.runtime.runtimes import python_argv
from samrun.runtime.sandbox import LaunchSpec
from samrun.runtime.unprivileged import SandboxUsers

HANDLER = """import json, os

def handler(event, context):
    fd = int(os.environ["EXTRA_FD"])
    os.write(fd, json.dumps(sorted(int(n) for n in os.listdir("/proc/self/fd"))).encode())
    return None
"""


async def serve_one_event(listener: socket.socket) -> None:
    """The Runtime API's first `next`, answered with one event."""
    loop = asyncio.get_running_loop()
    connection, _ = await loop.sock_accept(listener)
    request = b""
    while b"\r\n\r\n" not in request:
        request += await loop.sock_recv(connection, 4096)
    deadline = int(time.time() * 1000) + 10_000
    await loop.sock_sendall(
        connection,
        b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r1\r\n"
        + f"Lambda-Runtime-Deadline-Ms: {deadline}\r\n".encode()
        + b"Content-Length: 2\r\n\r\n{}",
    )
    await loop.sock_recv(connection, 4096)  # its response (and the next `next`)
    connection.close()


async def test_passed_descriptors_keep_their_numbers_and_nothing_else_leaks(
    tmp_path: Path,
) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(HANDLER)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    extra_read, extra_write = os.pipe()
    null = os.open(os.devnull, os.O_RDONLY)
    unrelated = os.dup2(null, 200, inheritable=True)  # samrun's, not passed: must not be in it
    os.close(null)
    env = {
        "LANG": "en_US.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": str(code),
        "LAMBDA_TASK_ROOT": str(code),
        "_HANDLER": "app.handler",
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{listener.getsockname()[1]}",
        "EXTRA_FD": str(extra_write),
    }
    spec = LaunchSpec(
        name="Fds:000001",
        argv=python_argv(sys.executable),
        env=env,
        code_dir=code,
        opt_dir=None,
        tmp_dir=tmp_path,
        memory_mb=128,
        ephemeral_storage_mb=512,
        pass_fds=(extra_write,),
    )
    path = os.environ.get("PATH", "")
    spare = PythonSpare(sys.executable, [], path=path, tmpfs=False, users=SandboxUsers())
    await spare.start()
    try:
        assert spare.serves(spec)
        started = await spare.become(spec)
        child = started.process
        os.close(started.output)
        os.close(extra_write)
        await asyncio.wait_for(serve_one_event(listener), 20)
        seen = json.loads(await asyncio.to_thread(os.read, extra_read, 4096))
        assert extra_write in seen and unrelated not in seen
        assert seen[:3] == [0, 1, 2]
        assert len(set(seen) - {0, 1, 2, extra_write}) <= 2  # its socket, listdir's
        os.kill(child.pid, signal.SIGKILL)
        assert await asyncio.wait_for(child.wait(), 10) == -signal.SIGKILL
        assert child.returncode == -signal.SIGKILL
    finally:
        await spare.discard()
        listener.close()
        for fd in (extra_read, unrelated):
            os.close(fd)
