"""An init phase past Lambda's 10 s limit is retried in the first invocation, under the
function's timeout, as Lambda retries it: a slow first init answers, a hopeless one times out as
the invocation (INIT_REPORT Phase: init, then Phase: invoke)."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

from tests.conftest import SamrunProcess, invoke_http

HANDLER = """\
import os
import time

marker = os.path.join(os.environ["MARKERS"], "first-init")
if os.environ["AWS_LAMBDA_FUNCTION_NAME"] == "Hopeless":
    time.sleep(12)  # past the init phase's 10 s, and past the function's timeout
elif not os.path.exists(marker):
    open(marker, "w").close()
    time.sleep(12)  # past the init phase's 10 s, once


def handler(event, context):
    return {"remaining_ms": context.get_remaining_time_in_millis()}
"""

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.11
    CodeUri: src/
    Handler: app.handler
    Environment:
      Variables:
        MARKERS: {markers}
Resources:
  SlowOnce:
    Type: AWS::Serverless::Function
    Properties:
      Timeout: 30
  Hopeless:
    Type: AWS::Serverless::Function
    Properties:
      Timeout: 3
"""


def platform_lines(server: SamrunProcess, name: str) -> list[str]:
    prefix = f"{name} | "
    return [
        line.removeprefix(prefix)
        for line in server.lines
        if line.startswith(prefix)
        and re.match(r"(INIT_REPORT|START|END|REPORT) ", line[len(prefix) :])
    ]


def test_a_timed_out_init_is_retried_under_the_function_timeout(
    tmp_path: Path, samrun_up: Any
) -> None:
    markers = tmp_path / "markers"
    markers.mkdir(mode=0o777)
    markers.chmod(0o777)  # the function runs as an unprivileged user under root
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(HANDLER)
    template = tmp_path / "template.yaml"
    template.write_text(TEMPLATE.format(markers=markers))
    server: SamrunProcess = samrun_up(template)

    replies: dict[str, tuple[int, dict[str, str], Any]] = {}
    callers = [
        threading.Thread(target=lambda n=name: replies.update({n: invoke_http(
            server.lambda_endpoint, n
        )}))
        for name in ("SlowOnce", "Hopeless")
    ]  # fmt: skip
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(120)

    status, headers, body = replies["SlowOnce"]
    assert status == 200 and "X-Amz-Function-Error" not in headers, body
    # the deadline runs from the retried init, not from the call: the 10 s lost are not counted
    assert 20_000 < body["remaining_ms"] <= 30_000
    server.wait_for(r"^SlowOnce \| REPORT RequestId")
    slow = platform_lines(server, "SlowOnce")
    assert re.fullmatch(
        r"INIT_REPORT Init Duration: [\d.]+ ms\tPhase: init\tStatus: timeout\t"
        r"Error Type: Runtime.Unknown",
        slow[0],
    )
    assert slow[1].startswith("START RequestId: ")
    assert slow[3].startswith("REPORT RequestId: ") and "Init Duration" not in slow[3]

    status, headers, body = replies["Hopeless"]
    assert status == 200 and headers.get("X-Amz-Function-Error") == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout"
    assert body["errorMessage"].endswith("Error: Task timed out after 3.00 seconds")
    server.wait_for(r"^Hopeless \| REPORT RequestId")
    hopeless = platform_lines(server, "Hopeless")
    assert [line.split("\t")[1:3] for line in hopeless if line.startswith("INIT_REPORT")] == [
        ["Phase: init", "Status: timeout"],
        ["Phase: invoke", "Status: timeout"],
    ]
    assert "Status: timeout" in hopeless[-1]
