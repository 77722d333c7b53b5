"""Benchmark: what VpcConfig costs a cold start on the process backend (issue 27), as root.

One `samrun up` of 2*N fresh no-op Python 3.11 functions, half with VpcConfig (a private subnet,
so each runs in a network namespace of its own, made at startup), half without; their first
calls alternate through the Lambda API and the medians are compared. Run with SAMRUN_SPARES=0
(a fresh interpreter per instance on both sides: the namespace's own cost, one setns and the
Runtime API mirror) and with spares (the default: a VPC function starts a fresh interpreter,
as a spare already runs on the host network). `python -m bench.vpc_bench`.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
import uvloop

from bench.cold_bench import NOOP_PY, first_call, start_up, stop, summary

FUNCTIONS = 15


def template(functions: int) -> str:
    lines = ["Transform: AWS::Serverless-2016-10-31", "Resources:"]
    for i in range(functions):
        for name, vpc in (
            ("Plain", ""),
            ("Vpc", "      VpcConfig: {SubnetIds: [subnet-0private]}"),
        ):
            lines += [
                f"  {name}{i}:",
                "    Type: AWS::Serverless::Function",
                "    Properties:",
                "      Runtime: python3.11",
                "      Handler: app.handler",
                "      CodeUri: py/",
                "      MemorySize: 1769",
                *([vpc] if vpc else []),
            ]
    return "\n".join(lines) + "\n"


def measure(spares: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "py").mkdir()
        (folder / "py" / "app.py").write_text(NOOP_PY)
        (folder / "template.yaml").write_text(template(FUNCTIONS))
        env = {**os.environ, "SAMRUN_SPARES": "1" if spares else "0"}
        process, endpoint, _ = start_up(folder, env=env)
        try:

            async def run() -> dict[str, list[float]]:
                taken: dict[str, list[float]] = {"plain": [], "vpc": []}
                async with aiohttp.ClientSession() as session:
                    for i in range(FUNCTIONS):
                        order = (("plain", "Plain"), ("vpc", "Vpc"))
                        for kind, name in order if i % 2 else order[::-1]:
                            taken[kind].append(await first_call(session, endpoint, f"{name}{i}"))
                return taken

            samples = uvloop.run(run())
        finally:
            stop(process)
    plain, vpc = summary(samples["plain"]), summary(samples["vpc"])
    return {
        "plain_ms": plain,
        "vpc_ms": vpc,
        "p50_vpc_minus_plain_ms": round(vpc["p50_ms"] - plain["p50_ms"], 2),
    }


if __name__ == "__main__":
    print(json.dumps({"spares_off": measure(False), "spares_on": measure(True)}, indent=2))
