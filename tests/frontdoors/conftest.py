"""One real `samrun up` per test module, driven over HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import SamrunProcess, start_up

Running = SamrunProcess  # what the tests here call a running `samrun up`
TEMPLATES = Path(__file__).parent.parent / "fixtures" / "templates"
EVENTS = Path(__file__).parent.parent / "fixtures" / "events"


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


@pytest.fixture(scope="module")
def samrun_up(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    template = TEMPLATES / request.module.TEMPLATE
    state = tmp_path_factory.mktemp("state") / ".samrun"
    running = start_up(template, state)
    yield running
    running.stop()


def golden_keys(name: str) -> dict[str, object]:
    """A documented sample event (see tests/fixtures/events/README.md for provenance)."""
    return json.loads((EVENTS / name).read_text())
