"""External extensions in containers: the layers' /opt/extensions start before the runtime,
through the container's boot step (runtime/extensions.py's CONTAINER_BOOT), and take part in
init, each invocation and shutdown as on the process backend (tests/runtime/test_extensions.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from tests.conftest import FIXTURES, SamrunProcess, backend_args, start_up

TEMPLATE = FIXTURES / "functions" / "extensions_docker" / "template.yaml"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:Observed"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SamrunProcess]:
    root = tmp_path_factory.mktemp("extensions-docker")
    up = start_up(TEMPLATE, root / ".samrun", *backend_args("docker"), ready_timeout=120)
    yield up
    up.stop()


def invoke(server: SamrunProcess, name: str) -> tuple[str | None, dict[str, object]]:
    client = server.lambda_client()
    response = client.invoke(FunctionName=name, Payload=b"{}")  # type: ignore[attr-defined]
    return response.get("FunctionError"), json.loads(response["Payload"].read())


@pytest.mark.docker
def test_a_layer_extension_in_a_container_sees_each_invoke_and_shutdown(
    server: SamrunProcess,
) -> None:
    ids = []
    for _ in range(2):  # the second on the warm container
        error, body = invoke(server, "Observed")
        assert error is None, body
        ids.append(body["requestId"])
        # the instance is free again once its extension has called `next` (REPORT says so);
        # a call before that would start a second container, as on Lambda
        server.wait_for(rf"^Observed \| REPORT RequestId: {body['requestId']}\t", 30)
    server.wait_for(r"^Observed \| \[py-observer\] registered Observed \$LATEST app\.handler$", 30)
    server.wait_for(
        r"^Observed \| EXTENSION\tName: py-observer\tState: Ready\tEvents: \[INVOKE,SHUTDOWN\]", 30
    )
    for request_id in ids:
        server.wait_for(rf"^Observed \| \[py-observer\] INVOKE {request_id} {ARN} ", 30)
        server.wait_for(rf"^Observed \| REPORT RequestId: {request_id}\t", 30)
    registered = [t for t in server.lines if re.search(r"\[py-observer\] registered", t)]
    assert len(registered) == 1  # one container, started once

    # an extension that exits before it registers fails the init phase, as on Lambda
    error, body = invoke(server, "Crashed")
    assert error == "Unhandled"
    assert body["errorType"] == "Extension.Crash", body
    server.wait_for(r"^Crashed \| \[early-exit\] giving up$", 30)

    mark = len(server.lines)
    assert server.stop() == 0  # SHUTDOWN (spindown) reaches the extension in its container
    assert "Observed | [py-observer] SHUTDOWN spindown" in server.lines[mark:]
