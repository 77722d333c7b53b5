"""Benchmark: what freezing idle instances (runtime/freeze.py) costs the warm path (issue 26).

Two `samrun up` of the same no-op Python and Node.js functions run side by side, one with
freezing (the default) and one with `--no-freeze`; sequential warm invocations through the Lambda
API alternate between them in rounds (so load on the shared machine falls on both alike), and
the p50/p99 of each are compared: the target is a warm p50 within 10 % of no-freeze.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
import uvloop

from bench.invoke_bench import invoke, launch, percentile

ROUNDS = 6
CALLS = 500
FUNCTIONS = {"Py": ("python3.11", "app.handler"), "Node": ("nodejs20.x", "index.handler")}


def template() -> str:
    lines = ["Transform: AWS::Serverless-2016-10-31", "Resources:"]
    for name, (runtime, handler) in FUNCTIONS.items():
        lines += [
            f"  {name}:",
            "    Type: AWS::Serverless::Function",
            f"    Properties: {{Runtime: {runtime}, Handler: {handler}, CodeUri: src/, "
            "MemorySize: 1769}",
        ]
    return "\n".join(lines) + "\n"


async def compare(endpoints: dict[str, str]) -> dict[str, Any]:
    samples: dict[tuple[str, str], list[float]] = {}
    async with aiohttp.ClientSession() as session:
        for endpoint in endpoints.values():
            for name in FUNCTIONS:
                url = f"{endpoint}/2015-03-31/functions/{name}/invocations"
                for _ in range(50):
                    await invoke(session, url)
        for _ in range(ROUNDS):
            for mode, endpoint in endpoints.items():
                for name in FUNCTIONS:
                    url = f"{endpoint}/2015-03-31/functions/{name}/invocations"
                    taken = samples.setdefault((name, mode), [])
                    taken += [await invoke(session, url) for _ in range(CALLS)]
    out: dict[str, Any] = {}
    for name in FUNCTIONS:
        row = {}
        for mode in endpoints:
            data = samples[(name, mode)]
            row[mode] = {
                "p50_ms": round(percentile(data, 0.5), 3),
                "p99_ms": round(percentile(data, 0.99), 3),
            }
        row["p50_freeze_over_no_freeze"] = round(
            row["freeze"]["p50_ms"] / row["no_freeze"]["p50_ms"], 3
        )
        out[name] = row
    return out


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        processes = []
        endpoints = {}
        try:
            for mode, extra in (("freeze", ()), ("no_freeze", ("--no-freeze",))):
                folder = Path(tmp) / mode
                (folder / "src").mkdir(parents=True)
                (folder / "src" / "app.py").write_text("def handler(event, context):\n    pass\n")
                (folder / "src" / "index.js").write_text("exports.handler = async () => null;\n")
                (folder / "template.yaml").write_text(template())
                process, endpoints[mode] = launch(folder, *extra)
                processes.append(process)
            return {"calls_each": ROUNDS * CALLS, **uvloop.run(compare(endpoints))}
        finally:
            for process in processes:
                process.terminate()
                process.wait(30)


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
