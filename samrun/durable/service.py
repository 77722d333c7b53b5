"""The durable execution service: starts executions, invokes the handler until it suspends or
ends, resumes it when a timer or a callback says so, and answers the durable API.

Every change is saved to the state folder before it is acted on; after a restart `start` reloads
the records, re-arms waits, retries and timeouts, and re-invokes what was running (the handler
replays from its checkpoints). Delays are divided by `--time-scale`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from samrun.durable import engine, outcomes
from samrun.durable.engine import TERMINAL, Record
from samrun.durable.store import ExecutionStore
from samrun.errors import (
    InvalidParameterValue,
    LambdaApiError,
    ResourceConflict,
    ResourceNotFound,
    TooManyRequests,
)
from samrun.invoke.async_queue import (
    DEFAULT_MAX_AGE_S,
    RETRY_DELAYS_S,
    THROTTLE_FIRST_S,
    THROTTLE_MAX_S,
)
from samrun.invoke.destinations import EVENT_AGE_EXCEEDED
from samrun.invoke.invoker import Invoker
from samrun.invoke.models import InvocationType, InvokeRequest, InvokeResult
from samrun.invoke.resolve import Target
from samrun.model import LATEST

logger = logging.getLogger(__name__)

NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
INVOCATION_ATTEMPTS = 3  # a failed invocation (crash, timeout) is retried, then fails the execution
SYNC_LIMIT_S = 900


class CallbackTimeout(LambdaApiError):
    code, status = "CallbackTimeoutException", 400


class AlreadyStarted(LambdaApiError):
    code, status = "DurableExecutionAlreadyStartedException", 409


class DurableService:
    def __init__(self, invoker: Invoker, state_dir: Path, time_scale: float = 1.0) -> None:
        self.invoker = invoker
        self.store = ExecutionStore(state_dir)
        self.scale = time_scale if time_scale > 0 else 1.0
        self.records: dict[str, Record] = {}  # arn -> record
        self.callbacks: dict[str, tuple[str, str]] = {}  # callback id -> (arn, operation id)
        self._timers: dict[tuple[str, str], asyncio.TimerHandle] = {}
        self._drivers: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._settling: set[str] = set()  # arns whose destinations are being sent
        self._done: dict[str, asyncio.Event] = {}
        self.on_change: Callable[[Record], None] | None = None  # for live views (dashboard)
        # an `Event`-started execution's end: its DLQ and destinations (samrun.durable.outcomes)
        self.on_end: Callable[[Record], Awaitable[None]] | None = None

    # lifecycle

    async def start(self, endpoint: str | None = None) -> None:
        """Reload the state folder's executions; resume those that were running. `endpoint`:
        the Lambda API, left for `samrun callback` in the state folder."""
        if endpoint is not None:
            self.store.folder.mkdir(parents=True, exist_ok=True)
            (self.store.folder / "endpoint").write_text(endpoint + "\n")
        records = await asyncio.to_thread(self.store.load_all)
        resumed = 0
        for record in records:
            if self._expired(record):
                self.store.delete(record["id"])
                continue
            self.records[record["arn"]] = record
            self._index(record)
            if record["status"] in TERMINAL:
                self._settle(record)  # ended before its destinations were told
                self._arm_retention(record)
            else:
                self._arm_all(record)
                for op in record["operations"].values():
                    if op["Type"] == "CHAINED_INVOKE" and op["Status"] == "STARTED":
                        self._chain(record, op)
                if record["status"] == "RUNNING":
                    self.wake(record)
                    resumed += 1
        if resumed:
            logger.warning("durable functions: %d execution(s) resumed from the last run", resumed)

    async def stop(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        tasks = [*self._drivers.values(), *self._tasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _expired(self, record: Record) -> bool:
        due = self._retention_due(record)
        return due is not None and due < time.time()

    def _retention_due(self, record: Record) -> float | None:
        """When an ended execution's RetentionPeriodInDays (scaled) runs out."""
        end = record.get("end")
        if record["status"] not in TERMINAL or end is None:
            return None
        return float(end) + float(record.get("retention_days", 14)) * 86400 / self.scale

    def _arm_retention(self, record: Record) -> None:
        """An ended execution is removed when its retention runs out, on a timer."""
        due = self._retention_due(record)
        if due is not None:
            self._at(record, "$retention", due, self._forget)

    def _forget(self, record: Record) -> None:
        self.records.pop(record["arn"], None)
        for callback in [c for c, (a, _) in self.callbacks.items() if a == record["arn"]]:
            del self.callbacks[callback]
        self._done.pop(record["arn"], None)
        self.store.delete(record["id"])

    def _index(self, record: Record) -> None:
        for op in record["operations"].values():
            callback = (op.get("CallbackDetails") or {}).get("CallbackId")
            if callback:
                self.callbacks[callback] = (record["arn"], op["Id"])

    def save(self, record: Record) -> None:
        self.store.save(record)
        if self.on_change is not None:
            self.on_change(record)

    # starting

    async def start_execution(
        self, target: Target, request: InvokeRequest, request_id: str
    ) -> InvokeResult:
        """An invocation of a durable function (any source): a new execution (or the one of the
        same name and input), then its result (RequestResponse) or 202 (Event)."""
        name = request.durable_execution_name
        if name is not None and not NAME.fullmatch(name):
            raise InvalidParameterValue(
                "DurableExecutionName must be 1-64 characters of a-z, A-Z, 0-9, - and _"
            )
        payload = (request.payload or b"{}").decode("utf-8", "replace")
        record = self._named(target, name) if name else None
        if record is not None and record["input"] != payload:
            raise AlreadyStarted(
                f"Durable execution {name} already started with a different payload",
            )
        if record is None:
            origin = None
            if request.invocation_type is InvocationType.EVENT:
                origin = {
                    "request_id": request_id,
                    "qualifier": target.qualifier,
                    "trace_id": request.trace_id,
                    "retries": outcomes.retry_attempts(
                        self.invoker, target.function.name, target.qualifier
                    ),
                }
            record = self._create(target, name, payload, origin)
        result = InvokeResult(
            request_id=request_id,
            payload=b"",
            executed_version=target.version,
            durable_execution_arn=record["arn"],
        )
        if request.invocation_type is InvocationType.EVENT:
            return result
        done = self._done.setdefault(record["arn"], asyncio.Event())
        if record["status"] not in TERMINAL:
            # a synchronous invocation waits at most 15 minutes for the execution
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), SYNC_LIMIT_S)
        return self._sync_result(record, result)

    def _sync_result(self, record: Record, result: InvokeResult) -> InvokeResult:
        status = record["status"]
        if status == "SUCCEEDED":
            return _with(result, payload=(record["result"] or "null").encode())
        error = record.get("error") or {}
        body = {
            "errorType": error.get("ErrorType") or f"Execution{status.title().replace('_', '')}",
            "errorMessage": error.get("ErrorMessage") or f"The durable execution is {status}",
        }
        return _with(
            result,
            payload=json.dumps(body).encode(),
            function_error="Unhandled",
            error_type=body["errorType"],
        )

    def _named(self, target: Target, name: str) -> Record | None:
        for record in self.records.values():
            if record["function"] == target.function.name and record["name"] == name:
                return record
        return None

    def _create(
        self, target: Target, name: str | None, payload: str, origin: dict[str, Any] | None = None
    ) -> Record:
        execution_id = str(uuid.uuid4())
        name = name or execution_id
        function_arn = f"{target.function.arn}:{target.version}"
        durable = target.config.durable
        assert durable is not None
        record = engine.new_record(
            execution_id=execution_id,
            arn=f"{function_arn}/durable-execution/{name}/{execution_id}",
            name=name,
            function=target.function.name,
            version=target.version,
            function_arn=function_arn,
            payload=payload,
            timeout_s=durable.execution_timeout_s,
            retention_days=durable.retention_days,
            now=time.time(),
        )
        if origin is not None:
            record["async"] = origin
        self.records[record["arn"]] = record
        self._done[record["arn"]] = asyncio.Event()
        self.save(record)
        self._arm_timeout(record)
        self.wake(record)
        return record

    # driving

    def wake(self, record: Record) -> None:
        """Invoke the handler (again) soon; one invocation at a time per execution."""
        record["wake"] = True
        arn = record["arn"]
        if arn not in self._drivers:
            task = asyncio.create_task(self._drive(record))
            self._drivers[arn] = task
            task.add_done_callback(lambda _: self._drivers.pop(arn, None))

    async def _drive(self, record: Record) -> None:
        failures = 0
        # an `Event` start: its EventInvokeConfig's MaximumRetryAttempts, as Lambda retries one
        origin = record.get("async")
        retries = (origin or {}).get("retries")
        attempts = INVOCATION_ATTEMPTS if retries is None else int(retries) + 1
        while record["status"] == "RUNNING" and record.get("wake"):
            if self._aged_out(record):
                return
            record["wake"] = False
            record["invocation"] += 1
            record["dirty"] = []
            token = engine.token(record)
            self.save(record)
            event = {
                "DurableExecutionArn": record["arn"],
                "CheckpointToken": token,
                "InitialExecutionState": {
                    "Operations": [engine.millis(op) for op in engine.operations(record)],
                    "NextMarker": "",
                },
            }
            qualifier = None if record["version"] == LATEST else record["version"]
            request_id = str(uuid.uuid4())
            started = time.time()
            error: dict[str, Any] | None = None
            output: dict[str, Any] = {}
            try:
                target = self.invoker.directory.resolve(record["function"], qualifier)
                request = InvokeRequest(
                    function=record["function"],
                    qualifier=qualifier,
                    payload=json.dumps(event).encode(),
                )
                result = await self._run_unthrottled(record, target, request, request_id)
                if result is None:
                    return  # throttled until its event aged out
                request_id = result.request_id
                if result.function_error:
                    error = _function_error(result.payload)
                else:
                    output = json.loads(result.payload or b"{}")
                    if not isinstance(output, dict) or "Status" not in output:
                        error = {
                            "ErrorType": "InvalidResponse",
                            "ErrorMessage": "the durable function returned no Status: is it "
                            "decorated with @durable_execution?",
                        }
            except (LambdaApiError, ValueError) as exc:
                error = {"ErrorType": type(exc).__name__, "ErrorMessage": str(exc)}
            now = time.time()
            details: dict[str, Any] = {
                "StartTimestamp": started,
                "EndTimestamp": now,
                "RequestId": request_id,
            }
            if error is not None:
                details["Error"] = engine.error_payload(error)
            engine.add_event(record, "InvocationCompleted", now, details=details)
            status = output.get("Status")
            if error is not None:
                failures += 1
                if failures >= attempts:
                    engine.complete(record, "FAILED", now, error=error)
                else:
                    record["wake"] = True
                    self.save(record)
                    await asyncio.sleep(retry_delay(origin, failures) / self.scale)
                    continue
            elif status == "SUCCEEDED":
                engine.complete(record, "SUCCEEDED", now, result=output.get("Result") or "")
            elif status == "FAILED":
                engine.complete(record, "FAILED", now, error=output.get("Error") or {})
            else:
                failures = 0
                if record["dirty"]:  # something completed while the handler ran
                    record["wake"] = True
            self.save(record)
            if record["status"] in TERMINAL:
                self._finished(record)

    async def _run_unthrottled(
        self, record: Record, target: Target, request: InvokeRequest, request_id: str
    ) -> InvokeResult | None:
        """One invocation; a throttle is retried with Lambda's backoff (1 s doubling to 5 min),
        using up no attempt and recording no invocation, as the async queue does. None: an
        `Event` start aged out meanwhile."""
        throttles = 0
        while True:
            try:
                result = await self.invoker.run(target, request, request_id)
            except TooManyRequests:
                throttles += 1
            else:
                if record.get("async") is not None and not result.function_error:
                    record["async"]["delivered"] = True  # the event ran: no age limit any more
                return result
            delay = min(THROTTLE_MAX_S, THROTTLE_FIRST_S * 2 ** (throttles - 1))
            await asyncio.sleep(delay / self.scale)
            if record["status"] != "RUNNING" or self._aged_out(record):
                return None

    def _aged_out(self, record: Record) -> bool:
        """An `Event` start not yet run older than its EventInvokeConfig's
        MaximumEventAgeInSeconds is not tried again, as Lambda drops such an event: the
        execution fails (EventAgeExceeded, for its OnFailure destination)."""
        origin = record.get("async")
        if origin is None or origin.get("delivered"):
            return False
        qualifier = origin.get("qualifier")
        max_age = DEFAULT_MAX_AGE_S
        with contextlib.suppress(ResourceNotFound):
            target = self.invoker.directory.resolve(record["function"], qualifier)
            config = self.invoker.directory.invoke_config(target)
            if config is not None and config.maximum_event_age_s is not None:
                max_age = config.maximum_event_age_s
        if time.time() - float(record["start"]) <= max_age / self.scale:
            return False
        origin["condition"] = EVENT_AGE_EXCEEDED
        aged = {"ErrorType": "EventAgeExceeded", "ErrorMessage": "Event age exceeded"}
        engine.complete(record, "FAILED", time.time(), error=aged)
        self.save(record)
        self._finished(record)
        return True

    def _finished(self, record: Record) -> None:
        arn = record["arn"]
        for key in [k for k in self._timers if k[0] == arn]:
            self._timers.pop(key).cancel()
        self._done.setdefault(arn, asyncio.Event()).set()
        self._settle(record)
        self._arm_retention(record)

    def _settle(self, record: Record) -> None:
        """An `Event`-started execution that ended: its DLQ / destinations, once (the record
        remembers it, so a restart in between still sends)."""
        origin = record.get("async")
        arn = record["arn"]
        if not origin or origin.get("settled") or self.on_end is None or arn in self._settling:
            return
        on_end = self.on_end
        self._settling.add(arn)

        async def settle() -> None:
            try:
                await on_end(record)
            finally:
                self._settling.discard(arn)
            origin["settled"] = True
            if self.records.get(arn) is record:
                self.save(record)

        task = asyncio.create_task(settle())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # timers

    def _arm_all(self, record: Record) -> None:
        self._arm_timeout(record)
        for op in record["operations"].values():
            self._arm(record, op)

    def _arm_timeout(self, record: Record) -> None:
        if record["status"] in TERMINAL:
            return
        pause = record.get("pause") or {}
        if pause.get("timeout_paused"):
            return  # the clock stands still while paused; `resume` re-arms it
        self._at(record, "$timeout", expected_timeout(record, self.scale), self._timed_out)

    def _arm(self, record: Record, op: dict[str, Any]) -> None:
        kind, status = op["Type"], op["Status"]
        if kind == "WAIT" and status == "STARTED":
            due = op["WaitDetails"]["ScheduledEndTimestamp"]
            self._at(record, op["Id"], due, lambda r: self._resume_op(r, op["Id"], "SUCCEEDED"))
        elif kind == "STEP" and status == "PENDING":
            due = op["StepDetails"].get("NextAttemptTimestamp") or time.time()
            self._at(record, op["Id"], due, lambda r: self._resume_op(r, op["Id"], "READY"))
        elif kind == "CALLBACK" and status == "STARTED":
            options = op.get("callback") or {}
            dues = []
            if options.get("timeout"):
                dues.append(op["StartTimestamp"] + options["timeout"] / self.scale)
            if options.get("heartbeat"):
                dues.append(options["beat"] + options["heartbeat"] / self.scale)
            if dues:
                self._at(record, op["Id"], min(dues), lambda r: self._callback_timed_out(r, op))

    def _at(self, record: Record, key: str, due: float, fire: Callable[[Record], None]) -> None:
        loop = asyncio.get_running_loop()
        previous = self._timers.pop((record["arn"], key), None)
        if previous is not None:
            previous.cancel()

        def run() -> None:
            self._timers.pop((record["arn"], key), None)
            if self.records.get(record["arn"]) is record:
                fire(record)

        delay = max(0.0, due - time.time())
        self._timers[(record["arn"], key)] = loop.call_later(delay, run)

    def _timed_out(self, record: Record) -> None:
        error = {"ErrorType": "ExecutionTimedOut", "ErrorMessage": "Execution timed out"}
        engine.complete(record, "TIMED_OUT", time.time(), error=error)
        self.save(record)
        self._finished(record)

    def _complete_op(
        self, record: Record, op_id: str, status: str, result: str | None = None, error: Any = None
    ) -> bool:
        changed = engine.finish_operation(
            record, op_id, status, time.time(), result=result, error=error
        )
        if changed:
            self.save(record)
            if record["status"] == "RUNNING":
                self.wake(record)
        return changed

    def _resume_op(self, record: Record, op_id: str, status: str) -> None:
        self._complete_op(record, op_id, status)

    def _callback_timed_out(self, record: Record, op: dict[str, Any]) -> None:
        options = op.get("callback") or {}
        now = time.time()
        heartbeat_due = options.get("heartbeat") and (
            options["beat"] + options["heartbeat"] / self.scale <= now + 0.001
        )
        kind = "Heartbeat" if heartbeat_due else "Callback"
        error = {
            "ErrorType": f"{kind}Timeout",
            "ErrorMessage": f"Callback {kind.lower()} timed out",
        }
        self._complete_op(record, op["Id"], "TIMED_OUT", error=error)

    def _chain(self, record: Record, op: dict[str, Any]) -> None:
        """A chained invoke: the named function (durable or not), its result into the op."""
        chained = op.get("chained") or {}

        async def run() -> None:
            request = InvokeRequest(
                function=str(chained.get("function")),
                payload=str(chained.get("payload") or "").encode() or b"{}",
            )
            try:
                result = await self.invoker.invoke(request)
            except LambdaApiError as exc:
                error = {"ErrorType": exc.code, "ErrorMessage": exc.message}
                self._complete_op(record, op["Id"], "FAILED", error=error)
                return
            if result.function_error:
                error = _function_error(result.payload)
                self._complete_op(record, op["Id"], "FAILED", error=error)
            else:
                text = result.payload.decode("utf-8", "replace")
                self._complete_op(record, op["Id"], "SUCCEEDED", result=text)

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # the API

    def get(self, arn: str) -> Record:
        record = self.records.get(arn)
        if record is None:
            raise ResourceNotFound(f"Durable execution not found: {arn}")
        return record

    def checkpoint(
        self, arn: str, token: str, updates: list[Any], client_token: str | None
    ) -> dict[str, Any]:
        record = self._by_token(arn, token)
        now = time.time()
        changed = engine.apply_updates(record, updates, now, self.scale)
        for op_id in changed:
            op = record["operations"][op_id]
            callback = (op.get("CallbackDetails") or {}).get("CallbackId")
            if callback:
                self.callbacks[callback] = (arn, op_id)
            if op["Type"] == "CHAINED_INVOKE" and op["Status"] == "STARTED":
                self._chain(record, op)
            self._arm(record, op)
        ids = changed + [i for i in record["dirty"] if i not in changed]
        record["dirty"] = []
        body: dict[str, Any] = {
            "NewExecutionState": {
                "Operations": [engine.wire_operation(record["operations"][i]) for i in ids]
            }
        }
        if record["status"] not in TERMINAL:
            body["CheckpointToken"] = engine.token(record)
        self.save(record)
        if record["status"] in TERMINAL:
            self._finished(record)
        return body

    def state(self, arn: str, token: str, marker: str | None, max_items: int) -> dict[str, Any]:
        record = self._by_token(arn, token)
        operations = engine.operations(record)
        return _page(operations, "Operations", marker, max_items or 1000)

    def _by_token(self, arn: str, token: str) -> Record:
        record = self.records.get(arn)
        if record is None:
            raise InvalidParameterValue(f"Durable execution not found: {arn}")
        prefix = f"{record['id'].replace('-', '')}{record['invocation']:06d}"
        if record["status"] in TERMINAL or not token.startswith(prefix):
            raise InvalidParameterValue("Invalid checkpoint token")
        return record

    def callback(self, callback_id: str, status: str, result: str | None, error: Any) -> None:
        found = self.callbacks.get(callback_id)
        if found is None or found[0] not in self.records:
            raise ResourceNotFound(f"Callback not found: {callback_id}")
        record = self.records[found[0]]
        op = record["operations"][found[1]]
        if op["Status"] != "STARTED" or record["status"] in TERMINAL:
            raise CallbackTimeout(
                "The callback ID token has either expired or the callback associated with the "
                "token has already been closed."
            )
        self._complete_op(record, found[1], status, result=result, error=error)

    def heartbeat(self, callback_id: str) -> None:
        found = self.callbacks.get(callback_id)
        if found is None or found[0] not in self.records:
            raise ResourceNotFound(f"Callback not found: {callback_id}")
        record = self.records[found[0]]
        op = record["operations"][found[1]]
        if op["Status"] != "STARTED" or record["status"] in TERMINAL:
            raise CallbackTimeout("The callback has already been closed or has timed out.")
        op.setdefault("callback", {})["beat"] = time.time()
        self.save(record)
        self._arm(record, op)

    def stop_execution(self, arn: str, error: Any) -> float:
        record = self.get(arn)
        if record["status"] in TERMINAL:
            raise InvalidParameterValue(f"Durable execution {arn} is already {record['status']}")
        now = time.time()
        default = {"ErrorType": "ExecutionStopped", "ErrorMessage": "Execution stopped"}
        engine.complete(record, "STOPPED", now, error=error or default)
        self.save(record)
        self._finished(record)
        return now

    def pause(self, arn: str, reason: str | None, timeout_paused: bool) -> None:
        record = self.get(arn)
        if record["status"] != "RUNNING":
            raise ResourceConflict(f"Durable execution {arn} is {record['status']}: not running")
        now = time.time()
        record["status"] = "PAUSED"
        record["pause"] = {"at": now, "reason": reason, "timeout_paused": timeout_paused}
        if timeout_paused:  # ExecutionTimeoutPaused: the timeout does not run while paused
            handle = self._timers.pop((arn, "$timeout"), None)
            if handle is not None:
                handle.cancel()
        details: dict[str, Any] = {"PauseRequestTimestamp": now}
        details["ExecutionTimeoutPaused"] = timeout_paused
        if reason:
            details["Reason"] = {"Payload": reason}
        engine.add_event(record, "ExecutionPaused", now, details=details)
        self.save(record)

    def resume(self, arn: str, reason: str | None) -> None:
        record = self.get(arn)
        if record["status"] != "PAUSED":
            raise ResourceConflict(f"Durable execution {arn} is {record['status']}: not paused")
        now = time.time()
        pause = record.get("pause") or {}
        if pause.get("timeout_paused"):  # the deadline moves by the time spent paused
            record["paused_s"] = float(record.get("paused_s") or 0) + now - float(pause["at"])
        record["status"], record["pause"] = "RUNNING", None
        details: dict[str, Any] = {"ResumeRequestTimestamp": now}
        if reason:
            details["Reason"] = {"Payload": reason}
        engine.add_event(record, "ExecutionResumed", now, details=details)
        self.save(record)
        self._arm_timeout(record)
        self.wake(record)

    def delete(self, arn: str) -> float:
        record = self.get(arn)
        if record["status"] not in TERMINAL:
            raise ResourceConflict(
                f"Durable execution {arn} is {record['status']}: stop it before deleting it"
            )
        del self.records[arn]
        for callback in [c for c, (a, _) in self.callbacks.items() if a == arn]:
            del self.callbacks[callback]
        self.store.delete(record["id"])
        return time.time()

    def purge(self) -> None:
        """Completed executions past their RetentionPeriodInDays are gone."""
        for arn, record in list(self.records.items()):
            if self._expired(record):
                del self.records[arn]
                self.store.delete(record["id"])

    def summary(self) -> list[dict[str, Any]]:
        """What /_samrun/state shows under durableExecutions."""
        return [summary(record) for record in self.records.values()]


