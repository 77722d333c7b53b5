"""The Lambda Invoke API of a running `samrun up`, driven with boto3 as an application would."""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import signal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from samrun.runtime.runtimes import as_tuple, find_python, python_homes, sdk_minimum_python
from tests.conftest import (
    BACKENDS,
    FIXTURES,
    SamrunProcess,
    alive,
    backend_args,
    invoke_http,
    start_up,
    wait_until,
)

TEMPLATE = FIXTURES / "templates" / "core.yaml"


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    state = tmp_path_factory.mktemp(f"core-{request.param}")
    env_vars = state / "env.json"
    env_vars.write_text(
        json.dumps(
            {
                "Parameters": {"OVERRIDDEN": "from-parameters"},
                "env-reader": {"OVERRIDDEN": "from-function", "NOT_IN_TEMPLATE": "ignored"},
            }
        )
    )
    process = start_up(
        TEMPLATE,
        state / ".samrun",
        "--env-vars",
        str(env_vars),
        "--max-sandboxes",
        "12",
        *backend_args(request.param),
    )
    yield process
    assert process.stop() == 0


@pytest.fixture(scope="module")
def client(server: SamrunProcess):
    return server.lambda_client()


def invoke(client, name: str, event: object = None, **kwargs) -> tuple[dict, object]:
    response = client.invoke(FunctionName=name, Payload=json.dumps(event or {}), **kwargs)
    return response, json.loads(response["Payload"].read())


def test_invoke_returns_the_handler_result(client) -> None:
    response, body = invoke(client, "Echo", {"hello": "world"})
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response
    assert body["event"] == {"hello": "world"}
    assert body["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:Echo"
    assert body["memory"] == "256"
    assert body["version"] == "$LATEST"
    assert 0 < body["remaining_ms"] <= 5000


@pytest.mark.parametrize(
    "name",
    [
        "arn:aws:lambda:us-east-1:123456789012:function:Echo",
        "123456789012:function:Echo",
        "Echo:$LATEST",
    ],
)
def test_arns_and_partial_arns_name_the_function(client, name: str) -> None:
    _, body = invoke(client, name, {"n": 1})
    assert body["event"] == {"n": 1}


def test_log_tail_holds_the_invocation_log(client) -> None:
    response, body = invoke(client, "Echo", {"tail": True}, LogType="Tail")
    log = base64.b64decode(response["LogResult"]).decode()
    request_id = body["request_id"]
    assert log.startswith(f"START RequestId: {request_id} Version: $LATEST")
    assert 'echo {"tail": true}' in log
    assert f"END RequestId: {request_id}" in log
    report = next(line for line in log.splitlines() if line.startswith("REPORT"))
    for field in ("Duration:", "Billed Duration:", "Memory Size: 256 MB", "Max Memory Used:"):
        assert field in report
    assert len(base64.b64decode(response["LogResult"])) <= 4096


def test_handler_exception_is_an_unhandled_function_error(client) -> None:
    response, body = invoke(client, "Fail")
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "something went wrong"
    assert any("raise ValueError" in line for line in body["stackTrace"])


@pytest.mark.parametrize(
    ("name", "error_type", "message"),
    [
        ("SyntaxError", "Runtime.UserCodeSyntaxError", "Syntax error in module 'syntax'"),
        (
            "ImportError",
            "Runtime.ImportModuleError",
            "Unable to import module 'imports': No module named 'module_that_does_not_exist'",
        ),
        (
            "MissingHandler",
            "Runtime.HandlerNotFound",
            "Handler 'nothing_here' missing on module 'ok'",
        ),
        ("InitRaises", "RuntimeError", "init failed on purpose"),
    ],
)
def test_init_errors_come_back_as_lambda_reports_them(client, name, error_type, message) -> None:
    response, body = invoke(client, name)
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == error_type
    assert body["errorMessage"].startswith(message)


def test_timeout_kills_the_instance_and_the_next_invocation_works(client) -> None:
    response, body = invoke(client, "Slow", {"seconds": 30})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.0" in body["errorMessage"]
    response, body = invoke(client, "Slow", {"seconds": 0})
    assert "FunctionError" not in response
    assert body["pid"] > 0


def test_a_runtime_that_exits_is_reported_and_replaced(client) -> None:
    response, body = invoke(client, "Crash", {"code": 7})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ExitError"
    assert body["errorMessage"].endswith("Runtime exited with error: exit status 7")
    response, _ = invoke(client, "Echo")
    assert "FunctionError" not in response


def test_memory_over_the_limit_is_killed(client) -> None:
    response, body = invoke(client, "Hog", {"mb": 600})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.OutOfMemory"
    response, body = invoke(client, "Hog", {"mb": 10})
    assert "FunctionError" not in response and body == 10


def test_warm_instances_are_reused(client) -> None:
    first = invoke(client, "Counter")[1]
    second = invoke(client, "Counter")[1]
    assert second["instance"] == first["instance"]
    assert second["calls"] == first["calls"] + 1


def test_concurrent_invocations_start_more_instances(client) -> None:
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: invoke(client, "Counter", {"sleep": 2.0})[1], range(4)))
    assert len({result["instance"] for result in results}) == 4


