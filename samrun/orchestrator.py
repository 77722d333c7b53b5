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
import tempfile
from collections.abc import Coroutine, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from samrun.api import lambda_api
from samrun.api import triggers as triggers_api
from samrun.api.guard import RequestGuard
from samrun.api.lambda_api import LambdaApi
from samrun.aws.endpoint import AwsEndpoint
from samrun.aws.layers import fetch_remote_layers
from samrun.aws.provision import localise, provision
from samrun.build import BuildOptions, Progress, build_app, node_sdk_folder
from samrun.config import Config
from samrun.errors import BackendError, SamrunError
from samrun.frontdoors.server import FrontDoors
from samrun.invoke.async_queue import ASYNC_WORKERS, AsyncQueue
from samrun.invoke.control import Control
from samrun.invoke.destinations import Destinations
from samrun.invoke.gate import ConcurrencyGate
from samrun.invoke.invoker import Invoker
from samrun.invoke.models import InvokeRequest
from samrun.invoke.resolve import FunctionDirectory
from samrun.lifecycle import drain, warn_if_exposed
from samrun.listeners import FD_RESERVE, ConnectionBudget, Listener
from samrun.model import AppGraph, Function, FunctionConfig, PackageType
from samrun.observe.console import function_table, table
from samrun.observe.cost import load_prices
from samrun.observe.logs import function_output, setup_logging
from samrun.observe.not_run import not_run_document, not_run_lines
from samrun.observe.publish import Observability
from samrun.runtime.host_limits import raise_fd_limit
from samrun.runtime.launcher import HostContext, Launcher
from samrun.runtime.pool import PoolSet, SandboxCapacity
from samrun.runtime.process import ProcessBackend
from samrun.runtime.runtimes import RuntimeLocator
from samrun.runtime.sandbox import Backend
from samrun.runtime.server import LOOPBACK, RuntimeApiServer
from samrun.sources.base import Context as SourceContext
from samrun.sources.mapping_api import MappingService
from samrun.sources.pollers import Pollers
from samrun.sources.triggers import Triggers
from samrun.state_lock import holder, lock_state_dir, try_lock_state_dir, unlock_state_dir

if TYPE_CHECKING:
    from samrun.reload.diff import GraphDiff
    from samrun.reload.session import WatchSession
    from samrun.runtime.docker import DockerBackend

logger = logging.getLogger(__name__)

DRAIN_TIMEOUT_S = 5.0


def make_backend(name: str) -> Backend:
    if name == "process":
        return ProcessBackend()
    raise SamrunError(f"backend {name!r} is not available yet; use --backend process")


def make_containers(config: Config, graph: AppGraph) -> DockerBackend | None:
    """The docker backend: for every function with --backend docker, else for image functions."""
    if config.backend != "docker" and not image_functions(graph):
        return None
    from samrun.runtime.docker import DockerBackend
    from samrun.runtime.docker_engine import app_label

    return DockerBackend(
        config.engine_env,
        app=app_label(config.state_dir),
        image_map=config.image_map,
        skip_pull=config.skip_pull,
        container_host=config.container_host,
    )


