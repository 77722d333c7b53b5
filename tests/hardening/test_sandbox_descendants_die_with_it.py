"""Item 4: a daemon a function starts (`setsid`, double fork) dies with its instance and with
samrun: the instance's cgroup is killed whole, or (without cgroups) its whole process tree."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import alive, invoke_http, start_up, wait_until

MODES = {"cgroups": {}, "no-cgroups": {"SAMRUN_CGROUP_ROOT": "/nonexistent/cgroup"}}


def start_daemon(endpoint: str) -> int:
    status, _, body = invoke_http(endpoint, "Daemon")
    assert status == 200, body
    pid: int = body["daemon"]  # type: ignore[index]
    assert alive(pid)
    return pid


@pytest.mark.parametrize("mode", MODES)
def test_daemon_dies_when_samrun_stops(
    app_dir: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in MODES[mode].items():
        monkeypatch.setenv(name, value)
    if mode == "cgroups" and os.geteuid() != 0:
        pytest.skip("cgroups need root here")
    server = start_up(app_dir / "template.yaml", app_dir / ".samrun")
    try:
        pid = start_daemon(server.lambda_endpoint)
    finally:
        assert server.stop() == 0
    wait_until(lambda: not alive(pid), timeout=10)


@pytest.mark.parametrize("mode", MODES)
def test_daemon_dies_when_its_instance_is_reaped(
    app_dir: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in MODES[mode].items():
        monkeypatch.setenv(name, value)
    server = start_up(app_dir / "template.yaml", app_dir / ".samrun", "--idle-ttl", "1")
    try:
        pid = start_daemon(server.lambda_endpoint)
        wait_until(lambda: not alive(pid), timeout=20)  # the idle instance is reaped
    finally:
        assert server.stop() == 0


@pytest.mark.parametrize("mode", MODES)
def test_daemon_dies_when_its_runtime_exits_on_its_own(
    app_dir: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in MODES[mode].items():
        monkeypatch.setenv(name, value)
    server = start_up(app_dir / "template.yaml", app_dir / ".samrun")
    try:
        _, headers, body = invoke_http(server.lambda_endpoint, "DaemonExit")
        assert headers.get("X-Amz-Function-Error") == "Unhandled", body
        pid = int(server.wait_for(r"DaemonExit \| daemon (\d+)").group(1))
        wait_until(lambda: not alive(pid), timeout=10)
    finally:
        assert server.stop() == 0
