"""The hardening tests' app, copied to a fresh folder per test: they look at what it leaves."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

APP = Path(__file__).parent / "app"


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "app"
    shutil.copytree(APP, folder)
    return folder
