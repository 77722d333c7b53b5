"""A stand-in for the internet on this machine: a namespace holding 198.51.100.1 (TEST-NET-2)
with an HTTP server, routed from the host over a veth; nothing leaves the machine."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import wait_until

INTERNET = "198.51.100.1"
PORT = 8080


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture(autouse=True)
def _need_root() -> None:
    problem = None
    if os.geteuid() != 0:
        problem = "VPC tests need root (network namespaces)"
    elif not (shutil.which("ip") and shutil.which("nft")):
        problem = "VPC tests need iproute2 and nftables (apt-get install iproute2 nftables)"
    if problem and os.environ.get("SAMRUN_REQUIRE_VPC") == "1":
        pytest.fail(problem)
    if problem:
        pytest.skip(problem)


@pytest.fixture
def internet() -> Iterator[str]:
    """`198.51.100.1:8080`, an HTTP server in a namespace of its own."""
    name = f"samrun-test-inet-{os.getpid()}"
    veth = f"sti{os.getpid()}"[:15]
    _ip("netns", "add", name)
    server = None
    try:
        _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", name)
        _ip("addr", "add", "198.51.100.254/24", "dev", veth)
        _ip("link", "set", veth, "up")
        _ip("-n", name, "addr", "add", f"{INTERNET}/24", "dev", "eth0")
        _ip("-n", name, "link", "set", "eth0", "up")
        _ip("-n", name, "link", "set", "lo", "up")
        server = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                name,
                sys.executable,
                "-m",
                "http.server",
                "-b",
                INTERNET,
                str(PORT),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def up() -> bool:
            probe = subprocess.run(
                [
                    "ip",
                    "netns",
                    "exec",
                    name,
                    sys.executable,
                    "-c",
                    f"import socket; socket.create_connection(('{INTERNET}', {PORT}), 1)",
                ],
                capture_output=True,
            )
            return probe.returncode == 0

        wait_until(up, timeout=20, interval=0.1)
        yield f"{INTERNET}:{PORT}"
    finally:
        if server is not None:
            server.kill()
            server.wait()
        subprocess.run(["ip", "netns", "delete", name], capture_output=True)
