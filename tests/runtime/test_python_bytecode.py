"""Issue 19: a function on another Python than samrun's imports the AWS SDK from bytecode samrun
compiled once for that Python (runtime/bytecode.py), in its user cache, never in the user's
folders: at 128 MB (a small CPU share) `import boto3` and a client fit in a 10 s timeout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from samrun.runtime.runtimes import PYTHON_VERSIONS, locate_python, python_homes
from tests.conftest import invoke_http, start_up

HANDLER = """import importlib.util
import sys


def handler(event, context):
    import boto3
    import botocore.client

    boto3.client("s3", region_name="us-east-1")
    cached = importlib.util.cache_from_source(botocore.client.__file__)
    return {
        "python": "%d.%d" % sys.version_info[:2],
        "boto3": boto3.__file__,
        "cached": cached,
        "dont_write": sys.flags.dont_write_bytecode,
    }
"""


def other_python() -> str | None:
    """A Python version on this machine other than samrun's own, newest first."""
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    for version in reversed(PYTHON_VERSIONS):
        if version != running and locate_python(version, python_homes(dict(os.environ))):
            return version
    return None


VERSION = other_python()


def compiled(tree: Path, version: str) -> dict[Path, int]:
    """The SDK's bytecode for `version` in the cache's tree, with each file's mtime."""
    tag = f".cpython-{version.replace('.', '')}.pyc"
    return {
        path: path.stat().st_mtime_ns
        for package in ("boto3", "botocore")
        for path in (tree / package).rglob(f"*{tag}")
    }


@pytest.mark.skipif(VERSION is None, reason="no Python but samrun's own on this machine")
def test_another_pythons_cold_start_reads_the_sdk_compiled_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert VERSION is not None
    app = tmp_path / "app"
    (app / "src").mkdir(parents=True)
    (app / "src" / "app.py").write_text(HANDLER)
    resources = {
        name: {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "Runtime": f"python{VERSION}",
                "Handler": "app.handler",
                "CodeUri": "src/",
                "MemorySize": 128,
                "Timeout": 10,
            },
        }
        for name in ("First", "Second")
    }
    template = app / "template.yaml"
    template.write_text(
        json.dumps({"Transform": "AWS::Serverless-2016-10-31", "Resources": resources})
    )
    cache = tmp_path / "cache"
    monkeypatch.setenv("SAMRUN_CACHE_DIR", str(cache))
    monkeypatch.delenv("SAMRUN_PYTHON_BYTECODE", raising=False)
    server = start_up(template, tmp_path / "state")
    try:
        status, headers, first = invoke_http(server.lambda_endpoint, "First")
        assert status == 200 and "X-Amz-Function-Error" not in headers, first
        assert isinstance(first, dict)
        assert first["python"] == VERSION and first["dont_write"] == 1
        tree = Path(first["boto3"]).parent.parent
        assert tree.is_relative_to(cache), first  # the SDK from the cache's tree
        before = compiled(tree, VERSION)
        assert any(p.parent.parent.name == "botocore" for p in before), sorted(before)[:5]
        assert any(p.parent.parent.name == "boto3" for p in before), sorted(before)[:5]
        assert Path(first["cached"]) in before  # where that Python looks, bytecode is
        assert not any(p.is_symlink() for p in before)  # compiled for it, not samrun's linked

        status, headers, second = invoke_http(server.lambda_endpoint, "Second")  # a cold start
        assert status == 200 and "X-Amz-Function-Error" not in headers, second
        assert compiled(tree, VERSION) == before  # nothing compiled again, nothing rewritten
    finally:
        assert server.stop() == 0
    assert not list(app.rglob("__pycache__")), "bytecode written into the user's folder"
    assert not list(app.rglob("*.pyc"))


LAYER_HANDLER = """import sys


def handler(event, context):
    import built_helper
    import plain_helper

    return {"python": "%d.%d" % sys.version_info[:2], "built": built_helper.__file__,
            "plain": plain_helper.__file__}
"""


@pytest.mark.skipif(VERSION is None, reason="no Python but samrun's own on this machine")
def test_layers_samrun_built_are_compiled_and_the_users_folders_never(tmp_path: Path) -> None:
    """`samrun invoke`: a layer samrun's build step made (BuildMethod) gets bytecode for the
    function's Python in the state folder; a layer used from the user's folder gets none."""
    assert VERSION is not None
    app = tmp_path / "app"
    for folder, module in (("src", "app"), ("built", "built_helper"), ("plain", "plain_helper")):
        (app / folder).mkdir(parents=True)
        code = LAYER_HANDLER if module == "app" else "VALUE = 1\n"
        (app / folder / f"{module}.py").write_text(code)
    (app / "plain" / "python").mkdir()
    (app / "plain" / "plain_helper.py").rename(app / "plain" / "python" / "plain_helper.py")
    resources: dict[str, object] = {
        "Built": {
            "Type": "AWS::Serverless::LayerVersion",
            "Properties": {"ContentUri": "built/"},
            "Metadata": {"BuildMethod": f"python{VERSION}"},
        },
        "Plain": {"Type": "AWS::Serverless::LayerVersion", "Properties": {"ContentUri": "plain/"}},
        "Fn": {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "Runtime": f"python{VERSION}",
                "Handler": "app.handler",
                "CodeUri": "src/",
                "Layers": [{"Ref": "Built"}, {"Ref": "Plain"}],
            },
        },
    }
    template = app / "template.yaml"
    template.write_text(
        json.dumps({"Transform": "AWS::Serverless-2016-10-31", "Resources": resources})
    )
    state = tmp_path / "state"
    env = {**os.environ, "SAMRUN_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("SAMRUN_PYTHON_BYTECODE", None)
    done = subprocess.run(
        [sys.executable, "-m", "samrun", "invoke", str(template), "Fn", "--state-dir", str(state)],
        input="{}",
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=app,
    )
    assert done.returncode == 0, done.stderr
    reply = json.loads(done.stdout)
    assert reply["python"] == VERSION
    tag = f"cpython-{VERSION.replace('.', '')}.pyc"
    built = Path(reply["built"])
    assert built.is_relative_to(state), reply
    assert (built.parent / "__pycache__" / f"built_helper.{tag}").is_file()
    assert not list(app.rglob("__pycache__")), "bytecode written into the user's folders"
