"""One `samrun up` of tests/fixtures/templates/sources.yaml for the whole package, and a moto
server of a test's own."""

from __future__ import annotations

import os
import subprocess
import sys
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


@pytest.fixture
def moto_endpoint() -> Iterator[str]:
    """A moto server of the test's own (samrun's moto child, with its patches), for an endpoint
    that outlives the samrun a test kills: `--aws-endpoint`, or a profile's `endpoint_url`."""
    process = subprocess.Popen(
        [sys.executable, "-m", "samrun.aws.moto_child", "127.0.0.1", str(os.getpid())],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    yield f"http://127.0.0.1:{int(process.stdout.readline())}"
    process.terminate()
    process.wait(10)
    process.stdout.close()
