"""The official Python runtime interface client (PyPI `awslambdaric`) runs unchanged against
samrun's Runtime API: a provided.al2023 function whose bootstrap is `python -m awslambdaric`, as
the official base images start it."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.runtime.sam_app import FUNCTIONS, body, function, invoke, running, tail, write_template

pytest.importorskip("awslambdaric")


@pytest.fixture
def template(tmp_path: Path) -> Path:
    code = tmp_path / "code"
    shutil.copytree(
        FUNCTIONS / "awslambdaric_app", code, ignore=shutil.ignore_patterns("__pycache__")
    )
    bootstrap = code / "bootstrap"
    bootstrap.write_text(f'#!/bin/sh\nexec {sys.executable} -m awslambdaric "$_HANDLER"\n')
    bootstrap.chmod(0o755)
    return write_template(
        tmp_path,
        {
            "Ric": function("app.handler", code, "provided.al2023", MemorySize=256),
            "RicBroken": function("broken.handler", code, "provided.al2023"),
        },
    )


async def test_success(template: Path) -> None:
    async with running(template) as app:
        result = await invoke(app, "Ric", {"order": 42})
        again = await invoke(app, "Ric", {"order": 43})
    assert result.function_error is None, result.payload
    assert body(result) == {
        "received": {"order": 42},
        "function_name": "Ric",
        "memory": "256",
        "remaining_positive": True,
        "arn": "arn:aws:lambda:us-east-1:123456789012:function:Ric",
        "request_id": result.request_id,
        "run_by_awslambdaric": True,
    }
    assert f"awslambdaric handling {result.request_id}" in tail(result)
    assert body(again)["received"] == {"order": 43}
    assert again.init_duration_ms is None  # the same awslambdaric process took both events


async def test_handler_exception(template: Path) -> None:
    async with running(template) as app:
        result = await invoke(app, "Ric", {"fail": 42})
        after = await invoke(app, "Ric", {"order": 1})
    assert result.function_error == "Unhandled"
    assert result.error_type == "OrderRejected"
    got = body(result)
    assert set(got) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert got["errorType"] == "OrderRejected"
    assert got["errorMessage"] == "order 42 rejected"
    assert got["requestId"] == result.request_id
    assert any("app.py" in frame and "raise OrderRejected" in frame for frame in got["stackTrace"])
    assert "[ERROR] OrderRejected: order 42 rejected" in tail(result)
    assert body(after)["received"] == {"order": 1}  # a handled error keeps the instance


async def test_import_error(template: Path) -> None:
    async with running(template) as app:
        result = await invoke(app, "RicBroken", {})
    assert result.function_error == "Unhandled"
    assert result.error_type == "Runtime.ImportModuleError"
    got = body(result)
    assert got["errorType"] == "Runtime.ImportModuleError"
    assert got["errorMessage"] == (
        "Unable to import module 'broken': No module named 'not_a_real_module'"
    )
    assert got["stackTrace"] == []
