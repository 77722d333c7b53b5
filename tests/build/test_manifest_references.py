"""The build key covers what a manifest refers to (a `-r` file outside the function, npm's
`file:` dependencies and `.npmrc`), and an npm `file:` dependency installs although the manifest
is built from a copy in the state folder."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path

from tests.build.conftest import samrun, tree
from tests.conftest import start_up

TEMPLATE = """Transform: AWS::Serverless-2016-10-31
Resources:
  PyFunction:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: py/, Handler: app.handler, Runtime: python3.11}
  NodeFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: node/
      Handler: app.handler
      Runtime: nodejs20.x
      Events:
        Word: {Type: HttpApi, Properties: {Path: /word, Method: GET}}
"""


def write_app(app: Path) -> None:
    for folder in ("py", "node", "shared", "shared-lib"):
        (app / folder).mkdir(parents=True)
    (app / "template.yaml").write_text(TEMPLATE)
    (app / "py" / "app.py").write_text("import humanize\n\ndef handler(e, c):\n    return 1\n")
    (app / "py" / "requirements.txt").write_text("-r ../shared/base.txt\n")
    (app / "shared" / "base.txt").write_text("humanize==4.9.0\n")
    (app / "shared-lib" / "package.json").write_text(
        json.dumps({"name": "shared-lib", "version": "1.0.0", "main": "index.js"})
    )
    (app / "shared-lib" / "index.js").write_text('module.exports = {word: "v1"};\n')
    (app / "node" / "package.json").write_text(
        json.dumps(
            {"name": "fn", "version": "1.0.0", "dependencies": {"shared-lib": "file:../shared-lib"}}
        )
    )
    (app / "node" / "app.js").write_text(
        'const lib = require("shared-lib");\n'
        "exports.handler = async () => ({statusCode: 200, body: JSON.stringify(lib)});\n"
    )
    subprocess.run(  # the lock file a developer commits (npm ci then installs from it)
        ["npm", "install", "--package-lock-only", "--offline"],
        cwd=app / "node",
        check=True,
        capture_output=True,
        timeout=120,
    )


def built(output: str, name: str) -> bool:
    return any(f"build {name} (" in line and ": built in" in line for line in output.splitlines())


def cached(output: str, name: str) -> bool:
    return any(
        f"build {name} (" in line and line.endswith(": cached") for line in output.splitlines()
    )


def test_referenced_files_join_the_build_key_and_file_dependencies_install(
    tmp_path: Path,
) -> None:
    app = tmp_path / "app"
    write_app(app)
    state = tmp_path / "state"

    def build() -> str:
        done = samrun("build", "--state-dir", str(state), cwd=app)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    first = build()
    assert built(first, "PyFunction") and built(first, "NodeFunction"), first
    second = build()
    assert cached(second, "PyFunction") and cached(second, "NodeFunction"), second

    (app / "shared" / "base.txt").write_text("humanize==4.9.0\n# reviewed\n")  # the -r file
    third = build()
    assert built(third, "PyFunction") and cached(third, "NodeFunction"), third

    (app / "shared-lib" / "index.js").write_text('module.exports = {word: "v2"};\n')
    fourth = build()
    assert cached(fourth, "PyFunction") and built(fourth, "NodeFunction"), fourth

    (app / "node" / ".npmrc").write_text("fund=false\n")
    fifth = build()
    assert built(fifth, "NodeFunction"), fifth

    before = tree(app)
    server = start_up(app / "template.yaml", state)
    try:
        with urllib.request.urlopen(f"{server.api}/word", timeout=60) as response:
            assert json.loads(response.read()) == {"word": "v2"}
    finally:
        server.stop()
    assert tree(app) == before  # the copy was installed, not the sources
    assert not (app / "node" / "node_modules").exists()
