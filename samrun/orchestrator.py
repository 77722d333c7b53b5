"""Realise an app graph: the composition root (`App`), and the `up` and `invoke` commands.

Everything is wired together here and nowhere else, so two Apps can run in one process.
Shutdown order: stop accepting on front doors, drain in-flight invocations (bounded), stop
instances, close Runtime API listeners.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import sys
from collections.abc import Coroutine, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from aiohttp import web

from samrun.api.lambda_api import LambdaApi
from samrun.aws.endpoint import AwsEndpoint
from samrun.aws.provision import localise, provision
from samrun.config import Config
from samrun.errors import SamrunError
from samrun.frontdoors.server import FrontDoors
from samrun.invoke.async_queue import ASYNC_WORKERS, AsyncQueue
from samrun.invoke.control import Control
from samrun.invoke.destinations import Destinations
from samrun.invoke.gate import ConcurrencyGate
from samrun.invoke.invoker import Invoker
from samrun.invoke.models import InvokeRequest
from samrun.invoke.resolve import FunctionDirectory
from samrun.model import AppGraph, Function, FunctionConfig
from samrun.observe.console import function_table, table
from samrun.observe.logs import function_output, setup_logging
from samrun.runtime.launcher import HostContext, Launcher
from samrun.runtime.pool import PoolSet, SandboxCapacity
from samrun.runtime.process import ProcessBackend
from samrun.runtime.runtimes import RuntimeLocator
from samrun.runtime.sandbox import Backend
from samrun.runtime.server import RuntimeApiServer
from samrun.sources.base import Context as SourceContext
from samrun.sources.mapping_api import MappingService
from samrun.sources.pollers import Pollers

if TYPE_CHECKING:
    from samrun.reload.diff import GraphDiff
    from samrun.reload.session import WatchSession

logger = logging.getLogger(__name__)

DRAIN_TIMEOUT_S = 5.0


def make_backend(name: str) -> Backend:
    if name == "process":
        return ProcessBackend()
    raise SamrunError(f"backend {name!r} is not available yet; use --backend process")


def listen(host: str, port: int) -> socket.socket:
    """Bind now, so port 0 gives a real port to announce, and a busy port fails early."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SamrunError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(512)
    return sock


class App:
    """One running application: its pools, its invoker, and its listeners."""

    def __init__(self, config: Config, graph: AppGraph) -> None:
        self.config = config
        self.graph = graph
        self.backend = make_backend(config.backend)
        self.runtime_server = RuntimeApiServer(config.host)
        self.locator = RuntimeLocator(config.host_env, config.state_dir / "python-sdk")
        self._api_socket = listen(config.host, config.invoke_port)
        self.lambda_endpoint = f"http://{config.host}:{self._api_socket.getsockname()[1]}"
        self.capacity = SandboxCapacity(config.max_sandboxes)
        self.aws = AwsEndpoint(
            url=config.aws_endpoint,
            profile=config.aws_profile,
            region=graph.region,
            host=config.host,
            state_dir=config.state_dir,
        )
        self.aws_substitutions: dict[str, str] = {}  # template value -> real one (provision)
        self._host = HostContext(
            backend=self.backend,
            server=self.runtime_server,
            locator=self.locator,
            state_dir=config.state_dir,
            region=graph.region,
            lambda_endpoint=self.lambda_endpoint,
            host_env=config.host_env,
        )
        self.pools = PoolSet(
            self.capacity,
            lambda f, v, c: self._launcher(self._host, f, v, c),
            idle_ttl_s=config.idle_ttl_s,
            init_timeout_s=config.init_timeout_s,
        )
        self.directory = FunctionDirectory(graph)
        self.gate = ConcurrencyGate(
            config.account_concurrency, config.burst_concurrency, config.time_scale
        )
        self.gate.seed({f.name: f.reserved_concurrency for f in graph.functions})
        self.invoker = Invoker(self.directory, self.pools, self.gate)
        self.control = Control.create(self.invoker, config.state_dir, config.time_scale)
        self.events = AsyncQueue(
            self.invoker,
            None,
            config.state_dir,
            time_scale=config.time_scale,
            max_inflight=min(config.max_sandboxes, ASYNC_WORKERS),
        )
        self.events.destinations = Destinations(self.aws, self.events.accept_named)
        self.invoker.accept_event = self.events.accept
        self.pollers = Pollers(
            SourceContext(
                invoker=self.invoker,
                aws=self.aws,
                destinations=self.events.destinations,
                state_dir=config.state_dir,
                region=graph.region,
                max_concurrency=config.max_sandboxes,
                time_scale=config.time_scale,
            )
        )
        self.front_doors = FrontDoors(
            graph, self.invoker, host=config.host, port=config.port, alb_ports=config.alb_ports
        )
        self._api_runner: web.AppRunner | None = None
        self._reaper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.config.state_dir.mkdir(parents=True, exist_ok=True)
        await self.aws.start()
        self._host = replace(
            self._host, aws_endpoint=self.aws.url, aws_credentials=self.aws.credentials
        )
        self.aws_substitutions = await provision(self.aws, self.graph)
        if self.aws_substitutions:
            self.graph = localise(self.graph, self.aws_substitutions)
            self.directory.update_graph(self.graph)
        await self.runtime_server.start()
        await self.control.versions.freeze_graph_versions()
        await self.control.provisioned.seed_from_graph()
        await self.events.start()  # events left by a crash may run now: instances can start
        self._api_runner = web.AppRunner(
            LambdaApi(self.invoker, self.control, self.state, MappingService(self.pollers)).app(),
            access_log=None,
            handle_signals=False,
            shutdown_timeout=1,
        )
        await self._api_runner.setup()
        await web.SockSite(self._api_runner, self._api_socket).start()
        await self.front_doors.start()
        self._reaper = asyncio.create_task(self._reap_idle())

    async def stop(self) -> None:
        await self.front_doors.stop()
        await self.pollers.stop(DRAIN_TIMEOUT_S)  # batches in flight finish; the rest stays queued
        if self._reaper:
            self._reaper.cancel()
        if self._api_runner:
            await self._api_runner.cleanup()
        await self.events.stop(DRAIN_TIMEOUT_S)  # what is not done stays queued on disk
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(DRAIN_TIMEOUT_S):
                await self.invoker.close()
        await self.pools.close()
        await self.runtime_server.stop()
        await self.backend.close()
        await self.aws.stop()

    def state(self) -> dict[str, object]:
        """What `GET /_samrun/state` shows: pools, concurrency in flight, target health."""
        pools = [
            {
                "function": name,
                "version": version,
                "idle": len(pool.idle),
                "busy": len(pool.busy),
                "provisioned": len(pool.provisioned),
                "cold_starts": pool.cold_starts,
            }
            for (name, version), pool in self.pools.pools.items()
        ]
        return {
            "pools": pools,
            "concurrency": {
                "in_flight": dict(self.gate.in_flight),
                "reserved": dict(self.gate.reserved),
            },
            "target_health": self.front_doors.target_health(),
            "pollers": self.pollers.state(),
            "async": {
                "accepted": self.events.accepted,
                "delivered": self.events.delivered,
                "throttled": self.events.throttled,
                "pending": self.events.pending(),
            },
        }

    async def __aenter__(self) -> App:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def replace_graph(self, graph: AppGraph) -> GraphDiff:
        """Hot reload: serve `graph`, reconciling only what changed (samrun.reload.apply)."""
        from samrun.reload import apply

        return await apply.replace_graph(self, graph)

    def reload_code(self, function_names: Iterable[str]) -> list[str]:
        """Hot reload: new instances, with the code on disk, for these functions' $LATEST."""
        from samrun.reload import apply

        return apply.reload_code(self, function_names)

    def _launcher(
        self, host: HostContext, function: Function, version: str, config: FunctionConfig
    ) -> Launcher:
        overrides = {
            **self.config.env_vars.get("Parameters", {}),
            **self.config.env_vars.get(function.logical_id, {}),
            **self.config.env_vars.get(function.name, {}),
        }
        declared = {k: v for k, v in overrides.items() if k in config.environment}
        return Launcher(
            host,
            function_name=function.name,
            version=version,
            config=config,
            env_overrides=declared,
            emit=function_output(function.name),
        )

    async def _reap_idle(self) -> None:
        interval = max(0.5, min(30.0, self.config.idle_ttl_s / 2))
        while True:
            await asyncio.sleep(interval)
            await self.pools.reap()