def retry_delay(origin: dict[str, Any] | None, failures: int) -> float:
    """Seconds before re-invoking after the `failures`-th failed invocation: an `Event` start
    waits as Lambda's async retries do (1, then 2 minutes), any other doubles from 2 s to 60."""
    if origin is not None:
        return RETRY_DELAYS_S[min(failures, 2) - 1]
    doubled: float = min(2.0**failures, 60)
    return doubled


def expected_timeout(record: Record, scale: float, now: float | None = None) -> float:
    """When ExecutionTimeout ends the execution (epoch seconds): its start plus the timeout
    divided by `--time-scale`, plus the time it spent paused with ExecutionTimeoutPaused (and,
    while so paused, the pause so far)."""
    due = float(record["start"]) + float(record["timeout_s"]) / scale
    due += float(record.get("paused_s") or 0)
    pause = record.get("pause") or {}
    if pause.get("timeout_paused"):
        due += max(0.0, (time.time() if now is None else now) - float(pause["at"]))
    return due


def summary(record: Record) -> dict[str, Any]:
    waiting = [
        {"id": op["Id"], "name": op.get("Name"), "type": op["Type"], "status": op["Status"]}
        for op in record["operations"].values()
        if op["Type"] in ("WAIT", "CALLBACK", "CHAINED_INVOKE") and op["Status"] == "STARTED"
    ]
    return {
        "arn": record["arn"],
        "name": record["name"],
        "function": record["function"],
        "version": record["version"],
        "status": record["status"],
        "start": record["start"],
        "end": record.get("end"),
        "operations": len(record["operations"]) - 1,
        "waitingOn": waiting,
    }


def _page(items: list[Any], key: str, marker: str | None, size: int) -> dict[str, Any]:
    try:
        start = int(marker) if marker else 0
    except ValueError:
        start = -1
    if start < 0:  # only a NextMarker samrun gave out
        raise InvalidParameterValue(f"Invalid marker: {str(marker)[:40]}")
    body: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        body["NextMarker"] = str(start + size)
    return body


def page(items: list[Any], key: str, marker: str | None, size: int) -> dict[str, Any]:
    return _page(items, key, marker, size)


def _function_error(payload: bytes) -> dict[str, Any]:
    try:
        body = json.loads(payload or b"{}")
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    return {
        "ErrorType": str(body.get("errorType") or "Unhandled"),
        "ErrorMessage": str(body.get("errorMessage") or payload[:1000].decode("utf-8", "replace")),
    }


def _with(result: InvokeResult, **changes: Any) -> InvokeResult:
    from dataclasses import replace

    return replace(result, **changes)
