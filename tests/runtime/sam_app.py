"""Helpers for the runtime tests: a SAM template in tmp_path, run through the real stack.

`write_template` writes the template (JSON, which is YAML); `running` loads it with
`samrun.template.load_graph` and runs it with `App`, in this process, so a test can invoke it and
read the log tail (its cold starts from spare runtimes, as `samrun up`'s, or fresh ones);
`run_cli` runs `python -m samrun invoke` as a user would.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from samrun.app import App
from samrun.config import Config
from samrun.invoke.models import InvokeRequest, InvokeResult
from samrun.template import load_graph

FUNCTIONS = Path(__file__).resolve().parent.parent / "fixtures" / "functions"
ISO_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


def function(handler: str, code: Path | str, runtime: str, **properties: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::Serverless::Function",
        "Properties": {
            "Handler": handler,
            "CodeUri": str(code),
            "Runtime": runtime,
            "Timeout": 10,
            **properties,
        },
    }


def layer(content: Path | str) -> dict[str, Any]:
    return {"Type": "AWS::Serverless::LayerVersion", "Properties": {"ContentUri": str(content)}}


def write_template(folder: Path, resources: Mapping[str, Any]) -> Path:
    template = folder / "template.yaml"
    document = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": dict(resources),
    }
    template.write_text(json.dumps(document, indent=2))
    return template


@asynccontextmanager
async def running(template: Path, *, spares: bool = False) -> AsyncIterator[App]:
    """With `spares`, cold starts come from spare runtimes, as under `samrun up`
    (runtime/spares.py), and every instance still live at the end must have come from one."""
    graph = load_graph(template)
    config = Config(
        template=template,
        invoke_port=0,
        state_dir=template.parent / ".samrun",
        host_env={"PATH": "/usr/local/bin:/usr/bin:/bin"},
    )
    async with App(config, graph) as app:
        if spares:
            app.start_spares([f.config.runtime for f in graph.functions])
        yield app
        if spares:
            origins = {o for pool in app.state()["pools"] for o in pool["started_from"]}
            assert origins <= {"spare"}, origins


async def invoke(
    app: App,
    name: str,
    event: Any = None,
    *,
    raw: bytes | None = None,
    client_context: Mapping[str, Any] | None = None,
) -> InvokeResult:
    payload = raw if raw is not None else json.dumps({} if event is None else event).encode()
    context = (
        base64.b64encode(json.dumps(client_context).encode()).decode()
        if client_context is not None
        else None
    )
    return await app.invoker.invoke(
        InvokeRequest(function=name, payload=payload, tail_logs=True, client_context=context)
    )


def body(result: InvokeResult) -> Any:
    return json.loads(result.payload)


def tail(result: InvokeResult) -> str:
    return result.log_tail.decode()


def run_cli(
    template: Path, name: str, event: Any, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "samrun",
            "invoke",
            str(template),
            name,
            "-e",
            "-",
            "--state-dir",
            str(template.parent / ".samrun-cli"),
        ],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=template.parent,
    )