def image_functions(graph: AppGraph) -> list[str]:
    return [f.name for f in graph.functions if f.config.package_type is PackageType.IMAGE]


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
        self.containers = make_containers(config, graph)
        self.not_running: dict[str, str] = {}  # function -> why it cannot run here
        self.backend: Backend = (
            self.containers
            if config.backend == "docker" and self.containers
            else make_backend(config.backend)
        )
        self.runtime_server = RuntimeApiServer(config.container_host or LOOPBACK)  # never --host
        self.build_options = build_options(config)  # watch mode rebuilds with these
        self.locator = RuntimeLocator(
            config.host_env,
            config.state_dir / "python-sdk",
            node_sdk_folder(config.state_dir, config.node_sdk_dir),
        )
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
        self.aws.lambda_endpoint = self.lambda_endpoint  # state machines' Lambda tasks
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
            config.queue_dir or config.state_dir,
            time_scale=config.time_scale,
            max_inflight=min(config.max_sandboxes, ASYNC_WORKERS),
        )
        self.events.destinations = Destinations(self.aws, self.events.accept_named)
        self.invoker.accept_event = self.events.accept
        self.observe = Observability(
            graph,
            self.aws,
            load_prices(config.price_file),
            time_scale=config.time_scale,
            publish=config.cloudwatch,
            in_flight=lambda: dict(self.gate.in_flight),
            provisioned=self._provisioned_now,
        )
        self.observe.attach(self.invoker.telemetry)
        self.control.deployer.alarms = self.observe.alarms
        # every listener's connections, below the descriptor limit (8 per sandbox: its pipes)
        self.connections = ConnectionBudget(reserve_fds=FD_RESERVE + 8 * config.max_sandboxes)
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
        self.front_doors.connections = self.connections
        self.triggers = Triggers(  # started by `up` only (serve), not by `invoke`
            self.aws,
            self.invoker.invoke,
            region=graph.region,
            account_id=graph.account_id,
            time_scale=config.time_scale,
        )
        self._api_runner: Listener | None = None  # the Lambda API's
        self._reaper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.config.state_dir.mkdir(parents=True, exist_ok=True)
        await self.connect_containers()
        await self.aws.start()
        self._host = replace(
            self._host, aws_endpoint=self.aws.url, aws_credentials=self.aws.credentials
        )
        if self.config.aws_profile:  # layers named only by ARN, from AWS itself
            self.graph = await fetch_remote_layers(self.aws, self.graph, self.config.state_dir)
            self.directory.update_graph(self.graph)
        self.aws_substitutions = await provision(self.aws, self.graph)
        self.aws.on_restart = lambda: provision(self.aws, self.graph)  # moto died: again
        if self.aws_substitutions:
            self.graph = localise(self.graph, self.aws_substitutions)
            self.directory.update_graph(self.graph)
        await self.runtime_server.start()
        await self.control.versions.freeze_graph_versions()
        await self.control.provisioned.seed_from_graph()
        await self.events.start()  # events left by a crash may run now: instances can start
        await self.observe.start()
        api = LambdaApi(self.invoker, self.control, self.state, MappingService(self.pollers)).app()
        api.router.add_get("/_samrun/metrics", self.observe.metrics_handler)
        triggers_api.add_routes(api, self.triggers.fire)
        port = self._api_socket.getsockname()[1]
        containers = [self.config.container_host] if self.config.container_host else []
        guard = RequestGuard.of(self.config.host, port, self.config.allow_origins, containers)
        api.middlewares.append(guard.middleware())
        self._api_runner = Listener(
            api, self._api_socket, budget=self.connections, reject=lambda_api.reject
        )
        await self._api_runner.start()
        await self.front_doors.start()
        self._reaper = asyncio.create_task(self._reap_idle())

    async def stop_accepting(self) -> None:
        """A graceful stop's first step: no new connection, no new async event; what is in
        flight goes on (`Invoker.drain` waits for it)."""
        await self.front_doors.stop_accepting()
        if self._api_runner:
            for site in list(self._api_runner.sites):
                await site.stop()
        self.events.stop_taking()
        self.pollers.stop_taking()  # no new batch; the batches in flight finish and are deleted

    async def stop(self) -> None:
        await self.triggers.stop()
        await self.front_doors.stop()
        await self.pollers.stop(DRAIN_TIMEOUT_S)  # batches in flight finish; the rest stays queued
        if self._reaper:
            self._reaper.cancel()
        if self._api_runner:
            await self._api_runner.stop()
        await self.events.stop(DRAIN_TIMEOUT_S)  # what is not done stays queued on disk
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(DRAIN_TIMEOUT_S):
                await self.invoker.close()
        await self.observe.stop()  # the last period, and the last log lines, are sent
        await self.pools.close()
        await self.runtime_server.stop()
        await self.backend.close()
        if self.containers is not None and self.containers is not self.backend:
            await self.containers.close()
        await self.aws.stop()

    async def connect_containers(self) -> None:
        """Reach the Docker engine; without one, image functions are named and answer an error,
        and the rest of the app runs (unless --backend docker asked for it all)."""
        if self.containers is None:
            return
        try:
            await self.containers.connect()
        except BackendError as exc:
            if self.config.backend == "docker":
                raise SamrunError(f"--backend docker: {exc}") from None
            self.containers = None
            problem = f"it needs a Docker engine: {exc}"
            self._host = replace(self._host, containers_problem=problem)
            for name in image_functions(self.graph):
                self.not_running[name] = problem
                logger.warning("%s (PackageType Image) will not run: %s", name, problem)
            return
        self._host = replace(self._host, containers=self.containers)

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
            "not_running": dict(self.not_running),
            "pools": pools,
            "concurrency": {
                "in_flight": dict(self.gate.in_flight),
                "reserved": dict(self.gate.reserved),
            },
            "target_health": self.front_doors.target_health(),
            "connections": self.connections.state(),
            "pollers": self.pollers.state(),
            "not_run": not_run_document(self.graph),
            "async": {
                "accepted": self.events.accepted,
                "delivered": self.events.delivered,
                "throttled": self.events.throttled,
                "pending": self.events.pending(),
            },
            **self.observe.state(),
            **self.triggers.state(),
        }

    def _provisioned_now(self) -> list[tuple[str, str, int, int, str]]:
        """Provisioned concurrency allocated now: (function, qualifier, instances, MB, arch)."""
        found = []
        for (function, qualifier), config in self.control.provisioned.configs.items():
            if config.allocated:
                target = self.directory.resolve(function, qualifier)
                arch = (target.config.architectures or ("x86_64",))[0]
                found.append((function, qualifier, config.allocated, target.config.memory_mb, arch))
        return found

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
            log_sink=self.observe.logs.sink if self.config.cloudwatch else None,
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
        layer_map=config.layer_map,
    )


