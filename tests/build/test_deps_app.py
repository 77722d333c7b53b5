"""templates/deps-app on a fresh copy: `samrun up` installs its Python and Node.js dependencies
into the state folder before serving, the second start builds nothing, and the sources stay
untouched. `samrun build` does the same alone."""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path

from tests.build.conftest import TEMPLATES, samrun, tree
from tests.conftest import start_up


def get(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def build_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("samrun: build ")]


def test_up_builds_a_fresh_copy_then_builds_nothing_the_second_time(tmp_path: Path) -> None:
    app = tmp_path / "deps-app"
    shutil.copytree(TEMPLATES / "deps-app", app)
    before = tree(app)
    state = tmp_path / "state"

    server = start_up(app / "template.yaml", state)
    try:
        first = build_lines(server.lines)
        assert any("PyFunction (pip, python3.11): built in" in line for line in first), first
        assert any("NodeFunction (npm, nodejs20.x): built in" in line for line in first), first
        assert get(f"{server.api}/py/2048") == {"bytes": 2048, "size": "2.0 kB"}
        node = get(f"{server.api}/node/2h")
        assert node == {"duration": "2h", "ms": 7_200_000, "sdk": "DynamoDBClient"}
    finally:
        server.stop()

    again = start_up(app / "template.yaml", state)
    try:
        second = build_lines(again.lines)
        assert second and all(line.endswith(": cached") for line in second), second
        assert any("PyFunction" in line for line in second)
        assert any("NodeFunction" in line for line in second)
        assert get(f"{again.api}/py/3000000")["size"] == "3.0 MB"
    finally:
        again.stop()
    assert tree(app) == before  # nothing written into the sources: no packages, no bytecode


def test_build_alone_then_cached(tmp_path: Path) -> None:
    app = tmp_path / "deps-app"
    shutil.copytree(TEMPLATES / "deps-app", app)
    before = tree(app)
    state = tmp_path / "state"

    first = samrun("build", "--state-dir", str(state), cwd=app)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "build PyFunction (pip, python3.11): built in" in first.stdout
    assert "build NodeFunction (npm, nodejs20.x): built in" in first.stdout
    assert (state / "build" / "logs" / "function-PyFunction.log").read_text().strip()

    second = samrun("build", "--state-dir", str(state), cwd=app)
    assert second.returncode == 0, second.stderr
    lines = build_lines(second.stdout.splitlines())
    assert len(lines) == 3 and all(line.endswith(": cached") for line in lines), lines

    (app / "python" / "requirements.txt").write_text("humanize==4.8.0\n")  # a new key
    third = samrun("build", "--state-dir", str(state), cwd=app)
    assert "build PyFunction (pip, python3.11): built in" in third.stdout
    assert "build NodeFunction (npm, nodejs20.x): cached" in third.stdout
    assert tree(app) == {**before, "python/requirements.txt": b"humanize==4.8.0\n"}
