"""Build tests: real pip and npm against the registries, samrun run as a subprocess (the AWS SDK
for JavaScript is installed once per session: tests/conftest.py's shared_node_sdk)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
TEMPLATES = ROOT / "templates"


def samrun(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """One samrun command as a user types it; output as text."""
    return subprocess.run(
        [sys.executable, "-m", "samrun", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` and its bytes: what must not change."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }
