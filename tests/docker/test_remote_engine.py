"""A remote engine, as far as one machine can stage it: DOCKER_HOST is a TCP address that is not
loopback (the docker bridge's gateway, proxied to the local engine's socket), so samrun takes the
remote path: code and layers copied into volumes, the bridge network, `--container-host`, output
from the attach stream. What this cannot show is an engine on another file system."""

from __future__ import annotations

import ipaddress
import select
import socket
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from samrun.runtime.docker_engine import app_label
from tests.conftest import FIXTURES, backend_args, invoke_http, start_up

CORE = FIXTURES / "templates" / "core.yaml"
ENGINE_SOCKET = "/var/run/docker.sock"


def bridge_gateway() -> str:
    import docker

    client = docker.from_env()
    try:
        config = client.networks.get("bridge").attrs["IPAM"]["Config"][0]
    finally:
        client.close()
    if config.get("Gateway"):
        return str(config["Gateway"])
    return str(next(ipaddress.ip_network(config["Subnet"]).hosts()))


class Forward(socketserver.BaseRequestHandler):
    """One TCP connection to the engine's unix socket, bytes both ways (hijacked streams too)."""

    def handle(self) -> None:
        engine = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        engine.connect(ENGINE_SOCKET)
        ends = {self.request: engine, engine: self.request}
        try:
            while True:
                ready, _, _ = select.select(list(ends), [], [], 60)
                if not ready:
                    return
                for end in ready:
                    data = end.recv(65536)
                    if not data:
                        return
                    ends[end].sendall(data)
        except OSError:
            return
        finally:
            engine.close()


@pytest.fixture
def remote_engine() -> Iterator[tuple[str, str]]:
    """(DOCKER_HOST, the address containers reach this machine at)."""
    if not Path(ENGINE_SOCKET).exists():
        pytest.skip(f"the engine is not on {ENGINE_SOCKET}")
    gateway = bridge_gateway()
    server = socketserver.ThreadingTCPServer((gateway, 0), Forward)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"tcp://{gateway}:{server.server_address[1]}", gateway
    finally:
        server.shutdown()
        server.server_close()


def owned(state_dir: Path) -> tuple[list[object], list[object]]:
    import docker

    client = docker.from_env()
    try:
        label = {"label": f"samrun.app={app_label(state_dir)}"}
        return client.containers.list(all=True, filters=label), client.volumes.list(filters=label)
    finally:
        client.close()


@pytest.mark.docker
def test_remote_engine_gets_code_and_layers_in_volumes(
    tmp_path: Path, remote_engine: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    docker_host, gateway = remote_engine
    monkeypatch.setenv("DOCKER_HOST", docker_host)
    state = tmp_path / ".samrun"
    args = ["--host", gateway, "--container-host", gateway, *backend_args("docker")]
    server = start_up(CORE, state, *args)
    try:
        status, _, body = invoke_http(server.lambda_endpoint, "Layered")
        assert (status, body) == (200, {"who": "b", "only_a": False})  # /opt from a volume
        status, _, echo = invoke_http(server.lambda_endpoint, "Echo", {"remote": True})
        assert status == 200 and echo["event"] == {"remote": True}  # type: ignore[index]
        server.wait_for(r'Echo \| echo {"remote": true}')  # output through the attach stream
        containers, volumes = owned(state)
        assert len(containers) == 2
        assert len(volumes) == 3  # core code, Layered's code, its merged layers
        mounts = [m for c in containers for m in c.attrs["Mounts"]]  # type: ignore[attr-defined]
        assert {m["Type"] for m in mounts if m["Destination"] != "/tmp"} == {"volume"}
    finally:
        assert server.stop() == 0
    assert owned(state) == ([], [])
