"""`samrun up --watch` as users run it: real file edits while clients keep invoking."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import SamrunProcess
from tests.watch.app import (
    HANDLER,
    Clients,
    set_tag,
    template,
    wait_for_count,
    wait_for_reply,
    write_app,
)

RELOADED = re.compile(r"samrun: reloaded \((.*)\) in \d+ ms")
LOCATED = r"{path}:\d+:\d+: \[{rule}\]"


@pytest.fixture
def app(tmp_path: Path) -> Path:
    return write_app(tmp_path / "app")


def reload_lines(server: SamrunProcess, start: int = 0) -> list[str]:
    return [line for line in server.lines[start:] if RELOADED.search(line)]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def invoke(server: SamrunProcess, name: str) -> tuple[int, str]:
    request = urllib.request.Request(
        f"{server.lambda_endpoint}/2015-03-31/functions/{name}/invocations", data=b"{}"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read()).get("body", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("x-amzn-ErrorType", "")


def assert_all_new_after(replies: list, first_new: float, tag: str) -> None:
    failed = [r for r in replies if r.error]
    assert not failed, f"{len(failed)} requests failed, first: {failed[0]}"
    stale = [r for r in replies if r.sent > first_new and r.body != tag]
    assert not stale, f"{len(stale)} replies after the first {tag!r} were old: {stale[:3]}"


def test_code_edit_reloads_with_nothing_dropped(app: Path, samrun_up) -> None:
    server = samrun_up(app, "--watch")
    clients = Clients(server.lambda_client(), server.api).start()
    try:
        wait_for_reply(clients, "v1")
        for n in (2, 3):  # two edits in a row: each one reloads
            mark = len(server.lines)
            set_tag(app.parent, f"v{n}")
            first = wait_for_reply(clients, f"v{n}")
            wait_for_count(clients, first.received, 20)
            server.wait_for(r"samrun: reloaded \(code: Hello\) in \d+ ms", start=mark)
    finally:
        replies = clients.stop()
    assert_all_new_after(replies, first.received, "v3")
    assert len(replies) > 80


def test_template_adds_and_removes_a_function_and_route(app: Path, samrun_up) -> None:
    server = samrun_up(app, "--watch")
    api = server.api
    assert get(f"{api}/bye")[0] == 404
    clients = Clients(server.lambda_client(), api).start()
    try:
        wait_for_reply(clients, "v1")
        app.write_text(template(("Hello", "/hello"), ("Bye", "/bye")))
        server.wait_for(r"reloaded \(template: functions \+Bye; routes \+GET /bye\)")
        assert get(f"{api}/bye") == (200, "v1")
        assert invoke(server, "Bye") == (200, "v1")
        assert server.api == api  # the port stays

        app.write_text(template(("Hello", "/hello")))
        server.wait_for(r"reloaded \(template: functions -Bye; routes -GET /bye\)")
        assert get(f"{api}/bye")[0] == 404
        assert invoke(server, "Bye") == (404, "ResourceNotFoundException")
        wait_for_count(clients, time.monotonic(), 5)
    finally:
        replies = clients.stop()
    assert not [r for r in replies if r.error], "Hello failed while the template changed"
    assert {r.body for r in replies} == {"v1"}


def test_invalid_edits_keep_the_last_good_app(app: Path, samrun_up) -> None:
    server = samrun_up(app, "--watch")
    code = app.parent / "src" / "app.py"
    assert invoke(server, "Hello") == (200, "v1")

    good = app.read_text()
    mark = len(server.lines)
    app.write_text(good + "  Broken: [\n")
    error = server.wait_for(LOCATED.format(path=re.escape(str(app)), rule="yaml"), start=mark)
    assert invoke(server, "Hello") == (200, "v1")
    assert get(f"{server.api}/hello") == (200, "v1")

    code.write_text("def handler(event, context)\n    return 1\n")  # the template still fails
    located = LOCATED.format(path=re.escape(str(code)), rule="syntax")
    server.wait_for(located, start=mark)
    assert invoke(server, "Hello") == (200, "v1")

    app.write_text(good.replace("Handler: app.handler", "Handler: nowhere.handler"))
    server.wait_for(r"template\.yaml:\d+:\d+: \[samrun-handler\]", start=mark)
    assert invoke(server, "Hello") == (200, "v1")
    assert [line for line in server.lines[mark:] if error.group(0) in line] == [error.string]
    assert not reload_lines(server, mark)

    app.write_text(good)
    code.write_text(HANDLER.format(tag="fixed"))
    server.wait_for(r"reloaded \(template: no change; code: Hello\)", start=mark)
    assert invoke(server, "Hello") == (200, "fixed")
    assert len([line for line in server.lines[mark:] if "[syntax]" in line]) == 1


def test_a_burst_of_saves_is_one_reload(app: Path, samrun_up) -> None:
    server = samrun_up(app, "--watch")
    assert invoke(server, "Hello") == (200, "v1")
    mark = len(server.lines)
    for n in range(50):
        set_tag(app.parent, f"burst{n}")
        time.sleep(0.001)  # an editor's autosave, or a formatter rewriting the file
    server.wait_for(r"reloaded \(code: Hello\)", start=mark)
    assert invoke(server, "Hello") == (200, "burst49")
    # A later template edit is a reload of its own: anything the burst still had pending would
    # have printed before it, or joined it and named the code.
    app.write_text(app.read_text() + "Outputs: {}\n")
    sentinel = server.wait_for(r"reloaded \(template: no change\)", start=mark)
    lines = reload_lines(server, mark)
    assert lines == [lines[0], sentinel.string], lines


LAYERED = """Transform: AWS::Serverless-2016-10-31
Resources:
  Shared:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: layer/
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: src/
      Layers: [!Ref Shared]
      AutoPublishAlias: live
      DeploymentPreference:
        Type: AllAtOnce
  Other:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: src/