def run_loop(main: Coroutine[Any, Any, int]) -> int:
    """uvloop where it is installed (about twice the request rate), else asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def load(config: Config) -> AppGraph:
    from samrun.template import load_graph

    return load_graph(
        config.template,
        parameter_overrides=config.parameter_overrides,
        region=config.region,
        account_id=config.account_id,
        cache_dir=config.state_dir / "cache",
    )


def run_up(config: Config) -> int:
    setup_logging(sys.stdout)
    graph = load(config)
    return run_loop(serve(config, graph))


async def serve(config: Config, graph: AppGraph) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    app = App(config, graph)
    async with app:
        for warning in graph.warnings:
            logger.warning("%s", warning)
        print(function_table(graph, app.lambda_endpoint), flush=True)
        if app.front_doors.rows():
            print(table(("METHOD", "PATH", "FUNCTION", "URL"), app.front_doors.rows()), flush=True)
        await app.pollers.start(app.graph)  # `up` polls; a one-shot `invoke` does not
        if app.pollers.rows():
            rows = app.pollers.rows()
            print(table(("FUNCTION", "SOURCE", "TYPE", "BATCH", "STATE"), rows), flush=True)
        for warning in app.pollers.warnings():
            logger.warning("%s", warning)
        for line in app.front_doors.ready_lines():
            logger.info("%s", line)
        logger.info("%s", app.aws.describe())
        watch = await start_watch(app) if config.watch else None
        logger.info("ready: Lambda API on %s (Ctrl-C to stop)", app.lambda_endpoint)
        await stop.wait()
        logger.info("stopping")
        if watch is not None:
            await watch.stop()
    return 0


async def start_watch(app: App) -> WatchSession:
    """`--watch`: reload the app when its files change (started after the app, stopped before)."""
    from samrun.reload.session import WatchSession

    session = WatchSession(app)
    await session.start()
    return session


def run_invoke(config: Config, target: str, event: bytes) -> int:
    setup_logging(sys.stderr)
    graph = load(config)
    return run_loop(invoke_once(config, graph, target, event))


async def invoke_once(config: Config, graph: AppGraph, target: str, event: bytes) -> int:
    async with App(replace(config, invoke_port=0, port=0), graph) as app:
        result = await app.invoker.invoke(InvokeRequest(function=target, payload=event))
    sys.stdout.buffer.write(result.payload + b"\n")
    sys.stdout.flush()
    return 1 if result.function_error else 0
