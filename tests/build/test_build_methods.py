"""Metadata BuildMethod as SAM CLI runs it: a layer built for python3.12 (its packages under
python/), makefile layers and functions (`make build-LOGICALID ARTIFACTS_DIR=…`), and an esbuild
bundle of a TypeScript function with a dependency. Nothing is written into the sources."""

from __future__ import annotations

import json
from pathlib import Path

from tests.build.conftest import samrun, tree

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  PyLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: pylayer/
      CompatibleRuntimes: [python3.12]
    Metadata:
      BuildMethod: python3.12
  MakeLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: makelayer/
    Metadata:
      BuildMethod: makefile
  Layered:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: layered/
      Handler: app.handler
      Runtime: python3.12
      Layers: [!Ref PyLayer, !Ref MakeLayer]
  Made:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: made/
      Handler: app.handler
      Runtime: python3.11
    Metadata:
      BuildMethod: makefile
  NodeLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: nodelayer/
    Metadata:
      BuildMethod: nodejs20.x
  NodeLayered:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: nodelayered/
      Handler: index.handler
      Runtime: nodejs20.x
      Layers: [!Ref NodeLayer]
  Arm:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: arm/
      Handler: app.handler
      Runtime: python3.11
      Architectures: [arm64]
  Gopher:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: made/
      Handler: bootstrap
      Runtime: provided.al2023
    Metadata:
      BuildMethod: go1.x
  Bundled:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: bundled/
      Handler: app.handler
      Runtime: nodejs20.x
    Metadata:
      BuildMethod: esbuild
      BuildProperties:
        Minify: false
        Target: es2020
        EntryPoints: [app.ts]
"""
FILES = {
    "pylayer/requirements.txt": "humanize==4.9.0\n",
    "pylayer/shared.py": "def shout(text):\n    return text.upper()\n",
    "makelayer/Makefile": (
        "build-MakeLayer:\n"
        '\tmkdir -p "$(ARTIFACTS_DIR)/python"\n'
        '\techo \'VALUE = "made by make"\' > "$(ARTIFACTS_DIR)/python/madelib.py"\n'
    ),
    "layered/app.py": (
        "import humanize, madelib, shared\n"
        "def handler(event, context):\n"
        "    return {'shout': shared.shout('hi'), 'size': humanize.naturalsize(2048),\n"
        "            'made': madelib.VALUE}\n"
    ),
    "made/Makefile": (
        "build-Made:\n"
        '\tcp app.py "$(ARTIFACTS_DIR)/"\n'
        '\techo \'BUILT = "yes"\' > "$(ARTIFACTS_DIR)/generated.py"\n'
    ),
    "made/app.py": (
        "import generated\ndef handler(event, context):\n    return {'built': generated.BUILT}\n"
    ),
    "nodelayer/package.json": json.dumps({"name": "layer", "dependencies": {"ms": "2.1.3"}}),
    "nodelayered/index.js": (
        "const ms = require('ms');\n"
        "exports.handler = async () => ({ ms: ms('1h'), from: require.resolve('ms') });\n"
    ),
    "arm/requirements.txt": "humanize==4.9.0\n",
    "arm/app.py": (
        "import humanize\ndef handler(event, context):\n"
        "    return {'size': humanize.naturalsize(5000)}\n"
    ),
    "bundled/package.json": json.dumps({"name": "bundled", "dependencies": {"ms": "2.1.3"}}),
    "bundled/app.ts": (
        "import ms from 'ms';\n"
        "export const handler = async (event: { duration?: string }): Promise<object> =>\n"
        "  ({ ms: ms(event.duration ?? '1s') });\n"
    ),
}


def test_layers_makefiles_and_esbuild(tmp_path: Path) -> None:
    app = tmp_path / "app"
    for name, text in {"template.yaml": TEMPLATE, **FILES}.items():
        (app / name).parent.mkdir(parents=True, exist_ok=True)
        (app / name).write_text(text)
    before = tree(app)
    state = ["--state-dir", str(tmp_path / "state")]

    validated = samrun(
        "validate", *state, cwd=app
    )  # handlers that only the build writes are no error
    assert validated.returncode == 0, validated.stdout + validated.stderr
    built = samrun("build", *state, cwd=app)
    assert built.returncode == 0, built.stdout + built.stderr
    for line in (
        "build PyLayer (pip, python3.12): built in",
        "build MakeLayer (makefile): built in",
        "build Made (makefile, python3.11): built in",
        "build Bundled (esbuild, nodejs20.x): built in",
        "build NodeLayer (npm, nodejs20.x): built in",
        "build Arm (pip, python3.11): built in",
    ):
        assert line in built.stdout, built.stdout
    plan = samrun("plan", *state, cwd=app)  # named in plan too, not only at startup
    assert "Gopher: Metadata BuildMethod go1.x is not built by samrun" in plan.stderr
    arm_log = (tmp_path / "state" / "build" / "logs" / "function-Arm.log").read_text()
    assert "--platform" not in arm_log  # the process backend runs it natively: native wheels

    def invoke(name: str, event: str = "{}") -> object:
        (tmp_path / "event.json").write_text(event)
        result = samrun("invoke", name, "-e", str(tmp_path / "event.json"), *state, cwd=app)
        assert result.returncode == 0, result.stderr
        assert "built in" not in result.stderr  # built once, by `samrun build`
        return json.loads(result.stdout)

    assert invoke("Layered") == {"shout": "HI", "size": "2.0 kB", "made": "made by make"}
    assert invoke("Made") == {"built": "yes"}
    assert invoke("Bundled", '{"duration": "2m"}') == {"ms": 120000}
    layered = invoke("NodeLayered")
    assert isinstance(layered, dict) and layered["ms"] == 3_600_000
    assert "/nodejs/node_modules/ms/" in layered["from"]  # from the layer's /opt
    assert invoke("Arm") == {"size": "5.0 kB"}
    assert tree(app) == before