"""
USES_LAYER = """import shared

def handler(event, context):
    return {"body": shared.TAG}
"""


def test_layer_edit_reloads_its_users_and_watch_publish_moves_the_alias(
    tmp_path: Path, samrun_up
) -> None:
    folder = tmp_path / "app"
    (folder / "src").mkdir(parents=True)
    (folder / "layer" / "python").mkdir(parents=True)
    (folder / "src" / "app.py").write_text(USES_LAYER)
    (folder / "layer" / "python" / "shared.py").write_text('TAG = "one"\n')
    (folder / "template.yaml").write_text(LAYERED)
    server = samrun_up(folder / "template.yaml", "--watch", "--watch-publish")
    assert invoke(server, "Hello") == (200, "one")
    assert invoke(server, "Hello:live") == (200, "one")
    mark = len(server.lines)

    (folder / "layer" / "python" / "shared.py").write_text('TAG = "two"\n')
    server.wait_for(r"reloaded \(code: Hello; layer: Shared\)", start=mark)  # not Other
    assert invoke(server, "Hello") == (200, "two")
    server.wait_for(r"deployment \S+ of Hello:live: succeeded", start=mark)
    assert invoke(server, "Hello:live") == (200, "two")
    assert invoke(server, "Hello:1") == (200, "one")  # a published version never changes
    assert invoke(server, "Hello:2") == (200, "two")


def test_breaking_one_function_in_the_template_stops_only_it(app: Path, samrun_up) -> None:
    app.write_text(template(("Hello", "/hello"), ("Bye", "/bye")))
    server = samrun_up(app, "--watch")
    assert invoke(server, "Bye") == (200, "v1")
    good = app.read_text()
    broken = good.replace(
        "      CodeUri: src/\n      Events:\n        Get:\n          Type: HttpApi\n"
        "          Properties:\n            Path: /bye",
        "      CodeUri: src/\n      Description: !GetAtt Nowhere.Arn\n      Events:\n"
        "        Get:\n          Type: HttpApi\n          Properties:\n            Path: /bye",
    )
    assert broken != good
    mark = len(server.lines)
    app.write_text(broken)
    server.wait_for(r"reloaded \(template: functions -Bye; routes -GET /bye\)", start=mark)
    assert re.search(
        rf"not run: function Bye \(AWS::Serverless::Function\): {re.escape(str(app))}:\d+:\d+: "
        "Fn::GetAtt of 'Nowhere'",
        "\n".join(server.lines[mark:]),
    )
    assert invoke(server, "Bye") == (404, "ResourceNotFoundException")
    assert invoke(server, "Hello") == (200, "v1")
    assert get(f"{server.api}/hello") == (200, "v1")

    mark = len(server.lines)
    app.write_text(good)  # fixed: it is served again
    server.wait_for(r"reloaded \(template: functions \+Bye; routes \+GET /bye\)", start=mark)
    assert invoke(server, "Bye") == (200, "v1")
    assert get(f"{server.api}/bye") == (200, "v1")
