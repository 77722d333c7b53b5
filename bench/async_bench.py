"""Benchmark: asynchronous invocation (InvocationType Event) through the Lambda API.

- accepted/s: 202s per second from 16 concurrent keep-alive clients; each 202 means the event is
  committed to the SQLite queue (target >= 1,000/s on 2 cores), with accept latency p50/p99;
- delivered/s: events run by a no-op function per second, from the first accept until the queue
  file is empty (read-only SQLite reads of `.samrun/async-events.sqlite3`);
- queue overhead per event: the queue alone, in this process, with an invoker that returns at
  once: accept (durable insert) + run + delete, in microseconds per event.

The client shares the two cores with samrun and the function: the figures include its cost.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import uvloop

from bench.floor import floor_warm, ratio
from bench.invoke_bench import NOOP, percentile, start_server, template

EVENTS = 5000
CLIENTS = 16
QUEUE_ONLY_EVENTS = 20000


async def accept_all(endpoint: str) -> tuple[float, list[float]]:
    url = f"{endpoint}/2015-03-31/functions/Noop0/invocations"
    headers = {"X-Amz-Invocation-Type": "Event"}
    latencies: list[float] = []
    todo = iter(range(EVENTS))

    async def client(session: aiohttp.ClientSession) -> None:
        for _ in todo:
            began = time.perf_counter()
            async with session.post(url, data=b"{}", headers=headers) as response:
                await response.read()
                assert response.status == 202, response.status
            latencies.append((time.perf_counter() - began) * 1000)

    connector = aiohttp.TCPConnector(limit=CLIENTS)
    async with aiohttp.ClientSession(connector=connector) as session:
        began = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(CLIENTS)))
        return time.perf_counter() - began, latencies


def queued(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])


async def measure(endpoint: str, db: Path) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session:  # warm the function once
        url = f"{endpoint}/2015-03-31/functions/Noop0/invocations"
        async with session.post(url, data=b"{}") as response:
            await response.read()
    began = time.perf_counter()
    accept_s, latencies = await accept_all(endpoint)
    while await asyncio.to_thread(queued, db):
        await asyncio.sleep(0.02)
    deliver_s = time.perf_counter() - began
    return {
        "events": EVENTS,
        "clients": CLIENTS,
        "accepted_per_s": round(EVENTS / accept_s),
        "accept_p50_ms": round(percentile(latencies, 0.5), 3),
        "accept_p99_ms": round(percentile(latencies, 0.99), 3),
        "delivered_per_s": round(EVENTS / deliver_s),
    }


async def queue_overhead(folder: Path) -> dict[str, Any]:
    from samrun.invoke.async_queue import AsyncQueue
    from samrun.invoke.gate import ConcurrencyGate
    from samrun.invoke.models import InvokeRequest, InvokeResult
    from samrun.invoke.resolve import FunctionDirectory
    from samrun.invoke.telemetry import Telemetry
    from samrun.model import AppGraph, Code, Function, FunctionConfig

    function = Function(
        logical_id="F",
        name="F",
        arn="arn:aws:lambda:us-east-1:123456789012:function:F",
        config=FunctionConfig(runtime="python3.11", handler="a.h", code=Code(path=str(folder))),
    )

    class NullInvoker:
        directory = FunctionDirectory(AppGraph(template_path="t", functions=(function,)))
        gate = ConcurrencyGate()
        telemetry = Telemetry()

        async def run(self, target: Any, request: Any, request_id: str) -> InvokeResult:
            return InvokeResult(request_id=request_id, payload=b"null", executed_version="$LATEST")

    invoker = NullInvoker()
    queue = AsyncQueue(invoker, None, folder / "queue-only", max_inflight=64)  # type: ignore[arg-type]
    await queue.start()
    target = invoker.directory.resolve("F")
    request = InvokeRequest(function="F", payload=b'{"k": "v"}')
    began = time.perf_counter()
    await asyncio.gather(
        *(queue.accept(target, request, f"r{i}") for i in range(QUEUE_ONLY_EVENTS))
    )
    accepted = time.perf_counter() - began
    while queue.delivered < QUEUE_ONLY_EVENTS:
        await asyncio.sleep(0.005)
    total = time.perf_counter() - began
    await queue.stop()
    return {
        "events": QUEUE_ONLY_EVENTS,
        "accept_us_per_event": round(accepted / QUEUE_ONLY_EVENTS * 1e6, 1),
        "accept_run_delete_us_per_event": round(total / QUEUE_ONLY_EVENTS * 1e6, 1),
    }


def run() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "src").mkdir()
        (folder / "src" / "app.py").write_text(NOOP)
        (folder / "template.yaml").write_text(template(1))
        process, endpoint = start_server(folder)
        try:
            figures = uvloop.run(measure(endpoint, folder / ".samrun" / "async-events.sqlite3"))
        finally:
            process.terminate()
            process.wait(30)
        figures["queue_only"] = uvloop.run(queue_overhead(folder))
        figures["floor_warm"] = floor = floor_warm()
        figures["accept_p50_x_floor"] = ratio(figures["accept_p50_ms"], floor["p50_ms"])
        return figures


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
