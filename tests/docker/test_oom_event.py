"""A container the kernel OOM-kills is told from one killed by SIGKILL, whatever order the
engine learns of the exit and of the OOM kill in."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from samrun.runtime.docker_engine import Engine
from tests.conftest import TEST_IMAGE


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = Engine({}, app="oom-test", image_map={}, skip_pull=True)
    yield engine
    engine.close()


def ended(engine: Engine, command: list[str], *, kill: bool = False) -> tuple[str, float]:
    since = time.time()
    container = engine.client.containers.run(
        TEST_IMAGE, command, entrypoint=[], mem_limit="64m", memswap_limit="64m", detach=True
    )
    try:
        if kill:
            container.kill()
        assert container.wait(timeout=60)["StatusCode"] == 137
    finally:
        container.remove(force=True)
    return container.id, since


@pytest.mark.docker
def test_the_kernels_oom_kill_is_seen(engine: Engine) -> None:
    container_id, since = ended(engine, ["python3", "-c", "x = bytearray(512 * 1024 * 1024)"])
    assert engine.oom_event(container_id, since)


@pytest.mark.docker
def test_a_sigkill_is_not_an_oom_kill(engine: Engine) -> None:
    container_id, since = ended(engine, ["sleep", "60"], kill=True)
    assert not engine.oom_event(container_id, since, wait_s=0.5)
