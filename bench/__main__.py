"""`make bench`: run every benchmark, print its figures as JSON (recorded in bench/RESULTS.md)."""

from __future__ import annotations

import json
import platform
import sys

from bench import (
    async_bench,
    burst_bench,
    cold_bench,
    cold_breakdown,
    debug_bench,
    docker_bench,
    freeze_bench,
    gate_bench,
    idle_flood_bench,
    invoke_bench,
    lane_bench,
    plan_bench,
    reload_bench,
    smoke_bench,
    sqs_bench,
    vs_peers,
    vs_samcli,
)

BENCHMARKS = {
    "plan": plan_bench.run,
    "invoke": invoke_bench.run,
    "gate": gate_bench.run,
    "reload": reload_bench.run,
    "async": async_bench.run,
    "docker": docker_bench.run,
    "smoke": smoke_bench.run,
    "burst": burst_bench.run,
    "idle_flood": idle_flood_bench.run,
    "sqs": sqs_bench.run,
    "peers": vs_peers.run,
    "samcli": vs_samcli.run,
    "lane": lane_bench.run,
    "cold": cold_bench.run,
    "cold_breakdown": cold_breakdown.run,
    "debug": debug_bench.run,
    "freeze": freeze_bench.run,
}


def main(names: list[str]) -> None:
    print(json.dumps({"machine": f"{platform.machine()}, {platform.python_version()}"}))
    for name, run in BENCHMARKS.items():
        if not names or name in names:
            print(json.dumps({name: run()}, indent=2), flush=True)


main(sys.argv[1:])
