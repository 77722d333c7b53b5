"""Node.js functions under the inspector, driven as VS Code's and Chrome's Node debuggers drive
them: the Chrome DevTools Protocol over node's WebSocket (tests/debug/cdp.py), breakpoints set
by the handler file's URL, the function invoked through an API route over real HTTP; a
TypeScript breakpoint through the source map of an esbuild bundle; and `samrun invoke --debug`,
which waits for the debugger before it runs."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from samrun.runtime.debugging import free_port
from tests.debug.cdp import CdpSession, SourceMap, file_of

pytestmark = [pytest.mark.process_only, pytest.mark.slow]

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: hello/
      Handler: app.handler
      Runtime: nodejs20.x
      Timeout: 1
      Events:
        Api:
          Type: HttpApi
          Properties:
            Path: /hello
            Method: post
"""

TYPED_FUNCTION = """\
  Typed:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: typed/
      Handler: app.handler
      Runtime: nodejs20.x
      Events:
        Api:
          Type: HttpApi
          Properties:
            Path: /typed
            Method: post
    Metadata:
      BuildMethod: esbuild
"""

HELLO = """\
exports.handler = async (event) => {
  const body = JSON.parse(event.body || '{}');
  const greeting = `hello ${body.name}`; // BREAK
  return { statusCode: 200, body: JSON.stringify({ greeting, execArgv: process.execArgv }) };
};
"""

TYPED = """\
interface Answer {
  greeting: string;
  stack: string;
}

export const handler = async (event: { body?: string }) => {
  const name: string = JSON.parse(event.body || '{}').name;
  const answer: Answer = { greeting: `hi ${name}`, stack: new Error('here').stack || '' }; // BREAK
  return { statusCode: 200, body: JSON.stringify(answer) };
};
"""


def marked_line(source: str) -> int:
    """The 0-based line of `source` marked `// BREAK` (CDP's lines are 0-based)."""
    return next(i for i, line in enumerate(source.splitlines()) if line.endswith("// BREAK"))


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """Hello alone: nothing to build, so `up` is ready at once."""
    (tmp_path / "hello").mkdir()
    (tmp_path / "hello" / "app.js").write_text(HELLO)
    template = tmp_path / "template.yaml"
    template.write_text(TEMPLATE)
    return template


@pytest.fixture
def typed_app(app: Path) -> Path:
    """Hello and Typed, an esbuild function (its first build installs esbuild from npm)."""
    (app.parent / "typed").mkdir()
    (app.parent / "typed" / "app.ts").write_text(TYPED)
    app.write_text(TEMPLATE + TYPED_FUNCTION)
    return app


def post(url: str, payload: object) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=180) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def inspector_port(server: Any, function: str) -> int:
    """The port samrun picked and printed for `function`'s debugger."""
    line = server.wait_for(rf"debugging {function}: .*?127\.0\.0\.1:(\d+)", timeout=60)
    return int(line.group(1))