def test_environment_is_lambdas_then_the_templates_then_overrides(client) -> None:
    _, body = invoke(client, "env-reader")
    env = body["env"]
    expected = {
        "AWS_LAMBDA_FUNCTION_NAME": "env-reader",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/env-reader",
        "_HANDLER": "app.environment",
        "TZ": ":UTC",
        "FROM_TEMPLATE": "template-value",
        "OVERRIDDEN": "from-function",
    }
    assert {key: env.get(key) for key in expected} == expected
    assert "NOT_IN_TEMPLATE" not in env
    assert env["LAMBDA_TASK_ROOT"] == body["cwd"]
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"].count("[$LATEST]") == 1
    assert env["AWS_ENDPOINT_URL_LAMBDA"].startswith("http://127.0.0.1:")
    for key in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
    ):
        assert env[key]
    assert body["nofile"] == 1024


CGROUPS_WRITABLE = os.access("/sys/fs/cgroup/cpu", os.W_OK) or os.access(
    "/sys/fs/cgroup/cgroup.subtree_control", os.W_OK
)


@pytest.mark.process_only
@pytest.mark.skipif(not CGROUPS_WRITABLE, reason="this machine's cgroups are read-only")
def test_cpu_share_and_task_limit_come_from_cgroups(client) -> None:
    _, body = invoke(client, "CgroupLimits", {"threads": 1100})
    assert (body["quota"], body["period"]) == (100_000 * 3538 // 1769, 100_000)  # 2 vCPUs
    assert body["pids_max"] == "1024"
    assert 1000 <= body["threads"] < 1024  # processes and threads stop at 1024, root or not


@pytest.mark.skipif(os.geteuid() != 0, reason="a private tmpfs mount needs root")
def test_tmp_is_private_and_full_at_ephemeral_storage(client) -> None:
    _, body = invoke(client, "FillTmp")
    assert body["error"] == "No space left on device"
    assert 500 <= body["written_mb"] <= 512
    assert body["listing"] == [Path(body["path"]).name]
    assert not Path(body["path"]).exists()  # the tmpfs is the instance's: samrun sees none of it


@pytest.mark.process_only
@pytest.mark.parametrize("version", ["3.9", "3.12", "3.13"])
def test_each_python_runtime_runs_on_its_interpreter(client, version: str) -> None:
    homes = python_homes({"HOME": os.environ.get("HOME", "/root")})
    if find_python(version, homes) == sys.executable:
        pytest.skip(f"python{version} is not on this machine")
    _, body = invoke(client, f"Python{version.replace('.', '')}")
    assert body["version"] == version
    # Lambda's Python runtimes carry the AWS SDK (where the SDK samrun has supports that Python)
    assert body["boto3"] is (as_tuple(version) >= sdk_minimum_python())
    assert body["yaml"] is False  # but not samrun's own dependencies


def test_each_instance_has_a_private_tmp(client) -> None:
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: invoke(client, "WriteTmp", {"text": "x"})[1], range(2)))
    assert results[0]["path"] != results[1]["path"]
    for result in results:  # two instances at once: each sees only the file it wrote
        assert result["files"] == [Path(result["path"]).name]


def test_function_invokes_another_with_no_endpoint_in_its_code(client) -> None:
    response, body = invoke(client, "CallOther")
    assert "FunctionError" not in response, body
    assert body["event"] == {"from": "caller"}


def test_client_context_reaches_the_function(client) -> None:
    context = base64.b64encode(json.dumps({"custom": {"tenant": "t1"}}).encode()).decode()
    _, body = invoke(client, "ClientContext", ClientContext=context)
    assert body == {"custom": {"tenant": "t1"}}


def test_inline_code_and_layers(client) -> None:
    assert invoke(client, "Inline")[1] == {"inline": True, "name": "Inline"}
    assert invoke(client, "Layered")[1] == {"who": "b", "only_a": False}


def test_unknown_function_is_404(client) -> None:
    with pytest.raises(ClientError) as caught:
        client.invoke(FunctionName="Nope", Payload=b"{}")
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error["Error"]["Code"] == "ResourceNotFoundException"
    assert error["Error"]["Message"] == (
        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:Nope"
    )


