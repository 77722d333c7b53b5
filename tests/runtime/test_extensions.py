"""External extensions from layers (the Extensions API) and AWS_LAMBDA_EXEC_WRAPPER, driven
through one `samrun up` of tests/fixtures/functions/extensions_app."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, SamrunProcess, alive, start_up, wait_until

TEMPLATE = FIXTURES / "functions" / "extensions_app" / "template.yaml"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SamrunProcess]:
    root = tmp_path_factory.mktemp("extensions")
    gates = root / "gates"  # the slow extension waits for a file here (functions run as
    gates.mkdir()  # an unprivileged user under root)
    gates.chmod(0o777)
    up = start_up(
        TEMPLATE,
        root / ".samrun",
        "--idle-ttl",
        "2",
        "--parameter-overrides",
        f"GateDir={gates}",
        ready_timeout=120,
    )
    up.gates = gates  # type: ignore[attr-defined]
    yield up
    up.stop()


def invoke(server: SamrunProcess, name: str, payload: object = None) -> tuple[str | None, object]:
    client = server.lambda_client()
    response = client.invoke(FunctionName=name, Payload=json.dumps(payload or {}))  # type: ignore[attr-defined]
    return response.get("FunctionError"), json.loads(response["Payload"].read())


def line(server: SamrunProcess, pattern: str, timeout: float = 30) -> int:
    """The index of the first output line matching `pattern` (waiting for it)."""
    server.wait_for(pattern, timeout)
    regex = re.compile(pattern)
    return next(i for i, text in enumerate(server.lines) if regex.search(text))


def test_extensions_register_see_each_invoke_and_get_spindown_when_reaped(
    server: SamrunProcess,
) -> None:
    ids, pids = [], set()
    for _ in range(2):
        error, body = invoke(server, "Observed")
        assert error is None
        ids.append(body["requestId"])  # type: ignore[index]
        pids.add(body["pid"])  # type: ignore[index]
    line(server, r"^Observed \| \[py-observer\] registered Observed \$LATEST app\.handler$")
    line(server, r"^Observed \| \[sh-observer\] registered [0-9a-f-]{36}$")
    line(
        server,
        r"^Observed \| EXTENSION\tName: py-observer\tState: Ready\tEvents: \[INVOKE,SHUTDOWN\]",
    )
    arn = "arn:aws:lambda:us-east-1:123456789012:function:Observed"
    for request_id in ids:
        line(server, rf"^Observed \| \[py-observer\] INVOKE {request_id} {arn} X-Amzn-Trace-Id$")
        line(server, rf"^Observed \| \[sh-observer\] INVOKE {request_id}$")
        line(server, rf"^Observed \| REPORT RequestId: {request_id}\t")
    # --idle-ttl 2: each idle instance is reaped, its extensions told first
    for pid in pids:
        wait_until(lambda pid=pid: not alive(pid), timeout=30)
    spindowns = [t for t in server.lines if t == "Observed | [py-observer] SHUTDOWN spindown"]
    assert len(spindowns) == len(pids)
    assert "Observed | [sh-observer] SHUTDOWN spindown" in server.lines


def test_an_extension_init_error_fails_the_invocation(server: SamrunProcess) -> None:
    error, body = invoke(server, "InitFail")
    assert error == "Unhandled"
    assert body["errorType"] == "Extension.InitError"  # type: ignore[index]
    assert re.match(r"RequestId: [0-9a-f-]{36} Error: ", body["errorMessage"])  # type: ignore[index]
    line(server, r"^InitFail \| \[bad-ext\] configuration missing$")
    line(server, r"^InitFail \| INIT_REPORT .*Status: error\tError Type: Extension\.InitError$")


def test_a_slow_extension_delays_report_not_the_response(server: SamrunProcess) -> None:
    error, body = invoke(server, "Slow")  # answered while the extension still holds its gate
    assert error is None
    request_id = body["requestId"]  # type: ignore[index]
    report = rf"^Slow \| REPORT RequestId: {request_id}\t"
    assert not any(re.search(report, text) for text in server.lines)
    (server.gates / request_id).touch()  # type: ignore[attr-defined]
    line(server, report)
    line(server, rf"^Slow \| \[slow-ext\] done with {request_id}$")


def test_a_parameters_style_extension_serves_the_function(server: SamrunProcess) -> None:
    """Its HTTP server listens on 127.0.0.1:2773: on the process backend instances share the
    host's network, so only one instance of such a function can run at a time (README)."""
    error, body = invoke(server, "Params", {"name": "/samrun/extensions/greeting"})
    assert error is None, body
    assert body == "hello-from-ssm"


@pytest.mark.parametrize("function", ["WrappedPython", "WrappedNode"])
def test_exec_wrapper_starts_the_runtime(server: SamrunProcess, function: str) -> None:
    error, body = invoke(server, function)
    assert error is None, body
    assert body["wrappedBy"] == "test-wrapper"  # type: ignore[index]
    assert "bootstrap" in body["argv"]  # type: ignore[index]  (the runtime's command line)


def test_extensions_get_spindown_when_samrun_stops(server: SamrunProcess) -> None:
    """Last: it stops the module's server. Kept's provisioned instance is never reaped."""
    error, body = invoke(server, "Kept:live")
    assert error is None
    line(server, rf"^Kept \| \[py-observer\] INVOKE {body['requestId']} ")  # type: ignore[index]
    mark = len(server.lines)
    assert server.stop() == 0
    after = server.lines[mark:]
    assert "Kept | [py-observer] SHUTDOWN spindown" in after
    assert "Kept | [sh-observer] SHUTDOWN spindown" in after
    assert not alive(body["pid"])  # type: ignore[index]


def test_fixture_extensions_are_executable() -> None:
    """Extensions are the executables in /opt/extensions (git keeps the mode)."""
    for path in Path(TEMPLATE.parent / "layers").glob("*/extensions/*"):
        assert path.stat().st_mode & 0o111, path
