"""The composition root: `App` builds one running application from a graph and a Config.

Everything is wired together here and nowhere else, so two Apps can run in one process.
Shutdown order: stop accepting on front doors, drain in-flight invocations (bounded), stop
instances, close Runtime API listeners.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from samrun.api import lambda_api
from samrun.api import triggers as triggers_api
from samrun.api.guard import RequestGuard
from samrun.api.lambda_api import LambdaApi
from samrun.aws.endpoint import AwsEndpoint
from samrun.aws.layers import fetch_remote_layers
from samrun.aws.moto_process import MotoProcess
from samrun.aws.provision import localise, provision
from samrun.build import BuildOptions, node_sdk_folder
from samrun.config import Config
from samrun.dashboard import Dashboard, Feed, Sources
from samrun.dashboard.queues import QueueDepths
from samrun.dashboard.routes import ROOT
from samrun.durable import api as durable_api
from samrun.durable.outcomes import Outcomes
from samrun.durable.service import DurableService
from samrun.errors import BackendError, SamrunError
from samrun.frontdoors.server import FrontDoors
from samrun.iam.wiring import IamWiring
from samrun.invoke.async_queue import ASYNC_WORKERS, AsyncQueue
from samrun.invoke.control import Control
from samrun.invoke.destinations import Destinations
from samrun.invoke.gate import ConcurrencyGate
from samrun.invoke.invoker import Invoker
from samrun.invoke.resolve import FunctionDirectory
from samrun.invoke.tracing import Tracer
from samrun.listeners import FD_RESERVE, ConnectionBudget, Listener, ReadyGate
from samrun.model import AppGraph, Function, FunctionConfig, PackageType
from samrun.observe.cost import load_prices
from samrun.observe.logs import function_output
from samrun.observe.not_run import not_run_document
from samrun.observe.publish import Observability
from samrun.observe.traces import Traces
from samrun.runtime import bytecode
from samrun.runtime.debugging import DebugSpec, debuggable
from samrun.runtime.instance import Instance
from samrun.runtime.launcher import HostContext, Launcher
from samrun.runtime.pool import PoolSet, SandboxCapacity
from samrun.runtime.process import ProcessBackend
from samrun.runtime.runtimes import RuntimeLocator
from samrun.runtime.sandbox import Backend
from samrun.runtime.server import LOOPBACK, RuntimeApiServer
from samrun.runtime.vpc import VpcNetworks, endpoint_of, open_networks
from samrun.scaling.scaler import AutoScaler
from samrun.sources import executions
from samrun.sources.base import Context as SourceContext
from samrun.sources.mapping_api import MappingService
from samrun.sources.pollers import Pollers
from samrun.sources.triggers import Triggers

if TYPE_CHECKING:
    from samrun.reload.diff import GraphDiff
    from samrun.runtime.docker import DockerBackend

logger = logging.getLogger(__name__)

DRAIN_TIMEOUT_S = 5.0


def make_backend(name: str, state_dir: Path) -> Backend:
    if name == "process":
        return ProcessBackend(state_dir / "tmp")
    raise SamrunError(f"backend {name!r} is not available yet; use --backend process")


def make_containers(
    config: Config, graph: AppGraph, locator: RuntimeLocator | None = None
) -> DockerBackend | None:
    """The docker backend: for every function with --backend docker, else for image functions
    and those whose runtime this machine has no interpreter for (`locator.missing`)."""
    if config.backend != "docker" and not container_functions(graph, locator):
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


def container_functions(graph: AppGraph, locator: RuntimeLocator | None) -> list[str]:
    """The functions that run in containers on the process backend: image functions, and
    those whose runtime the machine lacks (samrun.placement left in only those an engine runs)."""
    return [
        f.name
        for f in graph.functions
        if f.config.package_type is PackageType.IMAGE
        or (locator is not None and locator.missing(f.config.runtime) is not None)
    ]


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


def debugged_functions(graph: AppGraph, asked: Mapping[str, DebugSpec]) -> dict[str, DebugSpec]:
    """`--debug`'s functions by their names in the app; a name the app lacks, or a function
    whose runtime cannot be debugged, is refused with a one-line reason."""
    found: dict[str, DebugSpec] = {}
    for name, spec in asked.items():
        function = graph.function(name)
        if function is None:
            known = ", ".join(sorted(f.name for f in graph.functions)) or "none"
            raise SamrunError(f"--debug {name}: no such function (the app's: {known})")
        problem = debuggable(function.config.runtime, spec)
        if problem is not None:
            raise SamrunError(f"--debug {name}: {problem}")
        found[function.name] = spec
    return found


def debug_lines(
    debug: Mapping[str, DebugSpec], graph: AppGraph, *, docker: bool = False
) -> list[str]:
    """What startup says of each debugged function: where to attach, and its suspended timeout;
    in a container (`docker`: --backend docker), the path mapping an IDE needs."""
    lines = []
    for name, spec in debug.items():
        function = graph.function(name)
        runtime = (function.config.runtime if function else None) or "image"
        kind = "Node.js inspector" if runtime.startswith("nodejs") else "debugger"
        waits = "; its first invocation waits for a client" if spec.wait else ""
        timeout = function.config.timeout_s if function else 0
        lines.append(
            f"debugging {name}: attach a {kind} to {spec.address}{waits}; one instance at a "
            f"time, its {timeout} s timeout suspended while it is debugged"
        )
        image = function is not None and function.config.package_type is PackageType.IMAGE
        if function is not None and (docker or image):
            from samrun.debug_config import code_folder

            folder = code_folder(function)
            mapped = f"/var/task -> {folder}" if folder else "/var/task (the image's own code)"
            lines.append(
                f"debugging {name}: its code is in a container: map {mapped} in the IDE "
                "(pathMappings; `samrun debug-config --backend docker` prints it)"
            )
    return lines


class App:
    """One running application: its pools, its invoker, and its listeners."""

    def __init__(
        self,
        config: Config,
        graph: AppGraph,
        moto: MotoProcess | None = None,
        *,
        terminal: int | None = None,
    ) -> None:
        """`moto`: the embedded moto server, when `up` started it before loading the app;
        `terminal`: `invoke`'s, where breakpoint() runs pdb (runtime/breakpoints.py)."""
        self.config = config
        self.graph = graph
        self.locator = RuntimeLocator(
            config.host_env,
            config.state_dir / "python-sdk",
            node_sdk_folder(config.state_dir, config.node_sdk_dir),
            bytecode.cache_dir(os.environ),  # the SDK compiled per Python, shared by apps
        )
        self.containers = make_containers(config, graph, self.locator)
        self.not_running: dict[str, str] = {}  # function -> why it cannot run here
        self.has_spares = False  # runtimes started ahead for cold starts (start_spares)
        self.debug = debugged_functions(graph, config.debug)  # function name -> its debugger
        self.backend: Backend = (
            self.containers
            if config.backend == "docker" and self.containers
            else make_backend(config.backend, config.state_dir)
        )
        self.runtime_server = RuntimeApiServer(config.container_host or LOOPBACK)  # never --host
        self.build_options = build_options(config)  # watch mode rebuilds with these
        self._api_socket = listen(config.host, config.invoke_port)
        self.lambda_endpoint = f"http://{config.host}:{self._api_socket.getsockname()[1]}"
        self.capacity = SandboxCapacity(config.max_sandboxes)
        self.aws = AwsEndpoint(
            url=config.aws_endpoint,
            profile=config.aws_profile,
            region=graph.region,
            host=config.host,
            state_dir=config.state_dir,
            started=moto,
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
            terminal=terminal,
            freeze=config.freeze,
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
        self.invoker.debugged = frozenset(self.debug)
        self.invoker.tracer = Tracer(config.trace_sample_rate)
        self.invoker.tracer.region, self.invoker.tracer.account_id = graph.region, graph.account_id
        self.traces = Traces(config, self.aws, config.container_host or LOOPBACK)
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
        self.durable = DurableService(self.invoker, config.state_dir, config.time_scale)
        self.invoker.start_durable = self.durable.start_execution
        self.durable.on_end = Outcomes(self.invoker, self.events.destinations)
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
        self.iam = IamWiring(config.enforce_iam, graph)  # roles, resource policies
        self.front_doors = FrontDoors(
            graph,
            self.invoker,
            host=config.host,
            port=config.port,
            alb_ports=config.alb_ports,
            disable_authorizer=config.disable_authorizer,
            url_guard=self.iam.url_guard if config.enforce_iam else None,
            permitted=self.iam.permitted if config.enforce_iam else None,
            cloudfront_ports=config.cloudfront_ports,
            cache=config.cloudfront_cache,
        )
        self.front_doors.presign = self._presign_s3
        self.front_doors.connections = self.connections
        # every listener answers 503 while it is closed: `up` closes it until it is ready
        self.ready = ReadyGate()
        self.front_doors.ready = self.ready
        self.front_doors.starter = self._start_execution
        self.triggers = Triggers(  # started by `up` only (serve), not by `invoke`
            self.aws,
            self.invoker.invoke,
            region=graph.region,
            account_id=graph.account_id,
            time_scale=config.time_scale,
            state_dir=config.state_dir,  # what is wired on an endpoint that outlives samrun
        )
        self.scaler = AutoScaler(  # provisioned concurrency auto scaling, on the schedules' clock
            graph, self.aws, self.control.provisioned, self.observe.store, self.triggers.clock
        )
        self.dashboard = self._dashboard() if config.dashboard else None
        self.dashboard_url = f"{self.lambda_endpoint}{ROOT}" if self.dashboard else None
        self._api_runner: Listener | None = None  # the Lambda API's
        self._reaper: asyncio.Task[None] | None = None
        self._debuggees: set[asyncio.Task[None]] = set()  # start_debugged's
        self.vpc: VpcNetworks | None = None  # VPC functions' namespaces (runtime/vpc.py)

    async def start(self) -> None:
        self.config.state_dir.mkdir(parents=True, exist_ok=True)
        await self.connect_containers()
        await self.traces.listen()
        self.aws.xray_daemon = self.traces.daemon.address  # traced state machines' segments
        await self.aws.start()
        await self.traces.start()  # before any instance: each gets the daemon's address
        self.invoker.tracer.publish = self.traces.publish
        self.vpc = await open_networks(
            self.graph.functions,
            self.config.vpc,
            docker=self.config.backend == "docker",
            endpoints=(
                endpoint_of(self.lambda_endpoint),
                endpoint_of(self.aws.url),
                endpoint_of(self.traces.daemon.address, "udp"),
            ),
        )
        self._host = replace(
            self._host,
            aws_endpoint=self.aws.url,
            aws_credentials=self.aws.credentials,
            xray_daemon=self.traces.daemon.address,
            vpc=self.vpc,
        )
        if self.config.aws_profile:  # layers named only by ARN, from AWS itself
            self.graph = await fetch_remote_layers(self.aws, self.graph, self.config.state_dir)
            self.directory.update_graph(self.graph)
        self.aws_substitutions = await provision(self.aws, self.graph)
        self.aws.on_restart = lambda: provision(self.aws, self.graph)  # moto died: again
        if self.aws_substitutions:
            self.graph = localise(self.graph, self.aws_substitutions)
            self.directory.update_graph(self.graph)
        await self.iam.start(self)  # --enforce-iam: roles and sessions, before any instance
        await self.runtime_server.start()
        await self.control.versions.freeze_graph_versions()
        await self.control.provisioned.seed_from_graph()
        await self.events.start()  # events left by a crash may run now: instances can start
        await self.observe.start()
        await self.scaler.start()  # after the template's provisioned concurrency is seeded
        api = LambdaApi(
            self.invoker,
            self.control,
            self.state,
            MappingService(self.pollers),
            permissions=self.iam.policies,
        ).app()
        api.router.add_get("/_samrun/metrics", self.observe.metrics_handler)
        durable_api.add_routes(api, self.durable)
        triggers_api.add_routes(api, self.triggers.fire)
        if self.dashboard is not None:
            self.dashboard.add_routes(api)
        port = self._api_socket.getsockname()[1]
        containers = [self.config.container_host] if self.config.container_host else []
        guard = RequestGuard.of(self.config.host, port, self.config.allow_origins, containers)
        api.middlewares.append(guard.middleware())
        self._api_runner = Listener(
            api,
            self._api_socket,
            budget=self.connections,
            reject=lambda_api.reject,
            gate=self.ready,
        )
        await self._api_runner.start()
        await self.durable.start(self.lambda_endpoint)  # the last run's executions resume
        await self.front_doors.start()
        self._reaper = asyncio.create_task(self._reap_idle())

    async def stop_accepting(self) -> None:
        """A graceful stop's first step: no new connection, no new async event; what is in
        flight goes on (`Invoker.drain` waits for it)."""
        if self.dashboard is not None:
            self.dashboard.close()  # open pages' live feeds end: nothing waits for them
        await self.front_doors.stop_accepting()
        if self._api_runner:
            for site in list(self._api_runner.sites):
                await site.stop()
        self.events.stop_taking()
        self.pollers.stop_taking()  # no new batch; the batches in flight finish and are deleted

    async def stop(self) -> None:
        if self.dashboard is not None:
            self.dashboard.close()
        await self.triggers.stop()
        await self.durable.stop()  # the records stay in the state folder
        await self.front_doors.stop()
        await self.pollers.stop(DRAIN_TIMEOUT_S)  # batches in flight finish; the rest stays queued
        if self._reaper:
            self._reaper.cancel()
        for task in self._debuggees:
            task.cancel()
        if self._api_runner:
            await self._api_runner.stop()
        await self.events.stop(DRAIN_TIMEOUT_S)  # what is not done stays queued on disk
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(DRAIN_TIMEOUT_S):
                await self.invoker.close()
        await self.scaler.stop()
        await self.observe.stop()  # the last period, and the last log lines, are sent
        self.invoker.tracer.publish = None
        await self.traces.stop()  # the last segments are stored and sent
        await self.pools.close()
        if self.vpc is not None:
            await self.vpc.close()
        await self.runtime_server.stop()
        await self.backend.close()
        if self.containers is not None and self.containers is not self.backend:
            await self.containers.close()
        await self.aws.stop()

    async def _presign_s3(self, method: str, bucket: str, key: str) -> str:
        """A signed URL of one object on the app's AWS endpoint, for a CloudFront S3 origin."""
        bucket = self.aws_substitutions.get(bucket, bucket)
        operation = "head_object" if method == "HEAD" else "get_object"
        client = await asyncio.to_thread(self.aws.client, "s3")
        return str(
            await asyncio.to_thread(
                client.generate_presigned_url,
                operation,
                Params={"Bucket": bucket, "Key": key},
                ExpiresIn=300,
            )
        )

    def _dashboard(self) -> Dashboard:
        """The page at /_samrun/ and its feed, told of every invocation and dead letter."""
        feed = Feed(self.observe.store.prices, self.graph.secrets)
        self.invoker.recorder = feed.record
        self.invoker.telemetry.subscribe(feed.observe)
        self.events.on_dropped = feed.dropped
        sources = Sources(
            graph=lambda: self.graph,
            state=self.state,
            invoker=self.invoker,
            events=self.events,
            metrics=self.observe.store,
            fire=self.triggers.fire,
            state_dir=self.config.state_dir,
            queue_depths=QueueDepths(self.aws, lambda: self.graph).current,
        )
        return Dashboard(sources, feed)

    async def _start_execution(self, fields: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """StartExecution for a route of a state machine's `Api` event (samrun.frontdoors)."""
        return await asyncio.to_thread(executions.start_request, self.aws, fields)

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
            for name in container_functions(self.graph, self.locator):
                self.not_running[name] = problem
                function = self.graph.function(name)
                kind = (function.config.runtime if function else None) or "PackageType Image"
                logger.warning("%s (%s) will not run: %s", name, kind, problem)
            return
        self._host = replace(self._host, containers=self.containers)

    def start_spares(self, runtimes: Iterable[str | None]) -> None:
        """Spares of each Python and Node.js runtime client among `runtimes`, ready for their
        first cold start (runtime/spares.py; the process backend's). From then on, a runtime a
        watch reload brings gets its spares too (`more_spares`)."""
        self.has_spares = True
        if isinstance(self.backend, ProcessBackend):
            for argv in self.locator.clients(runtimes):
                self.backend.prepare(argv)

    async def more_spares(self) -> None:
        """Spares of the runtimes the graph has now, when the app keeps spares (under `up`)."""
        if self.has_spares:
            runtimes = [f.config.runtime for f in self.graph.functions]
            await asyncio.to_thread(self.locator.warn_missing, runtimes)  # (runs interpreters)
            self.start_spares(runtimes)

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
                "runtime_api": runtime_api_transports(pool.live),  # "lane" or "http"
                "started_from": started_from(pool.live),  # "spare", "interpreter", "container"
            }
            for (name, version), pool in self.pools.pools.items()
        ]
        return {
            "not_running": dict(self.not_running),
            "backends": self.backends(),
            "pools": pools,
            "concurrency": {
                "in_flight": dict(self.gate.in_flight),
                "reserved": dict(self.gate.reserved),
            },
            "target_health": self.front_doors.target_health(),
            "distributions": self.front_doors.distribution_state(),  # CloudFront doors
            "connections": self.connections.state(),
            "pollers": self.pollers.state(),
            "iam": self.iam.state(),
            "vpc": self.vpc.state() if self.vpc is not None else {},  # runtime/vpc.py
            "not_run": not_run_document(self.graph),
            "durableExecutions": self.durable.summary(),
            "deployments": self.control.deployer.state(),  # aliases and canaries, now
            "async": {
                "accepted": self.events.accepted,
                "delivered": self.events.delivered,
                "throttled": self.events.throttled,
                "pending": self.events.pending(),
            },
            **self.observe.state(),
            **self.traces.state(),
            **self.triggers.state(),
            **self.scaler.state(),
        }

    def backends(self) -> dict[str, str]:
        """Where each function runs: `process`, or `docker` (--backend docker, image functions,
        runtimes this machine has no interpreter for)."""
        if self.config.backend == "docker":
            return {f.name: "docker" for f in self.graph.functions}
        boxed = set(container_functions(self.graph, self.locator))
        return {f.name: "docker" if f.name in boxed else "process" for f in self.graph.functions}

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

        diff = await apply.replace_graph(self, graph)
        if diff.functions.added or diff.functions.changed:  # maybe a runtime new to the app
            await self.more_spares()
        return diff

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
            emit=self.observe.tap(function.name, function_output(function.name)),
            log_sink=self.observe.logs.sink if self.config.cloudwatch else None,
            debug=self.debug.get(function.name),
        )

    def start_debugged(self) -> None:
        """`up`: each debugged function's instance starts now, so its debugger listens before
        the first call and breakpoints are set ahead of it (with --debug-wait, its init phase
        waits for the client; calls wait for it, runtime/pool.py)."""
        for name in self.debug:
            function = self.graph.function(name)
            if function is None or name in self.not_running:
                continue
            pool = self.pools.pool(function, "$LATEST", function.config)
            task = asyncio.create_task(pool.start_debuggee())
            self._debuggees.add(task)
            task.add_done_callback(self._debuggees.discard)

    async def _reap_idle(self) -> None:
        interval = max(0.5, min(30.0, self.config.idle_ttl_s / 2))
        while True:
            await asyncio.sleep(interval)
            await self.pools.reap()


def runtime_api_transports(instances: Iterable[Instance]) -> dict[str, int]:
    """Live instances by how their runtime last asked for an event (runtime/lane.py)."""
    return dict(Counter(i.session.transport for i in instances if i.session.transport))


def started_from(instances: Iterable[Instance]) -> dict[str, int]:
    """Live process instances by what became them: a spare interpreter or a fresh one."""
    return dict(Counter(getattr(i.sandbox, "started_from", "container") for i in instances))


def build_options(config: Config) -> BuildOptions:
    return BuildOptions(
        state_dir=config.state_dir,
        host_env=config.host_env,
        node_sdk_dir=config.node_sdk_dir,
        for_lambda=config.backend == "docker",  # Lambda's images: Lambda's Python and machine
        debugged=frozenset(config.debug),  # esbuild bundles them with source maps, unminified
    )
