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

from samrun.runtime import protocol
from samrun.runtime.sandbox import Sandbox
from samrun.runtime.session import InvokeEvent, RuntimeSession, SessionClosed

LineSink = Callable[[str], None]


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
    ) -> None:
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

    def on_output(self, line: str) -> None:
        """A line the runtime wrote: to the function's log, and to the invocation's tail."""
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
        try:
            async with asyncio.timeout(timeout_s) as self._deadline:
                failure = await self.session.wait_ready()
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
                self._take_log()
                return None
            await self.stop()
            outcome = Outcome(payload=failure.payload, error_type=failure.error_type)
        retried = retried and status == "timeout"
        self._init_report(outcome, status, phase, "" if retried else request_id)
        outcome.log_lines = self._take_log()
        return outcome

    def _init_report(self, outcome: Outcome, status: str, phase: str, request_id: str) -> None:
        """Lambda's platform lines for a failed init: INIT_REPORT, then the invocation it
        failed (on-demand), reported with the same status and error type."""
        elapsed = (time.monotonic() - self._started) * 1000
        error_type = valid_error_type(outcome.error_type or "")
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
        self._platform(
            "platform.start",
            {"requestId": event.request_id, "version": self.version},
            f"START RequestId: {event.request_id} Version: {self.version}",
        )
        began = time.monotonic() - self._suppressed_init_s
        if timeout_s is not None:  # the deadline runs from here, past any wait and cold start
            timeout_s -= self._suppressed_init_s
            event = dataclasses.replace(event, deadline_ms=int((time.time() + timeout_s) * 1000))
        self._suppressed_init_s = 0.0
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
        self._report(event.request_id, outcome)
        outcome.log_lines = self._take_log()
        self.last_used = time.monotonic()
        return outcome

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

    async def stop(self) -> None:
        self.reusable = False
        await self.sandbox.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await self._exit_watch
        self.session.close("stopped")
        await self._close_listener()

    def emit_platform(self, line: str) -> None:
        self.on_output(line)

    def _platform(self, kind: str, record: dict[str, object], text: str) -> None:
        """A platform line: Lambda's text, or with LogFormat JSON its event as JSON (an INFO
        event, left out when SystemLogLevel is WARN)."""
        if not self.platform_json:
            self.emit_platform(text)
        elif self.platform_info:
            self.emit_platform(json.dumps({"time": iso_now(), "type": kind, "record": record}))

    def _report(self, request_id: str, outcome: Outcome) -> None:
        status = "success" if outcome.error_type is None else "failure"
        if self.platform_json:
            self._report_json(request_id, outcome, status)
            return
        self.emit_platform(f"END RequestId: {request_id}")
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {outcome.duration_ms:.2f} ms\t"
            f"Billed Duration: {max(1, math.ceil(outcome.duration_ms))} ms\t"
            f"Memory Size: {self.memory_mb} MB\t"
            f"Max Memory Used: {self.sandbox.peak_memory_mb()} MB"
        )
        if self.init_duration_ms is not None:
            report += f"\tInit Duration: {self.init_duration_ms:.2f} ms"
            outcome.init_duration_ms = self.init_duration_ms
            self.init_duration_ms = None  # reported once, on the cold start's invocation
        self.emit_platform(report)

    def _report_json(self, request_id: str, outcome: Outcome, status: str) -> None:
        done: dict[str, object] = {"requestId": request_id, "status": status}
        self._platform("platform.runtimeDone", done, "")
        metrics: dict[str, object] = {
            "durationMs": round(outcome.duration_ms, 2),
            "billedDurationMs": max(1, math.ceil(outcome.duration_ms)),
            "memorySizeMB": self.memory_mb,
            "maxMemoryUsedMB": self.sandbox.peak_memory_mb(),
        }
        if self.init_duration_ms is not None:
            metrics["initDurationMs"] = round(self.init_duration_ms, 2)
            outcome.init_duration_ms = self.init_duration_ms
            self.init_duration_ms = None
        self._platform("platform.report", {**done, "metrics": metrics}, "")

    def _death(self) -> tuple[str, str]:
        """Lambda's words for an instance that ended on its own."""
        reason = self.sandbox.exit_reason or "signal: killed"
        error_type = protocol.OUT_OF_MEMORY if self.sandbox.out_of_memory else protocol.EXIT_ERROR
        return error_type, f"Runtime exited with error: {reason}"

    async def _fail(self, error_type: str, message: str, request_id: str) -> Outcome:
        """Discard the instance; the caller gets Lambda's platform error."""
        await self.stop()
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


_VALID_ERROR_TYPE = re.compile(r"(Runtime|Function)\.[A-Z][a-zA-Z]+")


def valid_error_type(error_type: str) -> str:
    """The error type Lambda's platform lines show: a runtime's own `Runtime.X`/`Function.X`,
    else Runtime.Unknown (Function.Unknown for other `Function.` types)."""
    if _VALID_ERROR_TYPE.search(error_type):
        return error_type
    return "Function.Unknown" if error_type.startswith("Function.") else "Runtime.Unknown"


def iso_now() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