async def test_breakpoint_in_a_handler_behind_an_api_route(app: Path, samrun_up: Any) -> None:
    """--debug-wait: the first call starts node under --inspect-brk and waits for the debugger;
    a breakpoint set by the handler's URL before the code loads hits, the event is read on the
    paused frame, and a 1 s-timeout function held for 3 s still answers (the REPORT says 3 s)."""
    server = samrun_up(app, "--debug", "Hello", "--debug-wait")
    port = inspector_port(server, "Hello")
    handler = (app.parent / "hello" / "app.js").resolve()
    call = asyncio.create_task(asyncio.to_thread(post, f"{server.api}/hello", {"name": "cdp"}))
    session = await CdpSession.attach(port)
    try:
        await asyncio.to_thread(
            server.wait_for, rf"Debugger listening on ws://127\.0\.0\.1:{port}/"
        )
        await session.call("Runtime.enable")
        await session.call("Debugger.enable")
        breakpoint = await session.call(
            "Debugger.setBreakpointByUrl", url=handler.as_uri(), lineNumber=marked_line(HELLO)
        )
        await session.call("Runtime.runIfWaitingForDebugger")
        start = await session.next_event("Debugger.paused")  # --inspect-brk: samrun's client
        top = start["callFrames"][0]
        assert session.script(top["location"]["scriptId"])["url"].endswith("bootstrap.js")
        assert not call.done()  # the invocation waits while the debugger holds the instance
        await session.call("Debugger.resume")

        paused = await session.next_event("Debugger.paused")
        assert paused["hitBreakpoints"] == [breakpoint["breakpointId"]]
        frame = paused["callFrames"][0]
        assert frame["location"]["lineNumber"] == marked_line(HELLO)
        assert file_of(session.script(frame["location"]["scriptId"])["url"]) == handler
        name = await session.call(
            "Debugger.evaluateOnCallFrame", callFrameId=frame["callFrameId"], expression="body.name"
        )
        assert name["result"]["value"] == "cdp"
        method = await session.call("Runtime.evaluate", expression="process.argv.length")
        assert method["result"]["type"] == "number"
        await asyncio.sleep(3)  # held past the function's 1 s timeout, which is suspended
        assert not call.done()
        await session.call("Debugger.resume")

        status, body = await call
        assert status == 200, body
        assert body["greeting"] == "hello cdp"
        assert f"--inspect-brk=127.0.0.1:{port}" in body["execArgv"]  # a fresh node, no spare
        report = await asyncio.to_thread(
            server.wait_for, r"Hello \| REPORT RequestId: \S+\s+Duration: ([\d.]+) ms"
        )
        assert float(report.group(1)) >= 3000  # the real duration, not cut at the timeout
    finally:
        await session.close()


async def test_breakpoint_in_typescript_through_the_esbuild_source_map(
    typed_app: Path, samrun_up: Any
) -> None:
    """A debugged esbuild function is bundled with a source map naming the user's .ts file
    (not a copy), unminified; its instance starts with `up`, so a debugger attaches before the
    first call; a breakpoint on a TypeScript line (mapped as a debugger maps it) pauses there,
    its locals keep their names, and stack traces name the .ts file."""
    app = typed_app
    before = sorted(p.name for p in (app.parent / "typed").iterdir())
    server = samrun_up(app, "--debug", "Typed", ready_timeout=300)
    port = inspector_port(server, "Typed")
    source = (app.parent / "typed" / "app.ts").resolve()
    session = await CdpSession.attach(port)
    try:
        await session.call("Debugger.enable")
        bundle = await session.wait_script("/app.js")  # the bundle, which names its map
        assert bundle["sourceMapURL"] == "app.js.map"
        source_map = SourceMap(file_of(bundle["url"]).parent / bundle["sourceMapURL"])
        assert source in source_map.sources  # the user's file, not the build's scratch copy
        line, column = source_map.generated(source, marked_line(TYPED))
        await session.call(
            "Debugger.setBreakpointByUrl", url=bundle["url"], lineNumber=line, columnNumber=column
        )
        call = asyncio.create_task(asyncio.to_thread(post, f"{server.api}/typed", {"name": "ts"}))
        paused = await session.next_event("Debugger.paused")
        location = paused["callFrames"][0]["location"]
        assert source_map.original(location["lineNumber"], location["columnNumber"]) == (
            source,
            marked_line(TYPED),
        )
        name = await session.call(
            "Debugger.evaluateOnCallFrame",
            callFrameId=paused["callFrames"][0]["callFrameId"],
            expression="name",
        )
        assert name["result"]["value"] == "ts"
        await session.call("Debugger.resume")
        status, body = await call
        assert status == 200, body
        assert body["greeting"] == "hi ts"
        assert f"{source}:{marked_line(TYPED) + 1}:" in body["stack"]  # --enable-source-maps
    finally:
        await session.close()
    assert sorted(p.name for p in (app.parent / "typed").iterdir()) == before


