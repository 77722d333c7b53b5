"""Built dependencies in containers: a function's requirements, installed by samrun's build into
the state folder, are importable inside the container as they would be from /var/task."""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, backend_args, start_up


@pytest.mark.docker
def test_a_python_requirement_is_importable_in_the_container(tmp_path: Path) -> None:
    app = tmp_path / "deps-app"
    shutil.copytree(ROOT / "templates" / "deps-app", app)
    server = start_up(app / "template.yaml", tmp_path / "state", *backend_args("docker"))
    try:
        with urllib.request.urlopen(f"{server.api}/py/2048", timeout=60) as response:
            assert json.loads(response.read()) == {"bytes": 2048, "size": "2.0 kB"}
    finally:
        server.stop()
