"""Invoker.invoke: resolve the target, check the payload, run it on its pool, shape the result.

Every source of invocations (the Lambda API, front doors, pollers, schedules) comes through here.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable

from samrun.errors import (
    InvalidParameterValue,
    InvalidRequestContent,
    RequestTooLarge,
    TooManyRequests,
)
from samrun.invoke.gate import ConcurrencyGate
from samrun.invoke.models import InvocationType, InvokeRequest, InvokeResult
from samrun.invoke.resolve import FunctionDirectory, Target
from samrun.invoke.telemetry import THROTTLES, Invoked, Telemetry
from samrun.invoke.tracing import Tracer
from samrun.model import LATEST
from samrun.runtime.instance import Outcome
from samrun.runtime.pool import PoolRetired, PoolSet
from samrun.runtime.session import InvokeEvent

logger = logging.getLogger(__name__)

MAX_SYNC_PAYLOAD = 6 * 1024 * 1024
MAX_ASYNC_PAYLOAD = 1024 * 1024  # Lambda's Event limit since 2025 (it was 256 KB)
LOG_TAIL_BYTES = 4096


class Invoker:
    def __init__(
        self, directory: FunctionDirectory, pools: PoolSet, gate: ConcurrencyGate | None = None
    ) -> None:
        self.directory = directory
        self.pools = pools
        self.gate = gate or ConcurrencyGate()
        self.invocations: Counter[tuple[str, str]] = Counter()  # (function, version) -> count
        self.errors: Counter[tuple[str, str]] = Counter()  # function errors, for deployments
        self._async_tasks: set[asyncio.Task[InvokeResult]] = set()
        # InvocationType Event: the durable queue's accept (samrun.invoke.async_queue), set by App
        self.accept_event: Callable[[Target, InvokeRequest, str], Awaitable[None]] | None = None
        self._ids = random.Random()  # request and trace ids: unique, not secret; no syscall
        self.telemetry = Telemetry()  # the one hook point: metrics, alarms, cost (observe/)
        self.tracer = Tracer()  # X-Ray: headers, sampling, Lambda's segments (tracing.py)
        self.debugged: frozenset[str] = frozenset()  # under a debugger: no integration timeout
        self._running: set[asyncio.Future[None]] = set()  # one per invocation in flight
        # a durable function's invocation starts an execution (samrun.durable), set by App
        self.start_durable: Callable[[Target, InvokeRequest, str], Awaitable[InvokeResult]] | None
        self.start_durable = None
        # the dashboard's feed (samrun.dashboard): each finished invocation, with its outcome
        self.recorder: Callable[[Target, InvokeRequest, str, Outcome], None] | None = None

    @property
    def in_flight(self) -> int:
        return len(self._running)

    async def drain(self) -> None:
        """Until every invocation in flight now has finished (each is bounded by its timeout)."""
        if self._running:
            await asyncio.wait(set(self._running))

    async def invoke(self, request: InvokeRequest) -> InvokeResult:
        target = self.directory.resolve(request.function, request.qualifier)
        check_payload(request)
        check_tenant(request, target.config.tenant_isolation)
        request_id = str(uuid.UUID(int=self._ids.getrandbits(128), version=4))
        if request.stream is not None:
            request.stream.bind(request_id, target.version)
        if request.invocation_type is InvocationType.DRY_RUN:
            return InvokeResult(request_id=request_id, payload=b"", executed_version=target.version)
        if target.config.durable is not None and self.start_durable is not None:
            return await self.start_durable(target, request, request_id)
        if request.invocation_type is InvocationType.EVENT and self.accept_event is not None:
            await self.accept_event(target, request, request_id)
            return InvokeResult(request_id=request_id, payload=b"", executed_version=target.version)
        if request.invocation_type is InvocationType.EVENT:
            task = asyncio.create_task(self.run(target, request, request_id))
            self._async_tasks.add(task)
            task.add_done_callback(self._async_done)
            return InvokeResult(request_id=request_id, payload=b"", executed_version=target.version)
        return await self.run(target, request, request_id)

    async def run(self, target: Target, request: InvokeRequest, request_id: str) -> InvokeResult:
        """Steps 4-8: the concurrency gate, then the pool of the target's version runs it."""
        running = asyncio.get_running_loop().create_future()
        self._running.add(running)
        try:
            return await self._run(target, request, request_id)
        finally:
            self._running.discard(running)
            running.set_result(None)

    async def _run(self, target: Target, request: InvokeRequest, request_id: str) -> InvokeResult:
        header, span = self.tracer.begin(request.trace_id, target.config.tracing)
        event = InvokeEvent(
            request_id=request_id,
            payload=request.payload or b"{}",  # Lambda hands an empty invocation `{}`
            deadline_ms=int((time.time() + target.config.timeout_s) * 1000),
            invoked_arn=target.invoked_arn,
            trace_id=header,
            client_context=decode_client_context(request.client_context),
            stream=request.stream,
            tenant_id=request.tenant_id,
        )
        gate, observed = self.gate, bool(self.telemetry.observers)
        name = target.function.name
        while True:
            pool = self.pools.pool(
                target.function, target.version, target.config, request.tenant_id
            )
            try:
                with gate.lease(name):
                    if observed:
                        concurrent, unreserved = gate.in_flight[name], gate.unreserved_in_flight
                        provisioned, spare = len(pool.provisioned), len(pool.provisioned_idle)
                    outcome = await pool.invoke(event)
                break
            except PoolRetired:  # a reload changed the function meanwhile: run it as it is now
                target = self.directory.resolve(request.function, request.qualifier)
            except TooManyRequests:
                if observed:
                    self.telemetry.signal(THROTTLES, name, resource_of(target))
                if span is not None:
                    self.tracer.throttled(span, name, target.invoked_arn)
                raise
        if span is not None:
            self.tracer.finish(
                span,
                function=name,
                arn=target.invoked_arn,
                request_id=request_id,
                version=target.version,
                duration_ms=outcome.duration_ms,
                init_ms=outcome.init_duration_ms,
                error_type=outcome.error_type,
                error_payload=outcome.payload,
                queued_at=request.queued_at,
                attempt=request.attempt,
            )
        key = (name, target.version)
        self.invocations[key] += 1
        if outcome.error_type:
            self.errors[key] += 1
        if observed:
            config = target.config
            self.telemetry.emit(
                Invoked(
                    name,
                    target.version,
                    resource_of(target),
                    outcome.duration_ms,
                    outcome.error_type,
                    config.memory_mb,
                    config.architectures[0] if config.architectures else "x86_64",
                    concurrent,
                    unreserved,
                    (provisioned - spare + (spare > 0)) / provisioned if provisioned else None,
                    spare > 0,
                    config.ephemeral_storage_mb,
                    provisioned - spare + (spare > 0),
                )
            )
        if self.recorder is not None:
            self.recorder(target, request, request_id, outcome)
        tail = b""
        if request.tail_logs:
            tail = ("\n".join(outcome.log_lines) + "\n").encode()[-LOG_TAIL_BYTES:]
        return InvokeResult(
            request_id=request_id,
            payload=outcome.payload,
            executed_version=target.version,
            function_error="Unhandled" if outcome.error_type else None,
            error_type=outcome.error_type,
            log_tail=tail,
            duration_ms=outcome.duration_ms,
            init_duration_ms=outcome.init_duration_ms,
        )

    async def close(self) -> None:
        """Wait for accepted asynchronous invocations (the caller bounds how long)."""
        if self._async_tasks:
            await asyncio.gather(*self._async_tasks, return_exceptions=True)

    def _async_done(self, task: asyncio.Task[InvokeResult]) -> None:
        self._async_tasks.discard(task)
        if task.cancelled():
            return
        if task.exception() is not None:
            logger.error("asynchronous invocation failed: %s", task.exception())