async def test_invoke_debug_waits_for_the_debugger(app: Path, tmp_path: Path) -> None:
    """`samrun invoke Hello --debug=PORT`: node waits (--debug-wait is invoke's default) until a
    client attaches and lets it run; then the invocation runs to its breakpoint and answers."""
    port = free_port()
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"body": json.dumps({"name": "invoke"})}))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "samrun",
            "invoke",
            str(app),
            "Hello",
            f"--debug={port}",
            "-e",
            str(event),
            "--state-dir",
            str(tmp_path / ".samrun"),
        ],
        cwd=app.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        session = await CdpSession.attach(port, timeout=120)
        try:
            await session.call("Debugger.enable")
            await session.call(
                "Debugger.setBreakpointByUrl",
                url=(app.parent / "hello" / "app.js").resolve().as_uri(),
                lineNumber=marked_line(HELLO),
            )
            assert process.poll() is None  # nothing ran yet
            await session.call("Runtime.runIfWaitingForDebugger")
            await session.next_event("Debugger.paused")  # the break on start
            await session.call("Debugger.resume")
            paused = await session.next_event("Debugger.paused")
            assert paused["callFrames"][0]["location"]["lineNumber"] == marked_line(HELLO)
            await session.call("Debugger.resume")
            stdout, stderr = await asyncio.to_thread(process.communicate, timeout=120)
        finally:
            await session.close()
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert json.loads(json.loads(stdout)["body"])["greeting"] == "hello invoke"
    assert f"Debugger listening on ws://127.0.0.1:{port}/" in stderr


def test_a_port_in_use_fails_the_init_rather_than_run_undebugged(app: Path, tmp_path: Path) -> None:
    """node runs on without its inspector when the port is taken (even with --inspect-brk): the
    instance fails to initialise with a clear error instead, and `invoke` ends."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "samrun",
                "invoke",
                str(app),
                "Hello",
                f"--debug={port}",
                "--state-dir",
                str(tmp_path / ".samrun"),
                "-e",
                "-",
            ],
            cwd=app.parent,
            input="{}",
            capture_output=True,
            text=True,
            timeout=180,
        )
    assert done.returncode != 0
    error = json.loads(done.stdout)
    assert error["errorType"] == "Runtime.InspectorUnavailable"
    assert f"127.0.0.1:{port}" in error["errorMessage"]
    assert "Traceback" not in done.stderr


def test_sourcemap_build_property_maps_stack_traces_to_the_user_files(tmp_path: Path) -> None:
    """Without a debugger: `Sourcemap: true` writes a map that names the user's .ts file (not
    the build's scratch copy), and NODE_OPTIONS=--enable-source-maps, as on Lambda, makes stack
    traces show its lines."""
    (tmp_path / "typed").mkdir()
    (tmp_path / "typed" / "app.ts").write_text(TYPED)
    template = tmp_path / "template.yaml"
    template.write_text(
        "Transform: AWS::Serverless-2016-10-31\n"
        "Resources:\n"
        "  Mapped:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties:\n"
        "      CodeUri: typed/\n"
        "      Handler: app.handler\n"
        "      Runtime: nodejs20.x\n"
        "      Environment:\n"
        "        Variables:\n"
        "          NODE_OPTIONS: --enable-source-maps\n"
        "    Metadata:\n"
        "      BuildMethod: esbuild\n"
        "      BuildProperties:\n"
        "        Sourcemap: true\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "samrun", "invoke", str(template), "Mapped", "-e", "-"],
        cwd=tmp_path,
        input=json.dumps({"body": json.dumps({"name": "map"})}),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    body = json.loads(json.loads(done.stdout)["body"])
    source = (tmp_path / "typed" / "app.ts").resolve()
    assert f"{source}:{marked_line(TYPED) + 1}:" in body["stack"]
    assert sorted(p.name for p in (tmp_path / "typed").iterdir()) == ["app.ts"]
