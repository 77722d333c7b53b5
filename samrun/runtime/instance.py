"""One execution environment: a sandbox, its Runtime API session, and Lambda's platform lines.

An instance answers invocations one at a time. A timeout, a crash or an out-of-memory kill ends
it; the caller gets Lambda's error as a result and the pool never hands it out again.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import math
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from samrun.runtime import extensions, protocol
from samrun.runtime.sandbox import Sandbox
from samrun.runtime.session import (
    InvokeEvent,
    RuntimeReply,
    RuntimeSession,
    SessionClosed,
    SessionState,
)

LineSink = Callable[[str], None]
FREEZE_AFTER_S = 0.002  # an idle instance is frozen this long after its runtime parks


@dataclass(slots=True, kw_only=True)
class Outcome:
    """What one invocation produced, errors included (they are results, not exceptions)."""

    payload: bytes
    error_type: str | None = None  # None: success
    duration_ms: float = 0.0
    init_duration_ms: float | None = None
    log_lines: list[str] = field(default_factory=list)


class InstanceGone(Exception):
    """A warm instance exited between invocations, before the event reached it: nothing ran, so
    the pool runs the event on another instance (Lambda re-initialises a dead environment)."""


def error_payload(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


class Instance:
    """Created by a Launcher once its sandbox is running; `start` runs the init phase."""

    def __init__(
        self,
        *,
        instance_id: str,
        version: str,
        memory_mb: int,
        session: RuntimeSession,
        sandbox: Sandbox,
        close_listener: Callable[[], Awaitable[None]],
        emit: LineSink,
        platform_json: bool = False,
        platform_info: bool = True,
        freeze: bool = False,
        function_name: str = "",
        initialization_type: str = "on-demand",
        runtime: str | None = None,
    ) -> None:
        """`freeze`: stop the sandbox while it is idle (runtime/freeze.py). `function_name`,
        `initialization_type` and `runtime`: for the platform events (runtime/telemetry.py)."""
        self.id = instance_id
        self.version = version
        self.memory_mb = memory_mb
        self.session = session
        self.sandbox = sandbox
        self.reusable = True
        self.last_used = time.monotonic()
        self.init_duration_ms: float | None = None
        self._suppressed_init_s = 0.0  # a retried init's time, counted in the first invocation
        self.invocations = 0  # events this instance has answered
        self._close_listener = close_listener
        self._emit = emit
        self.platform_json = platform_json  # LoggingConfig LogFormat JSON
        self.platform_info = platform_info  # SystemLogLevel lets INFO events through
        # the init phase's lines, from the runtime's start (a spare's come before `start`)
        self._log: list[str] | None = []
        self._started = sandbox.started_at
        self._deadline: asyncio.Timeout | None = None  # the init phase's or invocation's
        self._exit_watch = asyncio.get_running_loop().create_task(self._watch_exit())
        self.function_name = function_name
        self.initialization_type = initialization_type
        self.runtime_version = runtime_version(runtime)
        self._tracing: dict[str, object] | None = None  # the invocation's, for its events
        self._began_at = 0.0  # time.time() the invocation began
        # what holds off the freeze while the runtime waits (an extension not at `next` yet,
        # a telemetry delivery in flight): remove yours, then call `maybe_freeze`
        self.freeze_holds: set[object] = {session.hub} if session.hub.active else set()
        # the extensions' end of the last invocation (runtime/extensions.py): the pool hands
        # the instance out again once it is done
        self.finishing: asyncio.Task[None] | None = None
        self._stop_reason = extensions.SPINDOWN  # what SHUTDOWN tells extensions
        self._freeze = freeze
        self._freeze_timer: asyncio.TimerHandle | None = None
        session.telemetry.holds_freeze(self.freeze_holds, self.maybe_freeze)
        if freeze:
            session.on_parked = self.maybe_freeze
            self.maybe_freeze()  # a spare's runtime may be waiting already

    def maybe_freeze(self) -> None:
        """Freeze the sandbox once the instance is idle: its runtime waits in `next` with no
        event, nothing holds the freeze off, and it will be used again; FREEZE_AFTER_S later,
        if it still is (back-to-back invocations never stop and continue it: freeze.py)."""
        if self._freeze_timer is None and self._idle():
            loop = asyncio.get_running_loop()
            self._freeze_timer = loop.call_later(FREEZE_AFTER_S, self._freeze_now)

    def _idle(self) -> bool:
        return self._freeze and self.session.parked and not self.freeze_holds and self.reusable

    def _freeze_now(self) -> None:
        self._freeze_timer = None
        if self._idle():
            self.sandbox.freeze()

    def _thaw(self) -> None:
        """Let it run: before an event is handed over, and before it stops."""
        if self._freeze_timer is not None:
            self._freeze_timer.cancel()
            self._freeze_timer = None
        self.sandbox.thaw()  # (a no-op unless frozen)

    def on_output(self, line: str) -> None:
        """A line the runtime wrote: to the function's log, and to the invocation's tail (and
        as a `function` event to telemetry subscribers)."""
        telemetry = self.session.telemetry
        if telemetry.wanted:
            telemetry.function_line(line, self.platform_json)
        self._line(line)

    def _line(self, line: str) -> None:
        self._emit(line)
        if self._log is not None:
            self._log.append(line)

    async def start(
        self, timeout_s: float | None, request_id: str = "", *, retried: bool = False
    ) -> Outcome | None:
        """The init phase: None once the runtime asks for work, else the init failure, logged
        with Lambda's INIT_REPORT (and START / END / REPORT for the `request_id` it fails).

        `retried`: a timeout here is not the invocation's end, Lambda retries the init phase
        in the invocation (`retry`), so it reports only the INIT_REPORT."""
        return await self._init(timeout_s, request_id, "init", retried)

    async def retry(self, timeout_s: float | None, request_id: str) -> Outcome | None:
        """The init phase Lambda retries at the first invocation after a timed-out one, under
        the function's timeout: its time counts in the invocation's (no Init Duration)."""
        failure = await self._init(timeout_s, request_id, "invoke", False)
        if failure is None:
            self._suppressed_init_s = (self.init_duration_ms or 0) / 1000
            self.init_duration_ms = None
        return failure

    async def _init(
        self, timeout_s: float | None, request_id: str, phase: str, retried: bool
    ) -> Outcome | None:
        status = "error"
        init: dict[str, object] = {"initializationType": self.initialization_type, "phase": phase}
        started_at = time.time() - (time.monotonic() - self._started)
        self._event(
            "platform.initStart",
            {
                **init,
                "runtimeVersion": self.runtime_version,
                "functionName": self.function_name,
                "functionVersion": self.version,
            },
            started_at,
        )
        try:
            async with asyncio.timeout(timeout_s) as self._deadline:
                failure = await self.session.wait_ready()
                if failure is None and self.session.hub.active:
                    failure = await self._extensions_ready(request_id)
        except TimeoutError:
            limit = "Init phase" if phase == "init" else "Task"
            message = f"{limit} timed out after {timeout_s:.2f} seconds"
            outcome = await self._fail(protocol.TIMEOUT, message, request_id)
            status = "timeout"
        except SessionClosed:
            outcome = await self._fail(*self._death(), request_id)
        else:
            self.init_duration_ms = (time.monotonic() - self._started) * 1000
            if failure is None:
                self.sandbox.init_done()
                self._init_events(init, "success", None)
                self._take_log()
                return None
            await self.stop(extensions.FAILURE)
            outcome = Outcome(payload=failure.payload, error_type=failure.error_type)
        retried = retried and status == "timeout"
        self._init_report(outcome, status, phase, "" if retried else request_id)
        outcome.log_lines = self._take_log()
        return outcome

    async def _extensions_ready(self, request_id: str) -> RuntimeReply | None:
        """The extensions' part of init: every one has called `next` (runtime/extensions.py)."""
        hub = self.session.hub
        failure = await hub.ready()
        if self.session.state is SessionState.DEAD:
            raise SessionClosed("exited")
        if failure is None:
            self.freeze_holds.discard(hub)
            self.maybe_freeze()
            return None
        error_type, message = failure
        text = f"RequestId: {request_id} Error: {message}" if request_id else message
        return RuntimeReply(payload=error_payload(error_type, text), error_type=error_type)

    def _init_report(self, outcome: Outcome, status: str, phase: str, request_id: str) -> None:
        """Lambda's platform lines for a failed init: INIT_REPORT, then the invocation it
        failed (on-demand), reported with the same status and error type."""
        elapsed = (time.monotonic() - self._started) * 1000
        error_type = valid_error_type(outcome.error_type or "")
        init: dict[str, object] = {"initializationType": self.initialization_type, "phase": phase}
        self._init_events(init, status, error_type)
        self.emit_platform(
            f"INIT_REPORT Init Duration: {elapsed:.2f} ms\tPhase: {phase}\tStatus: {status}\t"
            f"Error Type: {error_type}"
        )
        if not request_id:
            return
        self.emit_platform(f"START RequestId: {request_id} Version: {self.version}")
        self.emit_platform(f"END RequestId: {request_id}")
        self.emit_platform(
            f"REPORT RequestId: {request_id}\tDuration: {elapsed:.2f} ms\t"
            f"Billed Duration: {max(1, math.ceil(elapsed))} ms\tMemory Size: {self.memory_mb} MB\t"
            f"Max Memory Used: {self.sandbox.peak_memory_mb()} MB\tStatus: {status}\t"
            f"Error Type: {error_type}"
        )

    async def invoke(self, event: InvokeEvent, timeout_s: float | None) -> Outcome:
        self._log = []
        self._began_at = time.time()
        start: dict[str, object] = {"requestId": event.request_id, "version": self.version}
        self._tracing = None
        if event.trace_id:
            tracing: dict[str, object] = {"type": "X-Amzn-Trace-Id", "value": event.trace_id}
            self._tracing = start["tracing"] = tracing
        self._platform(
            "platform.start",
            start,
            f"START RequestId: {event.request_id} Version: {self.version}",
        )
        began = time.monotonic() - self._suppressed_init_s
        if timeout_s is not None:  # the deadline runs from here, past any wait and cold start
            timeout_s -= self._suppressed_init_s
            event = dataclasses.replace(event, deadline_ms=int((time.time() + timeout_s) * 1000))
        self._suppressed_init_s = 0.0
        self._thaw()  # before the event is handed over
        hub = self.session.hub
        told = extensions.ENABLED and bool(hub.extensions) and hub.invoke(event)  # INVOKE
        if told:
            self.freeze_holds.add(hub)
        try:
            async with asyncio.timeout(timeout_s) as self._deadline:
                reply = await self.session.invoke(event)
        except TimeoutError:
            elapsed = time.monotonic() - began
            self.emit_platform(
                f"{iso_now()} {event.request_id} Task timed out after {elapsed:.2f} seconds"
            )
            outcome = await self._fail(
                protocol.TIMEOUT, f"Task timed out after {elapsed:.2f} seconds", event.request_id
            )
        except SessionClosed as exc:
            if not exc.delivered and self.invocations:
                await self.stop()
                self._log = None
                raise InstanceGone(event.request_id) from None
            outcome = await self._fail(*self._death(), event.request_id)
        except asyncio.CancelledError:
            self.reusable = False  # mid-invocation: its state is unknown, so it is discarded
            raise
        else:
            self.sandbox.drain_output()  # lines written before the reply belong to it
            self.invocations += 1
            outcome = Outcome(payload=reply.payload, error_type=reply.error_type)
        outcome.duration_ms = (time.monotonic() - began) * 1000
        self._runtime_done(event.request_id, outcome)  # (extensions may wait for it)
        if told and self.reusable:  # the caller has its answer; REPORT waits for extensions
            outcome.init_duration_ms = self.init_duration_ms
            outcome.log_lines = self._take_log()
            self.finishing = asyncio.get_running_loop().create_task(
                self._finish(event.request_id, began, outcome, timeout_s)
            )
            return outcome
        self.freeze_holds.discard(hub)
        self._report(event.request_id, outcome)
        outcome.log_lines = self._take_log()
        self.last_used = time.monotonic()
        return outcome

    async def _finish(
        self, request_id: str, began: float, outcome: Outcome, timeout_s: float | None
    ) -> None:
        """The invocation ends once every extension has called `next` (or at its deadline, when
        Lambda resets the instance): REPORT's duration runs to here."""
        hub = self.session.hub
        left = None if timeout_s is None else max(0.0, timeout_s - (time.monotonic() - began))
        try:
            async with asyncio.timeout(left):
                await hub.settled()
        except TimeoutError:
            self.reusable = False
            self._stop_reason = extensions.TIMEOUT
            elapsed = time.monotonic() - began
            self.emit_platform(
                f"{iso_now()} {request_id} Task timed out after {elapsed:.2f} seconds"
            )
        if hub.crashed:
            self.reusable = False
            self._stop_reason = extensions.FAILURE
        report = dataclasses.replace(outcome, log_lines=[])
        report.duration_ms = (time.monotonic() - began) * 1000
        self._report(request_id, report)
        self.last_used = time.monotonic()
        self.freeze_holds.discard(hub)
        self.maybe_freeze()

    def suspend_timeout(self) -> bool:
        """A debugger on a terminal holds the init phase or invocation in progress (runtime/
        breakpoints.py): its deadline is lifted. False when none was running."""
        if self._deadline is None or self._deadline.when() is None:
            return False
        try:
            self._deadline.reschedule(None)
        except RuntimeError:  # that phase is over
            return False
        return True

    async def stop(self, reason: str | None = None) -> None:
        """End the instance; its extensions get SHUTDOWN (`reason`, else spindown or what the
        last invocation left) and Lambda's grace first."""
        self.reusable = False
        self._thaw()  # a frozen process neither exits nor ends gracefully
        if self.session.telemetry.subscribers and self.sandbox.exit_reason is None:
            await self.session.telemetry.flush()  # what is buffered reaches subscribers first
        if self.session.hub.extensions and self.sandbox.exit_reason is None:
            await self.session.hub.shutdown(reason or self._stop_reason)
        await self.sandbox.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await self._exit_watch
        self.session.close("stopped")
        await self.session.telemetry.close()
        await self._close_listener()

    def emit_platform(self, line: str) -> None:
        self._line(line)

    def _platform(self, kind: str, record: dict[str, object], text: str) -> None:
        """A platform event: to telemetry subscribers, and to the log as Lambda's text line
        (none when `text` is empty), or with LogFormat JSON as JSON (an INFO event, left out
        when SystemLogLevel is WARN)."""
        self._event(kind, record)
        if not self.platform_json:
            if text:
                self.emit_platform(text)
        elif self.platform_info:
            self.emit_platform(json.dumps({"time": iso_now(), "type": kind, "record": record}))

    def _event(self, kind: str, record: dict[str, object], at: float | None = None) -> None:
        """A platform event for telemetry subscribers only (Lambda logs no line for it)."""
        telemetry = self.session.telemetry
        if telemetry.wanted:
            telemetry.platform(kind, record, at)

    def _init_events(self, init: dict[str, object], status: str, error_type: str | None) -> None:
        """platform.initRuntimeDone and platform.initReport; the init phase is over, so
        subscriptions close (runtime/telemetry.py)."""
        done = {**init, "status": status, **({"errorType": error_type} if error_type else {})}
        elapsed = (time.monotonic() - self._started) * 1000
        self._event("platform.initRuntimeDone", done)
        self._event("platform.initReport", {**done, "metrics": {"durationMs": round(elapsed, 3)}})
        self.session.telemetry.init_done()

    def _outcome_record(self, request_id: str, outcome: Outcome) -> dict[str, object]:
        done: dict[str, object] = {"requestId": request_id}
        done["status"] = report_status(outcome.error_type)
        if outcome.error_type is not None:
            done["errorType"] = valid_error_type(outcome.error_type)
        if self._tracing is not None:
            done["tracing"] = self._tracing
        return done

    def _runtime_done(self, request_id: str, outcome: Outcome) -> None:
        """platform.runtimeDone, as the runtime answers: extensions may wait for it before
        they call `next` (no text line: Lambda logs it only with LogFormat JSON)."""
        if not (self.session.telemetry.wanted or (self.platform_json and self.platform_info)):
            return  # (the warm path of an instance no one watches)
        ended_at = self._began_at + outcome.duration_ms / 1000
        metrics = {
            "durationMs": round(outcome.duration_ms, 3),
            "producedBytes": len(outcome.payload),
        }
        spans = [
            span("responseLatency", self._began_at, outcome.duration_ms),
            span("responseDuration", ended_at, 0.0),
        ]
        done = self._outcome_record(request_id, outcome)
        self._platform("platform.runtimeDone", {**done, "metrics": metrics, "spans": spans}, "")

    def _report(self, request_id: str, outcome: Outcome) -> None:
        """END and REPORT, or with LogFormat JSON platform.report, as the invocation ends."""
        done = self._outcome_record(request_id, outcome)
        if not self.platform_json:
            self.emit_platform(f"END RequestId: {request_id}")
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {outcome.duration_ms:.2f} ms\t"
            f"Billed Duration: {max(1, math.ceil(outcome.duration_ms))} ms\t"
            f"Memory Size: {self.memory_mb} MB\t"
            f"Max Memory Used: {self.sandbox.peak_memory_mb()} MB"
        )
        metrics: dict[str, object] = {
            "durationMs": round(outcome.duration_ms, 2),
            "billedDurationMs": max(1, math.ceil(outcome.duration_ms)),
            "memorySizeMB": self.memory_mb,
            "maxMemoryUsedMB": self.sandbox.peak_memory_mb(),
        }
        if self.init_duration_ms is not None:
            report += f"\tInit Duration: {self.init_duration_ms:.2f} ms"
            metrics["initDurationMs"] = round(self.init_duration_ms, 2)
            outcome.init_duration_ms = self.init_duration_ms
            self.init_duration_ms = None  # reported once, on the cold start's invocation
        self._platform("platform.report", {**done, "metrics": metrics}, report)

    def _death(self) -> tuple[str, str]:
        """Lambda's words for an instance that ended on its own."""
        reason = self.sandbox.exit_reason or "signal: killed"
        error_type = protocol.OUT_OF_MEMORY if self.sandbox.out_of_memory else protocol.EXIT_ERROR
        return error_type, f"Runtime exited with error: {reason}"

    async def _fail(self, error_type: str, message: str, request_id: str) -> Outcome:
        """Discard the instance; the caller gets Lambda's platform error."""
        await self.stop(
            extensions.TIMEOUT if error_type == protocol.TIMEOUT else extensions.FAILURE
        )
        text = f"RequestId: {request_id} Error: {message}"
        self.emit_platform(text)
        self.emit_platform(error_type)
        return Outcome(payload=error_payload(error_type, text), error_type=error_type)

    def _take_log(self) -> list[str]:
        lines, self._log = self._log or [], None
        return lines

    async def _watch_exit(self) -> None:
        await self.sandbox.wait()
        self.reusable = False
        self.session.close(self.sandbox.exit_reason or "exited")


