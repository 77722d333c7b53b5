"""A CDK image function (DockerImageFunction): built from its cdk.out Docker asset with the
build args CDK recorded (`aws:asset:docker-build-args`), then invoked."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, TEST_IMAGE


@pytest.mark.docker
def test_a_cdk_image_asset_is_built_with_its_build_args(tmp_path: Path) -> None:
    app = Path(shutil.copytree(FIXTURES / "cdk" / "app", tmp_path / "app"))
    template = json.loads((app / "cdk.out" / "CdkAppStack.template.json").read_text())
    asset = (
        app
        / "cdk.out"
        / template["Resources"]["ImageHandlerBF86FD31"]["Metadata"]["aws:asset:path"]
    )
    dockerfile = asset / "Dockerfile"  # the test image instead of a pull from public.ecr.aws
    lines = dockerfile.read_text().splitlines()
    dockerfile.write_text("\n".join([f"FROM {TEST_IMAGE}", *lines[1:]]) + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "samrun", "invoke", "ImageHandler", "--backend", "docker",
         "--skip-pull", "--state-dir", str(tmp_path / ".samrun")],
        capture_output=True, text=True, timeout=600, cwd=app,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"statusCode": 200, "body": "hello-from-cdk"}
