"""samrun's public names are few and deliberate; this pins them, as httpx pins its own."""

from __future__ import annotations

import subprocess
import sys

import samrun


def test_public_names() -> None:
    assert sorted(samrun.__all__) == ["AppGraph", "Config", "SamrunError"]
    for name in samrun.__all__:
        assert getattr(samrun, name).__module__.startswith("samrun.")


def test_help_says_what_samrun_is() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "samrun", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    description = result.stdout.split("\n\n")[1]  # after the usage lines
    assert "Lambda" in description
    for command in ("up", "invoke", "plan", "validate"):
        assert command in result.stdout