_VALID_ERROR_TYPE = re.compile(r"(Runtime|Function|Extension)\.[A-Z][a-zA-Z]+")


def valid_error_type(error_type: str) -> str:
    """The error type Lambda's platform lines show: a runtime's own `Runtime.X`/`Function.X`,
    else Runtime.Unknown (Function.Unknown for other `Function.` types)."""
    if _VALID_ERROR_TYPE.search(error_type):
        return error_type
    return "Function.Unknown" if error_type.startswith("Function.") else "Runtime.Unknown"


def report_status(error_type: str | None) -> str:
    """An invocation's status in its platform events: `error` when the runtime (or an
    extension) failed, `failure` when the function's code did."""
    if error_type is None:
        return "success"
    if error_type == protocol.TIMEOUT:
        return "timeout"
    return "error" if error_type.startswith(("Runtime.", "Extension.")) else "failure"


def span(name: str, at: float, duration_ms: float) -> dict[str, object]:
    start = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1000):03d}Z"
    return {"name": name, "start": start, "durationMs": round(duration_ms, 3)}


def runtime_version(runtime: str | None) -> str:
    """Lambda's `runtimeVersion` spelling (`python:3.12.v…`), samrun's own version mark."""
    match = re.fullmatch(r"([a-z]+?)(\d[\d.]*(?:\.x)?|\.al2023|\.al2)?", runtime or "")
    if match is None or not runtime:
        return "unknown"
    family, version = match.group(1), (match.group(2) or "").removeprefix(".").removesuffix(".x")
    return f"{family}:{version}.samrun" if version else f"{family}.samrun"


def iso_now() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