def build_options(config: Config) -> BuildOptions:
    return BuildOptions(
        state_dir=config.state_dir,
        host_env=config.host_env,
        node_sdk_dir=config.node_sdk_dir,
        for_lambda=config.backend == "docker",  # Lambda's images: Lambda's Python and machine
    )


def build(config: Config, graph: AppGraph, progress: Progress | None = None) -> AppGraph:
    """Install what the app's functions and layers need (samrun.build), before serving."""
    return build_app(graph, build_options(config), progress or Progress())


def run_build(config: Config) -> int:
    setup_logging(sys.stdout)
    progress = Progress()
    build(config, load(config), progress=progress)
    if not progress.reported:
        logger.info("nothing to build: no requirements.txt, package.json or BuildMethod")
    return 0


def run_up(config: Config) -> int:
    setup_logging(sys.stdout)
    raise_fd_limit()  # one descriptor per caller, listener and pipe: a burst needs thousands
    lock = lock_state_dir(config.state_dir)  # one samrun per state folder, or exit 2
    try:
        graph = build(config, load(config))
        return run_loop(serve(config, graph))
    finally:
        unlock_state_dir(lock)


async def serve(config: Config, graph: AppGraph) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    app = App(config, graph)
    async with app:
        for warning in graph.warnings:
            logger.warning("%s", warning)
        for line in not_run_lines(graph):
            logger.warning("%s", line)
        await asyncio.to_thread(
            app.locator.warn_missing, (f.config.runtime for f in graph.functions)
        )
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
        await app.triggers.start(app.graph)
        if app.triggers.rows():
            print(
                table(("FUNCTION", "TRIGGER", "SOURCE", "STATUS"), app.triggers.rows()), flush=True
            )
        logger.info("%s", app.aws.describe())
        warn_if_exposed(config.host)
        watch = await start_watch(app) if config.watch else None
        logger.info("ready: Lambda API on %s (Ctrl-C to stop)", app.lambda_endpoint)
        await stop.wait()
        stop.clear()
        if watch is not None:
            await watch.stop()
        await drain(app, stop)
    return 0


