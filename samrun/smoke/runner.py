"""`samrun smoke`: deploy the app in this process on free ports, check it, tear it down.

Exit 0 when every check passes, 1 when one fails, 2 when the template (or the checks file) is
invalid. The checks every app gets: the template validates (cfn-lint and samrun's own checks,
run while the app starts), every resource is provisioned on the AWS endpoint, and every function
initialises: one instance of each runs its init phase, with no invocation (as provisioned
concurrency initialises an instance), so the handler module is imported, and its top-level code
runs, but no handler is called; that instance then serves the checks that follow.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from samrun.app import App
from samrun.config import Config
from samrun.errors import BuildFailed, SamrunError
from samrun.model import AppGraph, Function, NotRun, Resource
from samrun.observe.logs import FUNCTION_LOGGER, ConsoleFormatter, ConsoleHandler
from samrun.observe.not_run import located, not_run_lines
from samrun.orchestrator import build, load, one_shot_state, run_loop
from samrun.runtime.host_limits import raise_fd_limit
from samrun.smoke.checks import Check, load_checks
from samrun.smoke.report import Report, Result
from samrun.smoke.steps import Outcome, Runner, Witness

logger = logging.getLogger(__name__)

INIT_AT_ONCE = 4  # functions initialised at once (each a process start)


class _Capture(logging.Handler):
    """Function output lines, kept for the log tail of a failed check."""

    def __init__(self, witness: Witness) -> None:
        super().__init__(logging.INFO)
        self.witness = witness

    def emit(self, record: logging.LogRecord) -> None:
        self.witness.line(record.name[len(FUNCTION_LOGGER) + 1 :], record.getMessage())


def setup(witness: Witness) -> None:
    """samrun's own warnings to stderr; function output captured, shown only on failure."""
    console = ConsoleHandler(sys.stderr)
    console.setFormatter(ConsoleFormatter())
    console.setLevel(logging.WARNING)
    root = logging.getLogger("samrun")
    root.handlers[:] = [console]
    root.setLevel(logging.INFO)
    root.propagate = False
    functions = logging.getLogger(FUNCTION_LOGGER)
    functions.handlers[:] = [_Capture(witness)]
    functions.propagate = False
    for noisy in ("aiohttp.access", "aiohttp.server", "aiohttp.web"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def run_smoke(
    config: Config, checks_file: Path | None, junit: Path | None, timeout_s: float
) -> int:
    began = time.monotonic()
    witness = Witness()
    setup(witness)
    checks = load_checks(checks_file) if checks_file else []
    raise_fd_limit()
    with one_shot_state(config) as config:  # beside an `up` of the same folder: as its guest
        graph = load(config)  # a TemplateError: the CLI prints it located, exit 2
        report = Report(f"samrun smoke {config.template}")
        print(f"samrun smoke: {config.template}", flush=True)
        smoke = Smoke(config, graph, checks, report, witness)
        try:
            smoke.graph = build(config, graph)  # dependencies, as `up` and `invoke` install them
        except BuildFailed as exc:
            report.add(Result("dependencies build", "build", False, 0.0, [str(exc)]))
            code = 1
        else:
            code = run_loop(smoke.run(timeout_s))
    wall = time.monotonic() - began
    print(report.summary(wall, smoke.cost_line), flush=True)
    if junit is not None:
        report.junit(junit, wall)
    return code


class Smoke:
    def __init__(
        self, config: Config, graph: AppGraph, checks: list[Check], report: Report, w: Witness
    ) -> None:
        listeners = {li.logical_id for g in graph.target_groups for li in g.listeners}
        self.config = replace(  # free ports; metrics and logs stay in this process
            config,
            port=0,
            invoke_port=0,
            alb_ports={name: 0 for name in listeners},
            cloudwatch=False,
        )
        self.graph = graph
        self.checks = checks
        self.report = report
        self.witness = w
        self.cost_line = ""

    async def run(self, timeout_s: float) -> int:
        validation = asyncio.create_task(asyncio.to_thread(self._validate))
        app = App(self.config, self.graph)
        try:
            async with asyncio.timeout(timeout_s):
                async with app:
                    app.invoker.telemetry.subscribe(self.witness.observe)
                    for line in not_run_lines(self.graph):
                        logger.warning("%s", line)
                    await app.triggers.start(app.graph)  # push sources and schedules, as `up`
                    # a template that loads runs whatever it can: its problems are failed checks
                    await self._record(
                        "template validates", "template", lambda o: validation_into(validation, o)
                    )
                    await self._all(app)
                    cost = app.observe.store.cost_summary()
                    count = sum(f["invocations"] for f in cost["functions"].values())
                    self.cost_line = f"cost ${cost['total_usd']:.10f} for {count} invocations"
        except TimeoutError:
            self.report.add(
                Result(
                    f"--timeout {timeout_s:g} s reached",
                    "smoke",
                    False,
                    timeout_s,
                    ["the smoke run took longer than --timeout; the checks not run failed"],
                )
            )
        finally:
            validation.cancel()
        return 1 if self.report.failed else 0

    def _validate(self) -> list[str]:
        from samrun.template import validate_template

        problems = validate_template(
            self.config.template,
            parameter_overrides=self.config.parameter_overrides,
            region=self.config.region,
            account_id=self.config.account_id,
        )
        return [p.render() for p in problems if p.is_error]

    async def _all(self, app: App) -> None:
        for resource in self.graph.resources:
            await self._record(
                f"{resource.type} {resource.name} provisioned",
                "resources",
                functools.partial(provisioned_async, app, resource),
            )
        limit = asyncio.Semaphore(INIT_AT_ONCE)

        async def init(function: Function) -> Result:
            async with limit:
                return await self._timed(
                    f"{function.name} initialises",
                    "functions",
                    lambda o: initialise(app, function, o),
                )

        for result in await asyncio.gather(*(init(f) for f in self.graph.functions)):
            self.report.add(result)
        for broken in unbuildable(self.graph):
            self.report.add(
                Result(f"{broken.name} initialises", "functions", False, 0.0, [located(broken)])
            )
        runner = Runner(app, self.witness)
        try:
            for check in self.checks:
                await self._record(
                    check.name, "checks", functools.partial(self._check, runner, check)
                )
        finally:
            await runner.close()

    async def _check(self, runner: Runner, check: Check, outcome: Outcome) -> None:
        try:
            async with asyncio.timeout(check.within_s):
                await runner.run(check, outcome)
        except TimeoutError:
            outcome.problems.append(f"not within {check.within_s:g} s")
        except SamrunError as exc:
            outcome.problems.append(str(exc))
        except Exception as exc:  # boto3's and aiohttp's errors: the check fails, with them
            outcome.problems.append(f"{type(exc).__name__}: {exc}")

    async def _record(
        self, name: str, group: str, step: Callable[[Outcome], Awaitable[Any]]
    ) -> None:
        self.report.add(await self._timed(name, group, step))

    async def _timed(
        self, name: str, group: str, step: Callable[[Outcome], Awaitable[Any]]
    ) -> Result:
        outcome = Outcome()
        _, line_mark = self.witness.mark()
        began = time.monotonic()
        await step(outcome)
        duration = time.monotonic() - began
        log = outcome.log or self.witness.tail(outcome.functions, line_mark)
        return Result(name, group, not outcome.problems, duration, outcome.problems, log)


def unbuildable(graph: AppGraph) -> list[NotRun]:
    """The functions the app declares and samrun could not build (a template error keeps each
    out), among those it serves: each is a failed check."""
    served = {u.name for u in graph.unavailable}
    return [
        n
        for n in graph.not_run
        if n.what == "function" and n.location is not None and n.name in served
    ]


async def validation_into(task: asyncio.Task[list[str]], outcome: Outcome) -> None:
    outcome.problems.extend(await task)


async def provisioned_async(app: App, resource: Resource, outcome: Outcome) -> None:
    await asyncio.to_thread(provisioned, app, resource, outcome)


def provisioned(app: App, resource: Resource, outcome: Outcome) -> None:
    """The resource exists on the app's AWS endpoint (blocking: in a thread)."""
    aws, name = app.aws, resource.name
    try:
        if resource.type == "sqs":
            aws.client("sqs").get_queue_url(QueueName=name)
        elif resource.type == "sns":
            aws.client("sns").get_topic_attributes(TopicArn=resource.arn)
        elif resource.type == "s3":
            aws.client("s3").head_bucket(Bucket=name)
        elif resource.type == "kinesis":
            aws.client("kinesis").describe_stream_summary(StreamName=name)
        elif resource.type == "dynamodb":
            aws.client("dynamodb").describe_table(TableName=name)
        elif resource.type == "eventbridge" and name != "default":
            aws.client("events").describe_event_bus(Name=name)
    except Exception as exc:  # botocore's errors, whatever they are: the check fails with them
        outcome.problems.append(f"not on {aws.url or 'AWS'}: {exc}")


async def initialise(app: App, function: Function, outcome: Outcome) -> None:
    """One instance of the function's $LATEST runs its init phase, without an invocation."""
    pool = app.pools.pool(function, "$LATEST", function.config)
    try:
        failure = await pool.prewarm()
    except SamrunError as exc:
        outcome.problems.append(str(exc))
        return
    if failure is not None:
        outcome.problems.append(
            f"{failure.error_type}: {failure.payload[:500].decode(errors='replace')}"
        )
        outcome.log = [f"{function.name} | {line}" for line in failure.log_lines[-20:]]
        outcome.functions.add(function.name)
