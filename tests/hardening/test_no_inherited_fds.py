"""Item 1: a function process holds none of samrun's descriptors, and a burst of concurrent
callers never exhausts samrun's own (it raises its soft limit to the hard one at start)."""

from __future__ import annotations

import asyncio
import os
import resource
from collections import Counter
from pathlib import Path

import aiohttp

from tests.conftest import invoke_http, start_up

BURST = 300  # 1,000 in bench/burst_bench.py: this machine is shared
SOFT_FDS = 256  # below the burst: samrun must raise it itself


def socket_inodes(pid: int | str) -> set[str]:
    found = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith(("socket:", "pipe:")):
            found.add(target)
    return found


def test_function_process_inherits_no_descriptor_of_samrun(app_dir: Path) -> None:
    server = start_up(app_dir / "template.yaml", app_dir / ".samrun")
    try:
        for _ in range(20):  # samrun holds connections, listeners and pipes meanwhile
            assert invoke_http(server.lambda_endpoint, "Echo")[0] == 200
        status, _, body = invoke_http(server.lambda_endpoint, "Fds")
        assert status == 200
        fds: dict[str, str] = body["fds"]  # type: ignore[index]
        assert fds["0"] == "/dev/null"
        ours = socket_inodes(server.process.pid)
        stdout_pipe = {fds["1"], fds["2"]}
        shared = {t for t in fds.values() if t in ours} - stdout_pipe
        assert not shared, f"the function holds samrun's {shared}"
    finally:
        assert server.stop() == 0


async def burst(endpoint: str, count: int) -> Counter[int]:
    url = f"{endpoint}/2015-03-31/functions/Echo/invocations"
    statuses: Counter[int] = Counter()
    timeout = aiohttp.ClientTimeout(total=240)
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0), timeout=timeout
    ) as session:

        async def one() -> None:
            async with session.post(url, data=b'{"sleep": 0.05}') as response:
                await response.read()
                statuses[response.status] += 1

        await asyncio.gather(*(one() for _ in range(count)))
    return statuses


def test_concurrent_burst_gets_no_500_under_a_low_soft_fd_limit(app_dir: Path) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (SOFT_FDS, hard))  # what samrun inherits
    try:
        server = start_up(app_dir / "template.yaml", app_dir / ".samrun")
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        statuses = asyncio.run(burst(server.lambda_endpoint, BURST))
        assert statuses == Counter({200: BURST}), statuses
        assert not [line for line in server.lines if "Traceback" in line]
    finally:
        assert server.stop() == 0
