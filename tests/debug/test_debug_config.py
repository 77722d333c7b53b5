"""`samrun debug-config`: VS Code and PyCharm attach configurations that agree with the
`samrun up --debug` line printed beside them, and `--write` merging into .vscode/launch.json
without touching anything samrun did not write."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from samrun.cli import make_parser
from samrun.launch_json import merge, parse
from samrun.options import debug_options

TEMPLATE = """Transform: AWS::Serverless-2016-10-31
Resources:
  Orders:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      CodeUri: orders/
  Web:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs20.x
      Handler: app.handler
      CodeUri: web/
    Metadata:
      BuildMethod: esbuild
      BuildProperties:
        Sourcemap: true
  Billing:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: billing-fn
      Runtime: python3.12
      Handler: app.handler
      CodeUri: billing/
  Native:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: provided.al2023
      Handler: bootstrap
      CodeUri: native/
  Boxed:
    Type: AWS::Serverless::Function
    Properties:
      PackageType: Image
    Metadata:
      DockerContext: boxed/
      Dockerfile: Dockerfile
"""

FOREIGN = """{
    // the user's own: kept as they are, comments too
    "version": "0.2.0",
    "configurations": [
        {
            "name": "Run tests", // a comment inside an entry
            "type": "debugpy",
            "request": "launch",
            "module": "pytest",
        },
    ],
}
"""


def make_app(folder: Path) -> Path:
    for name, file in (
        ("orders", "app.py"), ("web", "app.ts"), ("billing", "app.py"), ("native", "bootstrap"),
    ):  # fmt: skip
        (folder / name).mkdir()
        (folder / name / file).write_text("\n")
    (folder / "boxed").mkdir()
    (folder / "boxed" / "Dockerfile").write_text(
        'FROM public.ecr.aws/lambda/python:3.12\nCOPY app.py ./\nCMD ["app.handler"]\n'
    )
    (folder / "template.yaml").write_text(TEMPLATE)
    return folder / "template.yaml"


def debug_config(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "samrun", "debug-config", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=folder,
    )


def up_line(stderr: str) -> list[str]:
    """The `samrun up ...` command printed beside the configurations, as words."""
    for line in stderr.splitlines():
        if "start the app to match: " in line:
            return shlex.split(line.split("start the app to match: ", 1)[1])
    raise AssertionError(f"no samrun up line in:\n{stderr}")


def served_debuggers(words: list[str]) -> dict[str, str]:
    """What that command line would start: function -> the address its debugger listens on,
    read by samrun's own parser (so the printed line and the server agree by construction)."""
    assert words[:2] == ["samrun", "up"]
    args = make_parser().parse_args(words[1:])
    return {name: spec.address for name, spec in debug_options(args).items()}


def by_name(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in entries}


def test_vscode_entries_match_the_printed_up_command(tmp_path: Path) -> None:
    make_app(tmp_path)
    done = debug_config(tmp_path)
    assert done.returncode == 0, done.stderr
    entries = by_name(json.loads(done.stdout)["configurations"])
    assert set(entries) == {
        "samrun: Orders (Python)",
        "samrun: Web (Node.js)",
        "samrun: billing-fn (Python)",
        "samrun: Boxed (Python)",
    }
    orders = entries["samrun: Orders (Python)"]
    assert orders["type"] == "debugpy" and orders["request"] == "attach"
    assert orders["connect"] == {"host": "127.0.0.1", "port": 5678}
    assert orders["justMyCode"] is True
    assert "pathMappings" not in orders  # the process backend runs the code where it is
    web = entries["samrun: Web (Node.js)"]
    assert (web["type"], web["request"], web["address"], web["port"]) == (
        "node", "attach", "127.0.0.1", 9229,
    )  # fmt: skip
    assert web["sourceMaps"] is True and "<node_internals>/**" in web["skipFiles"]
    assert "${workspaceFolder}/.samrun/build/**/*.(m|c|)js" in web["outFiles"]
    assert "${workspaceFolder}/.samrun/**" in web["resolveSourceMapLocations"]
    assert web["continueOnAttach"] is True  # --debug-wait holds node at its first line
    # an image function always runs in a container: its code is /var/task there
    boxed = entries["samrun: Boxed (Python)"]
    assert boxed["pathMappings"] == [
        {"localRoot": "${workspaceFolder}/boxed", "remoteRoot": "/var/task"}
    ]
    assert "Native: no attach configuration for provided.al2023" in done.stderr

    # the printed `samrun up` line starts each debugger where its entry attaches
    served = served_debuggers(up_line(done.stderr))
    assert served == {
        "Orders": "127.0.0.1:5678",
        "Web": "127.0.0.1:9229",
        "billing-fn": "127.0.0.1:5679",
        "Boxed": "127.0.0.1:5680",
    }
    for name, entry in entries.items():
        function = name.removeprefix("samrun: ").rsplit(" (", 1)[0]
        host = entry["connect"]["host"] if "connect" in entry else entry["address"]
        port = entry["connect"]["port"] if "connect" in entry else entry["port"]
        assert served[function] == f"{host}:{port}"


