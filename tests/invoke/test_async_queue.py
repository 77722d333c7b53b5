"""The async queue on its own, with a scripted invoker: throttles, event age, lineage, restarts."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from samrun.errors import TooManyRequests
from samrun.invoke.async_queue import AsyncQueue, lineage, with_lineage
from samrun.invoke.gate import ConcurrencyGate
from samrun.invoke.models import InvokeRequest, InvokeResult
from samrun.invoke.resolve import FunctionDirectory
from samrun.invoke.telemetry import Telemetry
from samrun.invoke.tracing import Tracer
from samrun.model import AppGraph, Code, Destination, Function, FunctionConfig, InvokeConfig

FAILURE = Destination(type="sqs", arn="arn:aws:sqs:us-east-1:123456789012:failures")


def graph(**invoke_config: Any) -> AppGraph:
    function = Function(
        logical_id="Fn",
        name="Fn",
        arn="arn:aws:lambda:us-east-1:123456789012:function:Fn",
        config=FunctionConfig(runtime="python3.11", handler="app.h", code=Code(path="/nowhere")),
        invoke_config=InvokeConfig(on_failure=FAILURE, **invoke_config),
    )
    return AppGraph(template_path="t.yaml", functions=(function,))


class ScriptedInvoker:
    """Answers each run with the next outcome: an InvokeResult's function_error, or raises."""

    def __init__(self, graph: AppGraph, outcomes: list[object]) -> None:
        self.directory = FunctionDirectory(graph)
        self.outcomes = outcomes
        self.runs: list[InvokeRequest] = []
        self.telemetry = Telemetry()  # the invoke path's hook point, as on Invoker
        self.tracer = Tracer()  # X-Ray's decisions at accept, as on Invoker
        self.gate = ConcurrencyGate()

    async def run(self, target: Any, request: InvokeRequest, request_id: str) -> InvokeResult:
        self.runs.append(request)
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if isinstance(outcome, Exception):
            raise outcome
        return InvokeResult(
            request_id=request_id, payload=b"{}", executed_version="$LATEST", function_error=outcome
        )


class Recorder:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    async def send_record(self, destination: Destination, record: dict, trace: str | None) -> None:
        self.records.append(record)

    async def dead_letter(self, *args: object) -> None:
        pass


async def accept(queue: AsyncQueue, invoker: ScriptedInvoker, trace: str | None = None) -> None:
    target = invoker.directory.resolve("Fn")
    await queue.accept(target, InvokeRequest(function="Fn", payload=b"{}", trace_id=trace), "r1")


async def settle(queue: AsyncQueue, timeout: float = 5) -> None:
    async with asyncio.timeout(timeout):
        while queue.pending():
            await asyncio.sleep(0.01)


async def test_throttles_are_retried_without_using_up_attempts(tmp_path: Path) -> None:
    throttle = TooManyRequests(
        "Rate Exceeded.", Reason="ReservedFunctionConcurrentInvocationLimitExceeded"
    )
    invoker = ScriptedInvoker(graph(maximum_retry_attempts=0), [throttle, throttle, None])
    recorder = Recorder()
    queue = AsyncQueue(invoker, recorder, tmp_path, time_scale=100)  # type: ignore[arg-type]
    await queue.start()
    await accept(queue, invoker)
    await settle(queue)
    await queue.stop()
    assert len(invoker.runs) == 3 and recorder.records == []  # ran, after two throttles


async def test_an_expired_event_is_never_run(tmp_path: Path) -> None:
    """Accepted, then samrun is down longer than MaximumEventAgeInSeconds: never run."""
    invoker = ScriptedInvoker(graph(maximum_event_age_s=60), [])
    recorder = Recorder()
    first = AsyncQueue(invoker, recorder, tmp_path, time_scale=600)  # type: ignore[arg-type]
    await first.start()
    first._dispatcher.cancel()  # accept only, as if samrun died right after the 202
    await accept(first, invoker)
    await first.stop()
    await asyncio.sleep(0.15)  # 60 s / 600 = 0.1 s: older than its maximum age
    second = AsyncQueue(invoker, recorder, tmp_path, time_scale=600)  # type: ignore[arg-type]
    await second.start()
    await settle(second)
    await second.stop()
    assert invoker.runs == []
    (record,) = recorder.records
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert "responseContext" not in record


async def test_lineage_counts_hops_and_stops_after_16(tmp_path: Path) -> None:
    invoker = ScriptedInvoker(graph(), [])
    recorder = Recorder()
    queue = AsyncQueue(invoker, recorder, tmp_path)  # type: ignore[arg-type]
    await queue.start()
    await accept(queue, invoker, "Root=1-0-0;Lineage=abcd1234:3")
    await accept(queue, invoker, "Root=1-0-1;Lineage=abcd1234:16")
    await settle(queue)
    await queue.stop()
    (ran,) = invoker.runs
    assert lineage(ran.trace_id) == ("abcd1234", 4)
    (stopped,) = recorder.records
    assert stopped["requestContext"]["condition"] == "RecursiveInvocationDetected"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Root=1-a-b;Parent=c;Sampled=0", None),
        ("Root=1-a-b;Lineage=f00d:7", ("f00d", 7)),
        ("Root=1-a-b;Lineage=1:f00d:7;Sampled=0", ("f00d", 7)),
        ("Root=1-a-b;Lineage=junk", None),
    ],
)
def test_lineage_parsing(header: str, expected: tuple[str, int] | None) -> None:
    assert lineage(header) == expected


def test_with_lineage_replaces_the_old_part() -> None:
    assert with_lineage("Root=1-a-b;Lineage=f00d:7;Sampled=0", "f00d", 8) == (
        "Root=1-a-b;Sampled=0;Lineage=f00d:8"
    )
