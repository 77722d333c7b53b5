"""Benchmark: what the Extensions API (runtime/extensions.py) costs a function with no extension
(issue 26: "an instance with no extension pays nothing").

Two `samrun up` of the same no-op Python function run side by side, one as it is and one with
SAMRUN_EXTENSIONS=0 (the extension path switched off: no discovery, no hub on the invoke path);
sequential warm invocations through the Lambda API alternate between them in rounds (so load on
the shared machine falls on both alike), and the p50/p99 of each are compared.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
import uvloop

from bench.invoke_bench import invoke, launch, percentile

ROUNDS = 6
CALLS = 500
TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Noop:
    Type: AWS::Serverless::Function
    Properties: {Runtime: python3.11, Handler: app.handler, CodeUri: src/, MemorySize: 1769}
"""


async def compare(endpoints: dict[str, str]) -> dict[str, Any]:
    samples: dict[str, list[float]] = {mode: [] for mode in endpoints}
    urls = {mode: f"{url}/2015-03-31/functions/Noop/invocations" for mode, url in endpoints.items()}
    async with aiohttp.ClientSession() as session:
        for url in urls.values():
            for _ in range(50):
                await invoke(session, url)
        for round_ in range(ROUNDS):  # each goes first in every other round
            order = list(urls.items())
            for mode, url in order[:: 1 if round_ % 2 else -1]:
                samples[mode] += [await invoke(session, url) for _ in range(CALLS)]
    out: dict[str, Any] = {
        mode: {
            "p50_ms": round(percentile(data, 0.5), 3),
            "p99_ms": round(percentile(data, 0.99), 3),
        }
        for mode, data in samples.items()
    }
    out["p50_on_over_off"] = round(
        out["extensions_on"]["p50_ms"] / out["extensions_off"]["p50_ms"], 3
    )
    return out


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        processes = []
        endpoints = {}
        try:
            for mode, switch in (("extensions_on", "1"), ("extensions_off", "0")):
                folder = Path(tmp) / mode
                (folder / "src").mkdir(parents=True)
                (folder / "src" / "app.py").write_text("def handler(event, context):\n    pass\n")
                (folder / "template.yaml").write_text(TEMPLATE)
                env = {**os.environ, "SAMRUN_EXTENSIONS": switch}
                process, endpoints[mode] = launch(folder, env=env)
                processes.append(process)
            return {"calls_each": ROUNDS * CALLS, **uvloop.run(compare(endpoints))}
        finally:
            for process in processes:
                process.terminate()
                process.wait(30)


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
