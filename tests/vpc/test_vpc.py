"""VpcConfig on the process backend, in real network namespaces (root): a private function
cannot reach "the internet" (a local namespace at 198.51.100.1) and times out at its own
timeout, while it reaches samrun's AWS endpoint and a --vpc-allow address; a function whose
subnet routes to a NAT gateway reaches the server, and so does one without VpcConfig."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import SamrunProcess, invoke_http, start_up

APP = Path(__file__).parent / "app" / "template.yaml"


def ours(pid: int) -> list[str]:
    """What samrun `pid` holds: its namespaces and its nftables table."""
    found = (
        [n for n in os.listdir("/run/netns") if n.startswith(f"samrun-vpc-{pid}-")]
        if os.path.isdir("/run/netns")
        else []
    )
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    if re.search(rf"\bsamrun_vpc_{pid}\b", tables):  # (not samrun_vpc_{pid}7's)
        found.append(f"table samrun_vpc_{pid}")
    return found


def host_ends(pid: int) -> dict[str, str]:
    """The host ends of samrun `pid`'s veths and their addresses."""
    text = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True).stdout
    return dict(re.findall(rf"^\d+: (sv{pid}-\d+)\s+inet ([\d.]+)/", text, re.MULTILINE))


class ExecdSamrun(SamrunProcess):
    """`samrun up` that a shell runs with `exec` after `prelude`: samrun gets the shell's pid,
    so the prelude can leave what a dead samrun with that same pid would have left."""

    def __init__(self, prelude: str, template: Path, state_dir: Path) -> None:
        self.process = subprocess.Popen(
            [
                *("sh", "-c", f'{prelude} && exec "$0" -m samrun "$@"', sys.executable, "up"),
                *(str(template), "--port", "0", "--invoke-port", "0"),
                *("--state-dir", str(state_dir)),
            ],
            cwd=template.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        try:
            self.lambda_endpoint = self.wait_for(r"Lambda API on (http://\S+)", 60).group(1)
        except AssertionError:
            self.stop(signal.SIGKILL)  # (never left running)
            raise


@pytest.fixture
def database() -> Iterator[int]:
    """A TCP server on the host's loopback standing for RDS: it answers `db`."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"db")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


def call(endpoint: str, name: str, **event: object) -> tuple[int, dict[str, str], object]:
    return invoke_http(endpoint, name, event)


def test_vpc_egress(internet: str, database: int, tmp_path: Path) -> None:
    host, port = internet.split(":")
    server = start_up(APP, tmp_path / ".samrun", "--vpc-allow", f"127.0.0.1:{database}")
    try:
        pid = server.process.pid
        assert len(ours(pid)) == 4  # 3 namespaces and the table
        server.wait_for(r"PrivateFn: VPC, no internet \(private\)")
        server.wait_for(r"PublicFn: VPC, no internet.*no public IP")
        server.wait_for(r"NatFn: VPC, internet through NAT")

        # no VpcConfig: the host's network
        status, _, body = call(server.lambda_endpoint, "HostFn", host=host, port=port)
        assert status == 200 and body["first"].startswith("HTTP/1.0 200"), body  # type: ignore[index]
        # a NAT route: through samrun's masquerade
        status, _, body = call(server.lambda_endpoint, "NatFn", host=host, port=port)
        assert status == 200 and body["first"].startswith("HTTP/1.0 200"), body  # type: ignore[index]

        # private: the samrun AWS endpoint and the --vpc-allow database answer
        status, _, body = call(server.lambda_endpoint, "PrivateFn", target="aws")
        assert status == 200 and body["first"].startswith("HTTP/1."), body  # type: ignore[index]
        status, _, body = call(server.lambda_endpoint, "PrivateFn", host="127.0.0.1", port=database)
        assert status == 200 and body["first"] == "db", body  # type: ignore[index]

        # ...and the internet hangs until the function's own timeout, named once
        status, headers, body = call(server.lambda_endpoint, "PrivateFn", host=host, port=port)
        assert status == 200 and headers.get("X-Amz-Function-Error") == "Unhandled"
        # (Lambda reports the time taken: 3.01 on a busy machine)
        assert re.search(r"Task timed out after 3\.\d\d seconds", json.dumps(body)), body
        server.wait_for(rf"PrivateFn: TCP connection to {host}:{port} blocked")
        url = f"{server.lambda_endpoint}/_samrun/state"
        with urllib.request.urlopen(url, timeout=10) as answer:
            vpc = json.loads(answer.read())["vpc"]
        assert vpc["PrivateFn"]["blocked"] == [f"tcp:{host}:{port}"]
        assert vpc["NatFn"]["egress"] is True and "HostFn" not in vpc
        # a public subnet (internet gateway, no NAT) gives a Lambda function no internet
        status, _, body = call(server.lambda_endpoint, "PublicFn", host=host, port=port)
        assert "Task timed out" in json.dumps(body), body
    finally:
        assert server.stop() == 0
    assert ours(pid) == []


def test_leftovers_of_a_killed_samrun_are_removed(tmp_path: Path) -> None:
    first = start_up(APP, tmp_path / "one")
    killed = first.process.pid
    assert ours(killed)
    first.stop(signal.SIGKILL)
    assert ours(killed)  # kill -9: nothing ran
    second = start_up(APP, tmp_path / "two")
    try:
        second.wait_for(
            rf"removed a leftover of an earlier samrun: namespace samrun-vpc-{killed}-0"
        )
        assert ours(killed) == []
        assert ours(second.process.pid)
    finally:
        second.stop()
    assert ours(second.process.pid) == []


def test_leftovers_of_a_dead_samrun_with_the_same_pid_are_removed(tmp_path: Path) -> None:
    """pids come back (pid_max is often 32768): a samrun that gets the pid of a dead one that
    was killed removes what that one left instead of failing on `File exists`."""
    prelude = "ip netns add samrun-vpc-$$-0 && ip link add sv$$-1 type veth peer name svp$$"
    server = None
    try:
        server = ExecdSamrun(prelude, APP, tmp_path / ".samrun")
        pid = server.process.pid
        server.wait_for(rf"removed a leftover of an earlier samrun: namespace samrun-vpc-{pid}-0")
        server.wait_for(rf"removed a leftover of an earlier samrun: interface sv{pid}-1")
        assert len(ours(pid)) == 4 and len(host_ends(pid)) == 3  # its own, made anew
        status, _, body = call(server.lambda_endpoint, "PrivateFn", target="aws")
        assert status == 200 and body["first"].startswith("HTTP/1."), body  # type: ignore[index]
    finally:
        if server is not None:
            assert server.stop() == 0
            pid = server.process.pid
            assert ours(pid) == [] and host_ends(pid) == {}
            subprocess.run(["ip", "netns", "delete", f"samrun-vpc-{pid}-0"], capture_output=True)
            subprocess.run(["ip", "link", "delete", f"sv{pid}-1"], capture_output=True)


def test_a_pid_another_process_now_holds_is_not_a_live_samrun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(A unit test: a live samrun cannot be made to lose its pid.)"""
    from samrun.runtime import vpc

    monkeypatch.setattr(vpc, "REGISTRY", str(tmp_path))
    vpc._register(os.getpid())
    assert not vpc._reused(os.getpid())
    (tmp_path / str(os.getpid())).write_text("1")  # the start time of the samrun that had it
    assert vpc._reused(os.getpid())
    assert not vpc._reused(1)  # not registered: its pid is all samrun knows


def test_two_samruns_starting_at_once_get_networks_of_their_own(
    internet: str, tmp_path: Path
) -> None:
    """(As two test workers would start them.) Each picks addresses the other does not hold,
    so each NAT function's replies come back to it."""
    host, port = internet.split(":")
    with ThreadPoolExecutor(2) as pool:
        starting = [pool.submit(start_up, APP, tmp_path / name) for name in ("a", "b")]
        servers = [future.result() for future in starting]
    try:
        first, second = (set(host_ends(s.process.pid).values()) for s in servers)
        assert len(first) == len(second) == 3 and not first & second
        for server in servers:
            status, _, body = call(server.lambda_endpoint, "NatFn", host=host, port=port)
            assert status == 200 and body["first"].startswith("HTTP/1.0 200"), body  # type: ignore[index]
    finally:
        for server in servers:
            assert server.stop() == 0
    assert [ours(s.process.pid) for s in servers] == [[], []]


def test_plan_shows_the_network(tmp_path: Path) -> None:
    config = tmp_path / "vpc.yaml"
    config.write_text("subnets:\n  subnet-0abc: {egress: nat}\n")
    result = subprocess.run(
        [sys.executable, "-m", "samrun", "plan", str(APP), "--json", "--vpc-config", str(config)],
        capture_output=True,
        text=True,
        check=True,
    )
    functions = {f["name"]: f["network"] for f in json.loads(result.stdout)["functions"]}
    assert functions["HostFn"] == {"mode": "host"}
    assert functions["NatFn"]["mode"] == "vpc" and functions["NatFn"]["egress"] is True
    assert functions["PrivateFn"]["egress"] is False
    assert functions["PublicFn"]["egress"] is False
    not_run = {(n["name"], n["reason"]) for n in json.loads(result.stdout)["not_run"]}
    vpc = [entry for entry in not_run if "VpcConfig" in entry[0]]
    # VpcConfig is run; only its security groups are named, as not evaluated
    assert vpc and all(name.endswith(".VpcConfig.SecurityGroupIds") for name, _ in vpc), vpc


def test_without_root_it_says_so_once_and_runs_on_the_host_network(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """(A unit test: the tests run as root; `unavailable` is what differs without it.)"""
    from samrun.model import Code, Function, FunctionConfig, VpcConfig, VpcSubnet
    from samrun.runtime import vpc
    from samrun.runtime.vpc_config import VpcSettings

    monkeypatch.setattr(vpc, "unavailable", lambda: "network namespaces need root")
    config = FunctionConfig(
        runtime="python3.11",
        handler="app.handler",
        code=Code(path="."),
        vpc=VpcConfig(subnets=(VpcSubnet(id="subnet-1"),)),
    )
    function = Function(
        logical_id="Fn", name="Fn", arn="arn:aws:lambda:us-east-1:1:function:Fn", config=config
    )
    found = asyncio.run(vpc.open_networks([function], VpcSettings(), docker=False, endpoints=()))
    assert found is None
    lines = [r.getMessage() for r in caplog.records if "not enforced" in r.getMessage()]
    assert lines == [
        "VpcConfig of Fn not enforced: network namespaces need root; they run on the host network"
    ]


def test_a_bad_vpc_config_is_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "vpc.json"
    config.write_text('{"subnets": {"subnet-1": {"egress": "maybe"}}}')
    result = subprocess.run(
        [sys.executable, "-m", "samrun", "plan", str(APP), "--vpc-config", str(config)],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "subnets/subnet-1/egress" in result.stderr, result.stderr
