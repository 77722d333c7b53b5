"""One real `samrun up` per test module, driven over HTTP."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).parent.parent / "fixtures" / "templates"
EVENTS = Path(__file__).parent.parent / "fixtures" / "events"
_ADDRESS = re.compile(r"samrun: (.+?) on (http://[\d.]+:\d+)")


@dataclass
class Running:
    proc: subprocess.Popen[str]
    addresses: dict[str, str]
    lines: list[str] = field(default_factory=list)

    @property
    def api(self) -> str:
        return self.addresses["API"]

    def wait_for_line(self, pattern: str, timeout_s: float = 10.0) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if re.search(pattern, line):
                    return line
            time.sleep(0.05)
        raise AssertionError(f"no line matching {pattern!r} in:\n" + "".join(self.lines))


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    reason: str = ""

    def json(self) -> object:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


def send(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> Reply:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return Reply(
                response.status, list(response.headers.items()), response.read(), response.reason
            )
    except urllib.error.HTTPError as error:
        return Reply(error.code, list(error.headers.items()), error.read(), error.reason)


def start_up(template: str, state_dir: Path) -> Running:
    cmd = [
        sys.executable,
        "-m",
        "samrun",
        "up",
        str(TEMPLATES / template),
        "--port",
        "0",
        "--invoke-port",
        "0",
        "--state-dir",
        str(state_dir),
    ]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    running = Running(proc, {})
    ready = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            running.lines.append(line)
            found = _ADDRESS.search(line)
            if found:
                running.addresses[found.group(1)] = found.group(2)
            if "ready: Lambda API on" in line:
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(30) or proc.poll() is not None:
        proc.kill()
        raise AssertionError("samrun up did not get ready:\n" + "".join(running.lines))
    return running


def stop_up(running: Running) -> None:
    running.proc.send_signal(signal.SIGTERM)
    try:
        running.proc.wait(15)
    except subprocess.TimeoutExpired:
        running.proc.kill()
        raise


@pytest.fixture(scope="module")
def samrun_up(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    running = start_up(request.module.TEMPLATE, tmp_path_factory.mktemp("state") / ".samrun")
    yield running
    stop_up(running)


def golden_keys(name: str) -> dict[str, object]:
    """A documented sample event (see tests/fixtures/events/README.md for provenance)."""
    return json.loads((EVENTS / name).read_text())
