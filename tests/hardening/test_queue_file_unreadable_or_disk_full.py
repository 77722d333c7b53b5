"""Item 6: a corrupt or foreign `async-events.sqlite3` is moved aside to a dated file (nothing is
deleted) with one line, and `up` starts with an empty queue; a full disk answers 500
ServiceException, with no traceback per request."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.conftest import SamrunProcess, invoke_http, start_up, wait_until

QUEUE = "async-events.sqlite3"


def delivered(server: SamrunProcess) -> int:
    import urllib.request

    with urllib.request.urlopen(f"{server.lambda_endpoint}/_samrun/state", timeout=30) as reply:
        return int(json.loads(reply.read())["async"]["delivered"])


def async_invoke(server: SamrunProcess, payload: object) -> tuple[int, object]:
    status, _, body = invoke_http(
        server.lambda_endpoint, "Echo", payload, headers={"X-Amz-Invocation-Type": "Event"}
    )
    return status, body


def make_corrupt(path: Path) -> bytes:
    data = b"this is not an SQLite database\n" * 100
    path.write_bytes(data)
    return data


def make_foreign(path: Path) -> bytes:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE users (name TEXT)")
        db.execute("INSERT INTO users VALUES ('ada')")
    db.close()
    return path.read_bytes()


@pytest.mark.parametrize("make", [make_corrupt, make_foreign], ids=["corrupt", "foreign"])
def test_unreadable_queue_is_moved_aside_and_up_starts_empty(app_dir: Path, make: object) -> None:
    state = app_dir / ".samrun"
    state.mkdir()
    original = make(state / QUEUE)  # type: ignore[operator]
    server = start_up(app_dir / "template.yaml", state)
    try:
        line = server.wait_for("moved aside to (\\S+); starting with an empty queue")
        aside = state / line.group(1)
        assert aside.name.startswith(f"{QUEUE}.unreadable-")
        assert aside.read_bytes() == original  # nothing deleted
        assert not [text for text in server.lines if "Traceback" in text]
        assert async_invoke(server, {})[0] == 202
        wait_until(lambda: delivered(server) == 1)
    finally:
        assert server.stop() == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="mounts a small tmpfs as the state folder")
def test_full_disk_answers_500_without_a_traceback(app_dir: Path) -> None:
    state = app_dir / ".samrun"
    state.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(state)], check=True)
    server = None
    try:
        server = start_up(app_dir / "template.yaml", state)
        assert async_invoke(server, {})[0] == 202
        filler = state / "filler"
        with open(filler, "wb") as f, pytest.raises(OSError):
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        start = len(server.lines)
        replies = [async_invoke(server, {"pad": "x" * 100_000}) for _ in range(5)]
        for status, body in replies:
            assert status == 500
            assert body["Type"] == "Service"  # type: ignore[index]
            assert "could not be stored" in body["message"]  # type: ignore[index]
        logged = server.lines[start:]
        assert not [line for line in logged if "Traceback" in line]
        assert len([line for line in logged if "cannot store events" in line]) == 1
        filler.unlink()
        assert async_invoke(server, {})[0] == 202  # space again: accepted again
    finally:
        if server is not None:
            server.stop()
        subprocess.run(["umount", "-l", str(state)], check=False)
