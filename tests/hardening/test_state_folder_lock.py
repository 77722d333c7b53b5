"""Item 5: one `samrun up` per state folder. A second one exits 2 naming the pid holding the
folder (it would run the same leftover async events twice); a killed holder does not block."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import invoke_http, start_up


def second_up(app_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "samrun",
            "up",
            "--port",
            "0",
            "--invoke-port",
            "0",
            "--state-dir",
            str(app_dir / ".samrun"),
        ],
        cwd=app_dir,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_second_up_on_the_same_state_folder_exits_2_naming_the_holder(app_dir: Path) -> None:
    first = start_up(app_dir / "template.yaml", app_dir / ".samrun")
    try:
        refused = second_up(app_dir)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert f"in use by another samrun (pid {first.process.pid})" in refused.stderr
        assert "Traceback" not in refused.stderr + refused.stdout
        assert invoke_http(first.lambda_endpoint, "Echo")[0] == 200  # the first one serves on
    finally:
        assert first.stop() == 0


def test_a_killed_holder_does_not_block_the_next_up(app_dir: Path) -> None:
    first = start_up(app_dir / "template.yaml", app_dir / ".samrun")
    os.killpg(first.process.pid, signal.SIGKILL)
    first.stop()  # reaped, its output closed
    second = start_up(app_dir / "template.yaml", app_dir / ".samrun")
    try:
        assert invoke_http(second.lambda_endpoint, "Echo")[0] == 200
    finally:
        assert second.stop() == 0