def test_unknown_qualifier_is_404(client) -> None:
    with pytest.raises(ClientError) as caught:
        client.invoke(FunctionName="Echo", Qualifier="7", Payload=b"{}")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_invalid_json_is_400(client) -> None:
    with pytest.raises(ClientError) as caught:
        client.invoke(FunctionName="Echo", Payload=b"{not json")
    assert caught.value.response["Error"]["Code"] == "InvalidRequestContentException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_request_over_6_mb_is_413(client) -> None:
    payload = json.dumps({"data": "x" * (6 * 1024 * 1024)}).encode()
    with pytest.raises(ClientError) as caught:
        client.invoke(FunctionName="Echo", Payload=payload)
    assert caught.value.response["Error"]["Code"] == "RequestTooLargeException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413


def test_response_over_6_mb_is_a_function_error(client) -> None:
    response, body = invoke(client, "BigResponse")
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Function.ResponseSizeTooLarge"
    response, body = invoke(client, "BigResponse", {"bytes": 100})
    assert body == "x" * 100


def test_unserialisable_result_is_a_marshal_error(client) -> None:
    response, body = invoke(client, "NotJson")
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.MarshalError"


def test_dry_run_and_event_invocations(client, tmp_path: Path) -> None:
    dry = client.invoke(FunctionName="Echo", InvocationType="DryRun", Payload=b"{}")
    assert dry["StatusCode"] == 204
    before = invoke(client, "Counter")[1]["calls"]
    accepted = client.invoke(FunctionName="Counter", InvocationType="Event", Payload=b"{}")
    assert accepted["StatusCode"] == 202
    wait_until(lambda: invoke(client, "Counter")[1]["calls"] >= before + 3)


def test_list_and_get_functions(client) -> None:
    names: list[str] = []
    for page in client.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 5}):
        names += [function["FunctionName"] for function in page["Functions"]]
    assert "Echo" in names and "env-reader" in names and len(names) == len(set(names)) == 23
    function = client.get_function(FunctionName="Echo")
    config = function["Configuration"]
    assert config["FunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:Echo"
    assert (config["Runtime"], config["Handler"], config["MemorySize"], config["Timeout"]) == (
        "python3.11",
        "app.echo",
        256,
        5,
    )
    assert config["Environment"]["Variables"]["FROM_TEMPLATE"] == "template-value"
    configuration = client.get_function_configuration(FunctionName="Layered")
    assert [layer["Arn"].rsplit(":", 2)[-2] for layer in configuration["Layers"]] == [
        "LayerA",
        "LayerB",
    ]
    assert (
        configuration["CodeSha256"]
        == client.get_function_configuration(FunctionName="Layered")["CodeSha256"]
    )


def test_stop_leaves_no_process_behind(samrun_up) -> None:
    server = samrun_up(TEMPLATE)
    client = server.lambda_client()
    pids = {invoke(client, name)[1]["pid"] for name in ("Echo", "Counter")}
    assert all(Path(f"/proc/{pid}").exists() for pid in pids)
    assert server.stop(signal.SIGINT) == 0
    wait_until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in pids), timeout=10)


def children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def function_of(pid: int) -> str | None:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    names = [e.split(b"=", 1)[1] for e in environ if e.startswith(b"AWS_LAMBDA_FUNCTION_NAME=")]
    return names[0].decode() if names else None


def test_kill_9_of_samrun_leaves_no_function_process(samrun_up) -> None:
    server = samrun_up(TEMPLATE)
    client = server.lambda_client()
    invoke(client, "Echo")

    def call_slow() -> None:
        with contextlib.suppress(OSError, http.client.HTTPException):  # samrun is killed
            invoke_http(server.lambda_endpoint, "Slow", {"seconds": 60})

    # a runtime inside its handler does not notice samrun's sockets closing
    threading.Thread(target=call_slow, daemon=True).start()
    server.wait_for(r"^Slow \| START RequestId")

    def with_slow_running() -> set[int] | None:
        pids = children(server.process.pid)  # its runtimes and spare interpreters, and theirs
        pids |= {grandchild for pid in pids for grandchild in children(pid)}
        return pids if "Slow" in {function_of(pid) for pid in pids} else None

    pids = wait_until(with_slow_running)
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait(10)
    wait_until(lambda: not any(alive(pid) for pid in pids), timeout=10)


def test_idle_instances_are_reaped(samrun_up) -> None:
    server = samrun_up(TEMPLATE, "--idle-ttl", "1")
    client = server.lambda_client()
    pid = invoke(client, "Counter")[1]["pid"]
    wait_until(lambda: not os.path.exists(f"/proc/{pid}"), timeout=15)
    fresh = invoke(client, "Counter")[1]
    assert fresh["pid"] != pid and fresh["calls"] == 1


def test_capacity_bound_queues_work_instead_of_failing(samrun_up) -> None:
    server = samrun_up(TEMPLATE, "--max-sandboxes", "2")
    client = server.lambda_client()
    with ThreadPoolExecutor(5) as pool:
        results = list(pool.map(lambda _: invoke(client, "Counter", {"sleep": 0.3})[1], range(5)))
    assert len(results) == 5
    assert len({result["pid"] for result in results}) <= 2
