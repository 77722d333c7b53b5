"""A `--watch` reload that replaces an instance a debugger holds paused: samrun says so, waits
for it up to the function's timeout + the init timeout, then stops it (and says that too); the
next instance listens on the same port and runs the edited code, under the debugger again."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from samrun.runtime.debugging import free_port
from tests.conftest import invoke_http
from tests.debug.dap import DapClient

pytestmark = [pytest.mark.process_only, pytest.mark.slow]

TEMPLATE = """Transform: AWS::Serverless-2016-10-31
Resources:
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: src/
      Timeout: 1
"""
HANDLER = """def handler(event, context):
    tag = "{tag}"
    return {{"tag": tag}}
"""
LINE = 3  # `return`: `tag` is set


def invoke_in_background(endpoint: str) -> tuple[threading.Thread, list[object]]:
    replies: list[object] = []

    def call() -> None:
        status, _, body = invoke_http(endpoint, "Hello")
        replies.append((status, body))

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread, replies


def paused_at_breakpoint(port: int, source: Path) -> tuple[DapClient, int, int]:
    """Attach as VS Code does, with a breakpoint on LINE; (client, thread id, frame id)."""
    client = DapClient(port, timeout=60)
    client.attach({str(source): [LINE]})
    stopped = client.event("stopped", timeout=60)
    thread = stopped["body"]["threadId"]
    frames = client.request("stackTrace", {"threadId": thread})["stackFrames"]
    assert (Path(frames[0]["source"]["path"]), frames[0]["line"]) == (source, LINE)
    return client, thread, frames[0]["id"]


def test_reload_replaces_a_paused_instance_and_the_next_is_debuggable(
    tmp_path: Path, samrun_up: object
) -> None:
    (tmp_path / "src").mkdir()
    source = tmp_path / "src" / "app.py"
    source.write_text(HANDLER.format(tag="v1"))
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    port = free_port()
    server = samrun_up(  # type: ignore[operator]
        tmp_path / "template.yaml", "--watch", "--debug", f"Hello={port}", "--debug-wait"
    )
    server.wait_for(rf"debugging Hello: attach a debugger to 127\.0\.0\.1:{port}")

    first, first_reply = invoke_in_background(server.lambda_endpoint)
    client, _, _ = paused_at_breakpoint(port, source)
    mark = len(server.lines)
    source.write_text(HANDLER.format(tag="v2"))  # the reload comes while the handler is paused
    server.wait_for(r"reloaded \(", timeout=60, start=mark)
    server.wait_for(
        rf"Hello: the instance a debugger holds is stopped: the reload replaced it; the next "
        rf"one listens on 127\.0\.0\.1:{port} again",
        timeout=60,
        start=mark,
    )
    first.join(60)
    (status, body), *_ = first_reply  # its instance was stopped under it: Lambda's error
    assert status == 200 and body["errorType"] == "Runtime.ExitError"  # type: ignore[index]
    client.close()

    second, second_reply = invoke_in_background(server.lambda_endpoint)
    client, thread, frame = paused_at_breakpoint(port, source)  # the same port, again
    try:
        value = client.request("evaluate", {"expression": "tag", "frameId": frame})
        assert value["result"] == "'v2'"
        client.request("continue", {"threadId": thread})
        second.join(60)
    finally:
        client.close()
    assert second_reply == [(200, {"tag": "v2"})]