def resource_of(target: Target) -> str | None:
    """The `Resource` dimension: the alias or version the caller named; None for $LATEST."""
    return None if target.qualifier == LATEST else target.qualifier


def check_tenant(request: InvokeRequest, isolation: str | None) -> None:
    """A PER_TENANT function is invoked with a tenant id, any other without one (Lambda's
    InvalidParameterValueException either way), before anything runs."""
    if isolation is not None and not request.tenant_id:
        raise InvalidParameterValue(
            "The function has tenant isolation enabled (TenancyConfig TenantIsolationMode "
            f"{isolation}): the invocation must specify a tenant ID (TenantId, X-Amz-Tenant-Id)"
        )
    if isolation is None and request.tenant_id is not None:
        raise InvalidParameterValue(
            "A tenant ID was specified for a function without tenant isolation "
            "(TenancyConfig): remove the tenant ID"
        )


def check_payload(request: InvokeRequest) -> None:
    """Lambda's size limits and its JSON check, before anything runs."""
    limit = (
        MAX_ASYNC_PAYLOAD if request.invocation_type is InvocationType.EVENT else MAX_SYNC_PAYLOAD
    )
    if len(request.payload) > limit:
        raise RequestTooLarge(
            f"{len(request.payload)} byte payload is too large for the "
            f"{request.invocation_type} invocation type (limit {limit} bytes)"
        )
    decode_client_context(request.client_context)  # refused before anything runs
    if not request.payload:
        return
    try:
        json.loads(request.payload)
    except ValueError as exc:
        raise InvalidRequestContent(
            f"Could not parse request body into json: Could not parse payload into json: {exc}"
        ) from None


def decode_client_context(encoded: str | None) -> str | None:
    """The Invoke API takes base64 JSON; the Runtime API hands the runtime the JSON itself."""
    if not encoded:
        return None
    try:
        text = base64.b64decode(encoded, validate=True).decode()
        if isinstance(json.loads(text), dict):
            return text
    except (binascii.Error, UnicodeDecodeError, ValueError, RecursionError):
        pass
    raise InvalidRequestContent("Client context must be a valid Base64-encoded JSON object.")


def new_trace_id(ids: random.Random) -> str:
    """An X-Ray trace header, as Lambda passes `_X_AMZN_TRACE_ID` to the runtime."""
    root = f"1-{int(time.time()):08x}-{ids.getrandbits(96):024x}"
    return f"Root={root};Parent={ids.getrandbits(64):016x};Sampled=0"
