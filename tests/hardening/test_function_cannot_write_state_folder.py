"""Item 11: a function cannot write samrun's state folder (its queue, versions, locks): as root,
the process backend runs each instance as an unprivileged user of its own, which still reads its
code, layers and the AWS SDK, and writes its own TMPDIR."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import invoke_http, start_up

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="samrun drops privileges as root")


def test_function_gets_no_write_access_to_the_state_folder(app_dir: Path) -> None:
    state = app_dir / ".samrun"
    server = start_up(app_dir / "template.yaml", state)
    try:
        assert invoke_http(server.lambda_endpoint, "Echo")[0] == 200  # its code is readable
        targets = [state / "async-events.sqlite3", state / "samrun.lock", state / "planted"]
        status, _, body = invoke_http(
            server.lambda_endpoint, "WriteState", {"paths": [str(p) for p in targets]}
        )
        assert status == 200, body
        for path in targets:
            assert body[str(path)] == "Permission denied", body  # type: ignore[index]
        assert body["tmp"] == "written"  # type: ignore[index]
        assert body["uid"] != 0  # type: ignore[index]
        assert not (state / "planted").exists()
        status, _, body = invoke_http(server.lambda_endpoint, "Env")  # boto3 imports as well
        assert status == 200
    finally:
        assert server.stop() == 0
