"""One `samrun up` of tests/fixtures/templates/sources.yaml for the whole package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, SamrunProcess, shared_file, start_up

TEMPLATE = FIXTURES / "templates" / "sources.yaml"


@pytest.fixture(scope="package")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_file(tmp_path_factory.mktemp("sources-log") / "invocations.jsonl")


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory, log: Path) -> Iterator[SamrunProcess]:
    state = tmp_path_factory.mktemp("sources") / ".samrun"
    process = start_up(TEMPLATE, state, "--parameter-overrides", f"LogFile={log}")
    yield process
    assert process.stop() == 0
