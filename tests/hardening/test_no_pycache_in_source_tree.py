"""Item 17: Python functions leave no `__pycache__` in the user's source tree (Lambda's code
folder is read-only, so Lambda writes none): Python writes no bytecode for them."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import invoke_http, start_up


def test_python_function_writes_no_bytecode_into_the_code_folder(app_dir: Path) -> None:
    server = start_up(app_dir / "template.yaml", app_dir / ".samrun")
    try:
        status, _, body = invoke_http(server.lambda_endpoint, "Imports")
    finally:
        assert server.stop() == 0
    assert status == 200, body
    source = app_dir / "src"
    assert not list(source.rglob("__pycache__")), "bytecode written into the source tree"
    assert body == {"ok": True, "flags": 1}  # type: ignore[comparison-overlap]