def test_one_function_keeps_its_port_and_port_base(tmp_path: Path) -> None:
    template = make_app(tmp_path)
    done = debug_config(tmp_path, str(template), "billing-fn")
    assert done.returncode == 0, done.stderr
    (entry,) = json.loads(done.stdout)["configurations"]
    assert entry["connect"]["port"] == 5679  # its port among all of them, not 5678
    assert served_debuggers(up_line(done.stderr)) == {"billing-fn": "127.0.0.1:5679"}

    based = debug_config(tmp_path, "--port-base", "7000")
    assert based.returncode == 0, based.stderr
    ports = [
        e.get("port") or e["connect"]["port"] for e in json.loads(based.stdout)["configurations"]
    ]
    assert ports == [7000, 7001, 7002, 7003]  # template order, whatever the language
    assert set(served_debuggers(up_line(based.stderr)).values()) == {
        f"127.0.0.1:{p}" for p in ports
    }


def test_docker_backend_maps_var_task(tmp_path: Path) -> None:
    make_app(tmp_path)
    done = debug_config(tmp_path, "Web", "--backend", "docker")
    assert done.returncode == 0, done.stderr
    (web,) = json.loads(done.stdout)["configurations"]
    assert (web["localRoot"], web["remoteRoot"]) == ("${workspaceFolder}/web", "/var/task")
    assert up_line(done.stderr)[3:5] == ["--backend", "docker"]


def test_pycharm_settings(tmp_path: Path) -> None:
    make_app(tmp_path)
    done = debug_config(tmp_path, "--ide", "pycharm", "--backend", "docker")
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "samrun up template.yaml --backend docker --debug Orders=5678 Web=9229" in text
    assert "Debug Adapter Protocol" in text and "'Python - Debugpy'" in text
    assert '"port": 5678' in text and f"{tmp_path / 'orders'} = /var/task" in text
    assert "Attach to Node.js/Chrome" in text and "Host: 127.0.0.1   Port: 9229" in text


def test_write_merges_with_the_users_launch_json(tmp_path: Path) -> None:
    make_app(tmp_path)
    launch = tmp_path / ".vscode" / "launch.json"
    launch.parent.mkdir()
    launch.write_text(FOREIGN)

    done = debug_config(tmp_path, "--write")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert f"wrote 4 configuration(s) to {launch}" in done.stderr
    first = launch.read_text()
    assert "// the user's own: kept as they are, comments too" in first
    assert '"name": "Run tests", // a comment inside an entry' in first
    names = [e["name"] for e in parse(first).value["configurations"]]
    assert names[0] == "Run tests" and len(names) == 5

    again = debug_config(tmp_path, "--write", "--port-base", "7000")  # replaces, never adds
    assert again.returncode == 0, again.stderr
    assert "replacing 4 samrun wrote before" in again.stderr
    second = parse(launch.read_text()).value["configurations"]
    assert [e["name"] for e in second] == names
    assert second[1]["connect"]["port"] == 7000
    assert "// a comment inside an entry" in launch.read_text()


def test_write_creates_launch_json_and_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    make_app(tmp_path)
    done = debug_config(tmp_path, "Orders", "--write")
    assert done.returncode == 0, done.stderr
    launch = tmp_path / ".vscode" / "launch.json"
    written = json.loads(launch.read_text())  # plain JSON when samrun starts the file
    assert [e["name"] for e in written["configurations"]] == ["samrun: Orders (Python)"]

    broken = '{\n  "configurations": [\n    {"name": "mine",, }\n  ]\n}\n'
    launch.write_text(broken)
    refused = debug_config(tmp_path, "--write")
    assert refused.returncode == 2
    assert "not valid JSON with comments (line 3 column" in refused.stderr
    assert "nothing written" in refused.stderr and "Traceback" not in refused.stderr
    assert launch.read_text() == broken


def test_bad_requests_are_refused_in_one_line(tmp_path: Path) -> None:
    make_app(tmp_path)
    for args, message in (
        (["Nope"], "debug-config Nope: no such function"),
        (["Native"], "no attach configuration for provided.al2023"),
        (["--ide", "pycharm", "--write"], "--write writes VS Code's launch.json"),
        (["--port-base", "65534"], "the ports would pass 65535"),
    ):
        done = debug_config(tmp_path, *args)
        assert done.returncode == 2, (args, done.stderr)
        assert message in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("before", "after_names"),
    [
        ("{}", ["samrun: A"]),
        ('{"configurations": []}', ["samrun: A"]),
        ('{"configurations": [\n  // only a comment\n]}', ["samrun: A"]),
        ('{"configurations": [{"name": "samrun: old"}, {"name": "x"}]}', ["x", "samrun: A"]),
        ('{"configurations": [{"name": "x"}, {"name": "samrun: old"}]}', ["x", "samrun: A"]),
        ('{"configurations": [{"name": "samrun: 1"}, {"name": "samrun: 2"}]}', ["samrun: A"]),
        ('{"configurations": [{"name": "x"},/*c*/{"name": "samrun: 1"},]}', ["x", "samrun: A"]),
    ],
)
def test_merge_keeps_foreign_entries_and_comments(before: str, after_names: list[str]) -> None:
    def ours(entry: object) -> bool:
        return isinstance(entry, dict) and entry.get("name", "").startswith("samrun: ")

    merged = merge(before, [{"name": "samrun: A"}], ours)
    assert [e["name"] for e in parse(merged).value["configurations"]] == after_names
    if "only a comment" in before:
        assert "// only a comment" in merged
