"""The commands that run an app: `up`, `invoke`, `trigger` and `build`, around `App`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Coroutine, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from samrun.aws.moto_process import MotoProcess, moto_host
from samrun.build import Progress, build_app
from samrun.config import Config
from samrun.errors import SamrunError
from samrun.invoke.models import InvokeRequest
from samrun.lifecycle import drain, warn_if_exposed
from samrun.model import AppGraph
from samrun.observe.console import function_table, table
from samrun.observe.logs import setup_logging
from samrun.observe.not_run import not_run_lines
from samrun.runtime.breakpoints import open_terminal
from samrun.runtime.host_limits import raise_fd_limit
from samrun.selection import load_selected
from samrun.state_lock import holder, lock_state_dir, try_lock_state_dir, unlock_state_dir

if TYPE_CHECKING:
    from samrun.app import App
    from samrun.reload.session import WatchSession

logger = logging.getLogger(__name__)


def run_loop(main: Coroutine[Any, Any, int]) -> int:
    """uvloop where it is installed (about twice the request rate), else asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


load = load_selected  # the app's graph, as the command line asks for it


def build(config: Config, graph: AppGraph, progress: Progress | None = None) -> AppGraph:
    """Install what the app's functions and layers need (samrun.build), before serving."""
    from samrun.app import build_options

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
    # the embedded moto server first: its start overlaps samrun's imports and the app's load
    moto = embedded_moto(config)
    try:
        graph = load(config)
        if config.cloudfront_ports:  # a NAME no distribution has: exit 2 before building
            from samrun.frontdoors.cloudfront import check_ports

            check_ports(config.cloudfront_ports, graph)
        graph = build(config, graph)
        return run_loop(serve(config, graph, moto))
    finally:
        if moto is not None and moto.returncode is None:  # the app never started
            moto.kill()
        unlock_state_dir(lock)


def embedded_moto(config: Config) -> MotoProcess | None:
    """The embedded moto server, started now, when the app uses one (no --aws-endpoint or
    --aws-profile)."""
    if config.aws_endpoint or config.aws_profile:
        return None
    return MotoProcess(moto_host(config.host), config.state_dir)


async def serve(config: Config, graph: AppGraph, moto: MotoProcess | None = None) -> int:
    from samrun.app import App, debug_lines

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    app = App(config, graph, moto)
    # the interpreters are looked up (each one run once) while the app starts, not after it,
    # and their spares start then too: the first call after `ready` finds them ready
    runtimes = [f.config.runtime for f in graph.functions]

    async def look_up_interpreters() -> None:
        await asyncio.to_thread(app.locator.warn_missing, runtimes)
        app.start_spares(runtimes)

    looked_up = asyncio.create_task(look_up_interpreters())
    app.ready.close()  # every listener answers 503 until all that `ready` promises runs
    async with app:
        for warning in graph.warnings:
            logger.warning("%s", warning)
        for line in not_run_lines(graph):
            logger.warning("%s", line)
        await looked_up
        print(function_table(graph, app.lambda_endpoint), flush=True)
        for line in debug_lines(app.debug, graph, docker=config.backend == "docker"):
            logger.info("%s", line)
        app.start_debugged()  # their debuggers listen from now on
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
        for line in app.traces.describe():
            logger.info("%s", line)
        warn_if_exposed(config.host)
        watch = await start_watch(app) if config.watch else None
        shown = f"; dashboard: {app.dashboard_url}" if app.dashboard_url else ""
        logger.info("ready: Lambda API on %s (Ctrl-C to stop)%s", app.lambda_endpoint, shown)
        app.ready.open()  # no await since the line: no request is answered before it is out
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


def run_invoke(config: Config, target: str, event: bytes, tenant_id: str | None = None) -> int:
    setup_logging(sys.stderr)
    raise_fd_limit()
    with one_shot_state(config) as config:
        graph = build(config, load(config))
        return run_loop(invoke_once(config, graph, target, event, tenant_id))


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


async def invoke_once(
    config: Config, graph: AppGraph, target: str, event: bytes, tenant_id: str | None = None
) -> int:
    from samrun.app import App, debug_lines

    target = nested_name(graph, target)
    # the embedded endpoint stops with this one invocation: nothing to publish metrics to
    cloudwatch = config.cloudwatch and config.aws_endpoint is not None
    terminal = open_terminal()  # breakpoint() without --debug: pdb on it (runtime/breakpoints.py)
    try:
        async with App(
            replace(config, invoke_port=0, port=0, cloudwatch=cloudwatch), graph, terminal=terminal
        ) as app:
            for line in debug_lines(app.debug, graph, docker=config.backend == "docker"):
                logger.info("%s", line)
            await asyncio.to_thread(
                app.locator.warn_missing, (f.config.runtime for f in graph.functions)
            )
            request = InvokeRequest(function=target, payload=event, tenant_id=tenant_id)
            result = await app.invoker.invoke(request)
    finally:
        if terminal is not None:
            os.close(terminal)
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
    from samrun.app import App

    async with App(replace(config, invoke_port=0, port=0), graph) as app:
        function, qualifier, event = app.triggers.event_for(name, app.graph)
        from samrun.sources.triggers import state_machine_of

        machine = state_machine_of(app.triggers.find(name, app.graph))
        if machine:
            return await execute_once(app, name, machine, event)
        logger.info("%s: invoking %s with %d bytes", name, function, len(event))
        request = InvokeRequest(function=function, qualifier=qualifier, payload=event)
        result = await app.invoker.invoke(request)
    sys.stdout.buffer.write(result.payload + b"\n")
    sys.stdout.flush()
    return 1 if result.function_error else 0


async def execute_once(app: App, name: str, machine: str, event: bytes) -> int:
    """`samrun trigger` of a state machine's event: one execution on the app's endpoint, waited
    for; its output on stdout, non-zero exit unless it succeeded."""
    from samrun.sources import executions

    logger.info("%s: starting state machine %s with %d bytes", name, machine, len(event))
    try:
        done = await executions.run(app.aws, machine, event)
    except Exception as exc:  # botocore's errors: the endpoint refused it
        raise SamrunError(f"StartExecution of {machine}: {exc}") from None
    if done["status"] != "SUCCEEDED":
        logger.error(
            "%s: execution %s %s: %s %s",
            name,
            done["executionArn"],
            done["status"],
            done.get("error", ""),
            done.get("cause", ""),
        )
        return 1
    sys.stdout.write(str(done.get("output", "null")) + "\n")
    sys.stdout.flush()
    return 0
