"""The floor: one keep-alive HTTP exchange with a bare aiohttp + uvloop echo server.

Every benchmark that measures samrun over HTTP measures this server too, in the same run and with
the same client code, so its figures can be read as ratios (samrun p50 / floor p50) that survive a
noisy shared machine. The server runs in its own process, as samrun does.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

SERVER = """
import asyncio

import uvloop
from aiohttp import web


async def echo(request):
    return web.Response(body=await request.read(), content_type="application/json")

app = web.Application()
app.router.add_route("*", "/{tail:.*}", echo)
runner = web.AppRunner(app, access_log=None)

async def main():
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    print(f"http://127.0.0.1:{port}", flush=True)
    await asyncio.Event().wait()

uvloop.run(main())
"""


@contextmanager
def floor_server() -> Iterator[str]:
    """The echo server in a child process; yields its base URL."""
    process = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    try:
        url = process.stdout.readline().strip()
        if not url.startswith("http://"):
            raise RuntimeError("the floor echo server did not start")
        threading.Thread(target=process.stdout.read, daemon=True).start()
        yield url
    finally:
        process.terminate()
        process.wait(10)


def measure_floor(how: Callable[[str], Coroutine[Any, Any, dict[str, Any]]]) -> dict[str, Any]:
    """Runs `how(url)` against the echo server (`url` is a path to POST or GET)."""
    import uvloop

    with floor_server() as base:
        return uvloop.run(how(f"{base}/2015-03-31/functions/Noop0/invocations"))


def ratio(samrun: float, floor: float) -> float:
    return round(samrun / floor, 2) if floor else 0.0


def floor_warm() -> dict[str, float]:
    """The floor's warm p50/p99 with invoke_bench's client: for benchmarks that print one figure
    of it beside their own (async, reload, gate, docker)."""
    from bench.invoke_bench import warm_latency

    figures = measure_floor(warm_latency)
    return {"p50_ms": round(figures["p50_ms"], 3), "p99_ms": round(figures["p99_ms"], 3)}
