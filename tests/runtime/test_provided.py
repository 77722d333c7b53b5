"""provided.al2023: the function's own `bootstrap` (from its code or from a layer) speaks the
Runtime API to samrun directly."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from tests.runtime.sam_app import FUNCTIONS, body, function, invoke, layer, running, tail
from tests.runtime.sam_app import write_template as template_of

PYTHON_RUNTIME = FUNCTIONS / "provided_python"
SHELL_RUNTIME = FUNCTIONS / "provided_shell"


def custom(code: Path, handler: str = "function.handler", **properties: object) -> dict:
    return function(handler, code, "provided.al2023", **properties)


@pytest.fixture
def template(tmp_path: Path) -> Path:
    return template_of(
        tmp_path,
        {
            "Custom": custom(PYTHON_RUNTIME),
            "InitFails": custom(PYTHON_RUNTIME, Environment={"Variables": {"MODE": "init_error"}}),
        },
    )


async def test_custom_runtime_answers(template: Path) -> None:
    async with running(template) as app:
        before = time.time() * 1000
        result = await invoke(app, "Custom", {"order": 7})
        again = await invoke(app, "Custom", {"order": 8})
    assert result.function_error is None, result.payload
    got = body(result)
    assert got["echo"] == {"order": 7}
    assert got["handler"] == "function.handler"
    assert got["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:Custom"
    assert before < got["deadline"] <= before + 10_000 + 1000
    assert Path(got["taskRoot"]) == PYTHON_RUNTIME
    assert f"handling {result.request_id}" in tail(result)
    assert body(again)["echo"] == {"order": 8}
    assert again.init_duration_ms is None  # the same process took the second event


async def test_custom_runtime_error(template: Path) -> None:
    async with running(template) as app:
        result = await invoke(app, "Custom", {"fail": "out of stock"})
    assert result.function_error == "Unhandled"
    assert result.error_type == "Custom.Failure"
    assert body(result) == {
        "errorType": "Custom.Failure",
        "errorMessage": "asked to fail: out of stock",
    }


async def test_custom_runtime_init_error(template: Path) -> None:
    async with running(template) as app:
        result = await invoke(app, "InitFails")
    assert result.function_error == "Unhandled"
    assert result.error_type == "Custom.InitFailed"
    assert body(result) == {"errorType": "Custom.InitFailed", "errorMessage": "could not start"}


async def test_custom_runtime_exits_mid_invocation(template: Path) -> None:
    async with running(template) as app:
        died = await invoke(app, "Custom", {"exit": 7})
        after = await invoke(app, "Custom", {"order": 1})
    assert died.error_type == "Runtime.ExitError"
    assert body(died) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {died.request_id} Error: Runtime exited with error: "
        "exit status 7",
    }
    assert body(after)["echo"] == {"order": 1}
    assert after.init_duration_ms is not None  # a new instance


async def test_bootstrap_from_a_layer(tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "README").write_text("no bootstrap here: it comes from the layer (/opt/bootstrap)")
    template = template_of(
        tmp_path,
        {
            "RuntimeLayer": layer(PYTHON_RUNTIME),
            "FromLayer": custom(code, Layers=[{"Ref": "RuntimeLayer"}]),
        },
    )
    async with running(template) as app:
        result = await invoke(app, "FromLayer", {"x": 1})
    assert result.function_error is None, result.payload
    assert body(result)["echo"] == {"x": 1}
    assert Path(body(result)["taskRoot"]) == code


async def test_missing_or_unrunnable_bootstrap_is_a_function_error(tmp_path: Path) -> None:
    empty, unrunnable = tmp_path / "empty", tmp_path / "unrunnable"
    empty.mkdir()
    unrunnable.mkdir()
    (unrunnable / "bootstrap").write_text("#!/bin/sh\n")  # not executable
    template = template_of(tmp_path, {"Empty": custom(empty), "Unrunnable": custom(unrunnable)})
    async with running(template) as app:
        missing = await invoke(app, "Empty")
        denied = await invoke(app, "Unrunnable")
    assert missing.function_error == "Unhandled"
    assert body(missing)["errorType"] == "Runtime.InvalidEntrypoint"
    assert body(missing)["errorMessage"] == (
        f"RequestId: {missing.request_id} Error: Couldn't find valid bootstrap(s): "
        "[/var/task/bootstrap /opt/bootstrap]"
    )
    assert body(denied)["errorType"] == "Runtime.InvalidEntrypoint"
    assert "permission denied" in body(denied)["errorMessage"]


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
async def test_shell_and_curl_runtime(tmp_path: Path) -> None:
    template = template_of(tmp_path, {"Shell": custom(SHELL_RUNTIME, handler="handler.sh")})
    async with running(template) as app:
        result = await invoke(app, "Shell", {"greeting": "hi"})
        again = await invoke(app, "Shell", {"greeting": "again"})
    assert result.function_error is None, result.payload
    assert body(result) == {"shell": True, "handler": "handler.sh", "event": {"greeting": "hi"}}
    assert f"shell runtime handling {result.request_id}" in tail(result)
    assert body(again)["event"] == {"greeting": "again"}