async def start_watch(app: App) -> WatchSession:
    """`--watch`: reload the app when its files change (started after the app, stopped before)."""
    from samrun.reload.session import WatchSession

    session = WatchSession(app)
    await session.start()
    return session


def run_invoke(config: Config, target: str, event: bytes) -> int:
    setup_logging(sys.stderr)
    raise_fd_limit()
    with one_shot_state(config) as config:
        graph = build(config, load(config))
        return run_loop(invoke_once(config, graph, target, event))


@contextlib.contextmanager
def one_shot_state(config: Config) -> Iterator[Config]:
    """`invoke` and `trigger` hold the state folder while they run; beside an `up` that holds
    it, they run as its guests, with an async queue of their own (removed after them), so the
    events queued by the `up` are never run twice."""
    lock = try_lock_state_dir(config.state_dir)
    if lock is not None:
        try:
            yield config
        finally:
            unlock_state_dir(lock)
        return
    logger.info(
        "the state folder is in use by samrun pid %s: async events this run raises are not "
        "kept after it ends",
        holder(config.state_dir),
    )
    with tempfile.TemporaryDirectory(prefix="guest-", dir=config.state_dir) as queue_dir:
        yield replace(config, queue_dir=Path(queue_dir))


def nested_name(graph: AppGraph, target: str) -> str:
    """SAM CLI's `Child/Function` (a nested application's function) as the function's name."""
    name, sep, qualifier = target.partition(":")
    function = graph.function(name) if "/" in name else None
    return function.name + sep + qualifier if function else target


async def invoke_once(config: Config, graph: AppGraph, target: str, event: bytes) -> int:
    target = nested_name(graph, target)
    # the embedded endpoint stops with this one invocation: nothing to publish metrics to
    cloudwatch = config.cloudwatch and config.aws_endpoint is not None
    async with App(replace(config, invoke_port=0, port=0, cloudwatch=cloudwatch), graph) as app:
        await asyncio.to_thread(
            app.locator.warn_missing, (f.config.runtime for f in graph.functions)
        )
        result = await app.invoker.invoke(InvokeRequest(function=target, payload=event))
    sys.stdout.buffer.write(result.payload + b"\n")
    sys.stdout.flush()
    return 1 if result.function_error else 0


def run_trigger(config: Config, name: str) -> int:
    """`samrun trigger`: fire a schedule, or send a sample event to a trigger, once, without a
    server (as `invoke`); the response on stdout, non-zero exit on a function error."""
    setup_logging(sys.stderr)
    with one_shot_state(config) as config:
        graph = build(config, load(config))
        return run_loop(trigger_once(config, graph, name))


def run_trigger_remote(url: str, name: str) -> int:
    """`samrun trigger --url`: fire it in a running `up` (asynchronously, as the source would)."""
    import json
    import urllib.error
    import urllib.request
    from urllib.parse import quote

    request = urllib.request.Request(
        f"{url.rstrip('/')}/_samrun/triggers/{quote(name, safe='')}", data=b"", method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise SamrunError(json.loads(exc.read() or b"{}").get("message", str(exc))) from None
    except (urllib.error.URLError, OSError) as exc:
        raise SamrunError(f"no samrun up answers at {url}: {exc}") from None
    print(f"{name}: queued for {body['function']}", file=sys.stderr)
    return 0


async def trigger_once(config: Config, graph: AppGraph, name: str) -> int:
    async with App(replace(config, invoke_port=0, port=0), graph) as app:
        function, qualifier, event = app.triggers.event_for(name, app.graph)
        logger.info("%s: invoking %s with %d bytes", name, function, len(event))
        request = InvokeRequest(function=function, qualifier=qualifier, payload=event)
        result = await app.invoker.invoke(request)
    sys.stdout.buffer.write(result.payload + b"\n")
    sys.stdout.flush()
    return 1 if result.function_error else 0
