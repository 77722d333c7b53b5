"""Template tests: fixture templates, and one compiled graph per template shared by a module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from samrun.model import AppGraph
from samrun.template import load_graph

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "tests" / "fixtures" / "templates"
EXAMPLES = ROOT / "templates"


def run_samrun(
    *args: str, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """samrun as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "samrun", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def kitchen() -> AppGraph:
    return load_graph(TEMPLATES / "sam_kitchen.yaml")


@pytest.fixture(scope="session")
def plain() -> AppGraph:
    return load_graph(TEMPLATES / "cfn_plain.yaml")


@pytest.fixture(scope="session")
def sources() -> AppGraph:
    return load_graph(TEMPLATES / "sam_sources.yaml")
