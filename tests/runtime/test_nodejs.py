"""samrun's Node.js runtime (bootstraps/nodejs/bootstrap.js), driven through the real stack:
a SAM template -> load_graph -> App -> pool -> node process -> Runtime API -> result; each test
twice: on a freshly spawned node, and on a spare node that becomes the instance (as `samrun up`
starts them, runtime/node_spare.py)."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import pytest

from tests.runtime.sam_app import (
    FUNCTIONS,
    ISO_TIME,
    body,
    function,
    invoke,
    layer,
    run_cli,
    running,
    tail,
    write_template,
)

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs node on PATH")

BASIC = FUNCTIONS / "node_basic"


@pytest.fixture(params=[False, True], ids=["fresh", "spare"])
def spares(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def node(handler: str, code: Path = BASIC, runtime: str = "nodejs20.x", **properties: object):
    return function(handler, code, runtime, **properties)


@pytest.fixture
def basic_template(tmp_path: Path) -> Path:
    handlers = [
        "asyncEcho",
        "promise",
        "callback",
        "syncValue",
        "succeed",
        "waitsForTimer",
        "doesNotWait",
        "throws",
        "throwsString",
        "callbackError",
        "contextFail",
        "syncThrow",
        "unhandledRejection",
        "neverSettles",
        "logs",
        "pid",
        "unserializable",
        "streaming",
    ]
    resources = {name[0].upper() + name[1:]: node(f"index.{name}") for name in handlers}
    resources["Nested"] = node("index.nested.deep.fn")
    return write_template(tmp_path, resources)


# -- success --------------------------------------------------------------------------------


async def test_async_handler_gets_the_event_and_lambdas_context(
    spares: bool, basic_template: Path
) -> None:
    async with running(basic_template, spares=spares) as app:
        started = time.time() * 1000
        result = await invoke(app, "AsyncEcho", {"n": 1, "text": "héllo"})
    assert result.function_error is None
    got = body(result)
    assert got["event"] == {"n": 1, "text": "héllo"}
    assert got["functionName"] == "AsyncEcho"
    assert got["functionVersion"] == "$LATEST"
    assert got["memoryLimitInMB"] == "128"  # a string, as Lambda's runtime gives it
    assert got["invokedFunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:AsyncEcho"
    assert got["awsRequestId"] == result.request_id
    assert got["logGroupName"] == "/aws/lambda/AsyncEcho"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\]\w+", got["logStreamName"])
    assert 0 < got["remaining"] <= 10_000
    assert got["waits"] is True
    assert got["traceId"].startswith("Root=1-")
    assert got["clientContext"] == "absent"
    assert got["identity"] == "absent"
    assert time.time() * 1000 - started < 10_000


async def test_client_context_reaches_the_handler_parsed(
    spares: bool, basic_template: Path
) -> None:
    context = {"client": {"app_title": "shop"}, "custom": {"tier": "gold"}, "env": {}}
    async with running(basic_template, spares=spares) as app:
        result = await invoke(app, "AsyncEcho", {}, client_context=context)
    assert body(result)["clientContext"] == context


@pytest.mark.parametrize(
    ("name", "event", "expected"),
    [
        ("Promise", {"n": 21}, {"promised": 42}),
        ("Callback", {"n": 3}, {"called": "back", "n": 3}),
        ("Succeed", {}, {"via": "succeed"}),
        ("Nested", {}, "nested ok"),
        ("SyncValue", {}, None),  # neither a promise nor a callback: Lambda answers null
    ],
)
async def test_handler_styles(
    spares: bool, basic_template: Path, name: str, event: dict, expected: object
) -> None:
    async with running(basic_template, spares=spares) as app:
        result = await invoke(app, name, event)
    assert result.function_error is None, result.payload
    assert body(result) == expected


async def test_empty_payload_is_an_empty_event(spares: bool, basic_template: Path) -> None:
    async with running(basic_template, spares=spares) as app:
        result = await invoke(app, "AsyncEcho", raw=b"")
    assert body(result)["event"] == {}


async def test_callback_waits_for_the_event_loop_to_empty(
    spares: bool, basic_template: Path
) -> None:
    async with running(basic_template, spares=spares) as app:
        result = await invoke(app, "WaitsForTimer")
    assert body(result) == "after timer"
    lines = tail(result).splitlines()
    fired = next(i for i, line in enumerate(lines) if line.endswith("\tINFO\ttimer fired"))
    ended = next(i for i, line in enumerate(lines) if line.startswith("END RequestId:"))
    assert fired < ended  # the timer ran before the response was sent
    assert result.duration_ms >= 250


async def test_callback_does_not_wait_when_told_not_to(spares: bool, basic_template: Path) -> None:
    async with running(basic_template, spares=spares) as app:
        result = await invoke(app, "DoesNotWait")
    assert body(result) == "right away"
    assert result.duration_ms < 1500  # its 2 s timer is still pending
    assert "late timer fired" not in tail(result)


async def test_streamified_handler_is_answered_with_the_whole_stream(
    spares: bool, basic_template: Path
) -> None:
    async with running(basic_template, spares=spares) as app:
        result = await invoke(app, "Streaming", {"n": 2})
    assert result.function_error is None, result.payload
    assert result.payload == b"chunk one, chunk 2"


async def test_warm_instance_is_reused(spares: bool, basic_template: Path) -> None:
    async with running(basic_template, spares=spares) as app:
        first = await invoke(app, "Pid")
        second = await invoke(app, "Pid")
    assert body(first) == body(second)
    assert first.init_duration_ms is not None
    assert second.init_duration_ms is None


# -- handler errors --------------------------------------------------------------------------


async def test_thrown_error_has_lambdas_shape(spares: bool, basic_template: Path) -> None:
    async with running(basic_template, spares=spares) as app:
        result = await invoke(app, "Throws")
    assert result.function_error == "Unhandled"
    assert result.error_type == "ValidationError"
    got = body(result)
    assert list(got) == ["errorType", "errorMessage", "trace"]
    assert got["errorType"] == "ValidationError"
    assert got["errorMessage"] == "bad input"
    assert got["trace"][0] == "ValidationError: bad input"
    assert "node_basic/index.js" in got["trace"][1]
    logged = [line for line in tail(result).splitlines() if "\tERROR\tInvoke Error \t" in line]
    assert len(logged) == 1
    assert re.match(rf"{ISO_TIME}\t{result.request_id}\tERROR\t", logged[0])
    error = json.loads(logged[0].split("Invoke Error \t", 1)[1])
    assert error["errorType"] == "ValidationError"
    assert error["errorMessage"] == "bad input"
    assert error["stack"][0] == "ValidationError: bad input"


@pytest.mark.parametrize(
    ("name", "error_type", "message", "has_trace"),
    [
        ("ThrowsString", "string", "plain string", False),
        ("CallbackError", "TypeError", "callback failed", True),
        ("ContextFail", "string", "handled", False),
        ("SyncThrow", "TypeError", "Cannot read properties of null (reading 'boom')", True),
        ("Unserializable", "Error", "Unable to stringify response body", True),
    ],
)
async def test_other_handler_errors(
    spares: bool, basic_template: Path, name: str, error_type: str, message: str, has_trace: bool
) -> None:
    async with running(basic_template, spares=spares) as app:
        result = await invoke(app, name)
    assert result.function_error == "Unhandled"
    assert result.error_type == error_type
    got = body(result)
    assert (got["errorType"], got["errorMessage"]) == (error_type, message)
    assert bool(got["trace"]) is has_trace
    if has_trace:
        assert got["trace"][0] == f"{error_type}: {message}"


async def test_unhandled_rejection_fails_the_invocation_and_ends_the_process(
    spares: bool,
    basic_template: Path,
) -> None:
    async with running(basic_template, spares=spares) as app:
        before = await invoke(app, "UnhandledRejection", {})
        failed = await invoke(app, "UnhandledRejection", {"reject": True})
        after = await invoke(app, "UnhandledRejection", {})
    got = body(failed)
    assert failed.error_type == "Runtime.UnhandledPromiseRejection"
    assert got["errorType"] == "Runtime.UnhandledPromiseRejection"
    assert got["errorMessage"] == "Error: nobody caught me"
    assert got["trace"][0] == "Runtime.UnhandledPromiseRejection: Error: nobody caught me"
    assert "\tERROR\tUnhandled Promise Rejection \t" in tail(failed)
    # the runtime exited after reporting: the next event runs on a fresh process, not an error
    assert after.function_error is None, after.payload
    assert body(after)["pid"] != body(before)["pid"]
    assert after.init_duration_ms is not None


async def test_async_handler_that_never_settles(spares: bool, basic_template: Path) -> None:
    async with running(basic_template, spares=spares) as app:
        result = await invoke(app, "NeverSettles")
        again = await invoke(app, "Promise", {"n": 1})
    assert result.error_type == "Runtime.NodeJsExit"
    assert "a Promise that was never settled" in body(result)["errorMessage"]
    assert body(again) == {"promised": 2}


# -- init errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("handler", "code", "error_type", "message"),
    [
        (
            "missing.handler",
            "node_basic",
            "Runtime.ImportModuleError",
            "Error: Cannot find module 'missing'\nRequire stack:\n- ",
        ),
        (
            "index.nope",
            "node_basic",
            "Runtime.HandlerNotFound",
            "index.nope is undefined or not exported",
        ),
        (
            "index.notAFunction",
            "node_basic",
            "Runtime.HandlerNotFound",
            "index.notAFunction is not a function",
        ),
        ("index", "node_basic", "Runtime.MalformedHandlerName", "Bad handler"),
        (
            "../node_basic/index.asyncEcho",
            "node_basic",
            "Runtime.MalformedHandlerName",
            "'../node_basic/index.asyncEcho' is not a valid handler name. Use absolute paths when "
            "specifying root directories in handler names.",
        ),
        (
            "index.handler",
            "node_syntax",
            "Runtime.UserCodeSyntaxError",
            "SyntaxError: Unexpected token ';'",
        ),
        ("index.handler", "node_init_throw", "ConfigError", "missing setting at init"),
    ],
)
async def test_init_errors(
    spares: bool, tmp_path: Path, handler: str, code: str, error_type: str, message: str
) -> None:
    template = write_template(tmp_path, {"Broken": node(handler, FUNCTIONS / code)})
    async with running(template, spares=spares) as app:
        result = await invoke(app, "Broken")
        again = await invoke(app, "Broken")
    assert result.function_error == "Unhandled"
    assert result.error_type == error_type
    got = body(result)
    assert list(got) == ["errorType", "errorMessage", "trace"]
    assert got["errorType"] == error_type
    assert got["errorMessage"].startswith(message)
    assert got["trace"][0].startswith(f"{error_type}: {message.splitlines()[0]}")
    assert re.search(rf"{ISO_TIME}\tundefined\tERROR\tUncaught Exception \t\{{", tail(result))
    assert body(again)["errorType"] == error_type  # each cold start fails the same way


# -- logs ------------------------------------------------------------------------------------


async def test_console_lines_have_lambdas_text_format(spares: bool, basic_template: Path) -> None:
    async with running(basic_template, spares=spares) as app:
        result = await invoke(app, "Logs")
    assert body(result) == "logged"
    lines = tail(result).splitlines()
    prefix = rf"{ISO_TIME}\t{re.escape(result.request_id)}\t"
    expected = [
        rf"{prefix}INFO\thello world {{ a: 1 }}",
        rf"{prefix}INFO\tan info line",
        rf"{prefix}WARN\ta warning",
        rf"{prefix}ERROR\tError: logged error",
        rf"{prefix}DEBUG\tmulti",
    ]
    for pattern in expected:
        assert any(re.fullmatch(pattern, line) for line in lines), (pattern, lines)
    assert lines[0].startswith(f"START RequestId: {result.request_id} Version: $LATEST")
    assert lines[-1].startswith(f"REPORT RequestId: {result.request_id}\tDuration: ")


# -- modules, layers, runtimes ---------------------------------------------------------------


async def test_esm_handlers(spares: bool, tmp_path: Path) -> None:
    template = write_template(
        tmp_path,
        {
            "Mjs": node("app.handler", FUNCTIONS / "node_esm"),
            "TypeModule": node("lib/index.handler", FUNCTIONS / "node_esm_pkg"),
        },
    )
    async with running(template, spares=spares) as app:
        mjs = await invoke(app, "Mjs", {"name": "ada"})
        typed = await invoke(app, "TypeModule")
    assert body(mjs) == {
        "greeting": "hello from esm",
        "name": "ada",
        "requestId": mjs.request_id,
        "type": "undefined",
    }
    assert body(typed) == {"esm": True}


async def test_layer_node_modules_are_on_node_path(spares: bool, tmp_path: Path) -> None:
    template = write_template(
        tmp_path,
        {
            "Greeter": layer(FUNCTIONS / "node_layer"),
            "UsesLayer": node(
                "index.handler", FUNCTIONS / "node_uses_layer", Layers=[{"Ref": "Greeter"}]
            ),
        },
    )
    async with running(template, spares=spares) as app:
        result = await invoke(app, "UsesLayer", {"name": "bob"})
    assert result.function_error is None, result.payload
    got = body(result)
    assert got["message"] == "hello bob from a layer"
    assert "nodejs/node_modules" in got["nodePath"]


async def test_nodejs24_refuses_callback_handlers(spares: bool, tmp_path: Path) -> None:
    template = write_template(
        tmp_path,
        {
            "Callback": node("index.callback", runtime="nodejs24.x"),
            "Sync": node("index.syncValue", runtime="nodejs24.x"),
            "Async": node("index.promise", runtime="nodejs24.x"),
        },
    )
    async with running(template, spares=spares) as app:
        callback = await invoke(app, "Callback")
        sync = await invoke(app, "Sync")
        promise = await invoke(app, "Async", {"n": 4})
    assert callback.error_type == "Runtime.CallbackHandlerDeprecated"
    assert "removed support for callback-based function handlers" in body(callback)["errorMessage"]
    assert body(sync) == {"ignored": True}  # nodejs24.x answers a sync handler's value
    assert body(promise) == {"promised": 8}


def test_cli_invoke(basic_template: Path) -> None:
    ok = run_cli(basic_template, "Promise", {"n": 5})
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == {"promised": 10}
    failed = run_cli(basic_template, "Throws", {})
    assert failed.returncode == 1
    assert json.loads(failed.stdout)["errorType"] == "ValidationError"
    assert "Invoke Error" in failed.stderr
