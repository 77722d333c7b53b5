"""X-Ray segments of the embedded endpoint's state machine executions, in moto's own process.

As Step Functions does for a state machine with `TracingConfiguration: {Enabled: true}`, an
execution records an `AWS::StepFunctions::StateMachine` segment (under the caller's segment when
StartExecution came with an `X-Amzn-Trace-Id`, or its `traceHeader`), a subsegment per state, and
in a Lambda task's state a `Lambda` subsegment whose id is the `Parent` of the trace header the
invocation carries, so the function's segments continue the trace. Each execution is traced
unless the incoming header says `Sampled=0`. The segment goes to samrun's X-Ray daemon over UDP
(the daemon's wire format), as any traced service's would: samrun stores and forwards it.
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

HEADER_LINE = json.dumps({"format": "json", "version": 1}) + "\n"


@dataclass(slots=True)
class ExecutionTrace:
    header: dict[str, str]  # Root, Parent (the caller's segment, if any)
    segment: dict[str, Any]
    states: list[dict[str, Any]] = field(default_factory=list)


_traces: dict[str, ExecutionTrace] = {}
_lock = threading.Lock()
_invoking = threading.local()  # the trace header of the Lambda task this thread is invoking


def new_id() -> str:
    return secrets.token_hex(8)


def parse(header: str | None) -> dict[str, str]:
    pairs = (part.strip().partition("=") for part in (header or "").split(";"))
    return {key: value for key, sep, value in pairs if sep and key}


def add_header(request: Any, **_: Any) -> None:
    """botocore's before-send hook on the Lambda tasks' client: the task's trace header."""
    header = getattr(_invoking, "header", None)
    if header:
        request.headers["X-Amzn-Trace-Id"] = header


def install(daemon: str, request_header: Callable[[], str | None]) -> None:
    """Trace the executions of traced state machines; `request_header` is the X-Amzn-Trace-Id of
    the request the calling thread serves (StartExecution's)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.component.state.state import CommonStateField
    from moto.stepfunctions.parser.backend.execution import (
        BaseExecutionWorkerCommunication,
        Execution,
    )

    host, _, port = daemon.rpartition(":")
    address = (host, int(port))
    start, terminated = Execution.start, BaseExecutionWorkerCommunication.terminated
    eval_body = CommonStateField._eval_body
    invoke = lambda_eval_utils.execute_lambda_function_integration

    def traced_start(self: Any) -> None:
        machine = self.state_machine  # moto's StateMachine (a snapshot of it)
        if (getattr(machine, "tracingConfiguration", None) or {}).get("enabled"):
            begin(self.exec_arn, machine, self.trace_header or request_header())
        start(self)

    def traced_terminated(self: Any) -> None:
        terminated(self)
        execution = self.execution
        with _lock:
            trace = _traces.pop(execution.exec_arn, None)
        if trace is not None:
            send(address, finish(trace, str(getattr(execution.exec_status, "value", ""))))

    def traced_eval_body(self: Any, env: Any) -> None:
        trace = trace_of(env)
        if trace is None:
            eval_body(self, env)
            return
        state: dict[str, Any] = {"id": new_id(), "name": self.name, "start_time": time.time()}
        with _lock:
            trace.states.append(state)
        try:
            eval_body(self, env)
        except Exception:
            state["error"] = True
            raise
        finally:
            state["end_time"] = time.time()

    def traced_invoke(
        env: Any, parameters: dict[str, Any], region: str, state_credentials: Any
    ) -> None:
        trace = trace_of(env)
        if trace is None:
            invoke(env, parameters, region, state_credentials)
            return
        call: dict[str, Any] = {
            "id": new_id(),
            "name": "Lambda",
            "namespace": "aws",
            "start_time": time.time(),
            "aws": {
                "operation": "Invoke",
                "region": region,
                "function_name": str(parameters.get("FunctionName", "")),
            },
        }
        name = state_name(env)
        with _lock:
            running = [s for s in reversed(trace.states) if "end_time" not in s]
            state = next((s for s in running if s["name"] == name), None)
            (state or trace.segment).setdefault("subsegments", []).append(call)
        _invoking.header = f"Root={trace.header['Root']};Parent={call['id']};Sampled=1"
        try:
            invoke(env, parameters, region, state_credentials)
        except Exception:
            call["fault"] = True
            raise
        finally:
            _invoking.header = None
            call["end_time"] = time.time()

    Execution.start = traced_start  # type: ignore[method-assign]
    BaseExecutionWorkerCommunication.terminated = traced_terminated  # type: ignore[method-assign]
    CommonStateField._eval_body = traced_eval_body  # type: ignore[method-assign]
    lambda_eval_utils.execute_lambda_function_integration = traced_invoke


def state_name(env: Any) -> str | None:
    try:
        return str(env.states.context_object.context_object_data["State"]["Name"])
    except (AttributeError, KeyError, TypeError):
        return None


def trace_of(env: Any) -> ExecutionTrace | None:
    try:
        execution = env.states.context_object.context_object_data["Execution"]["Id"]
    except (AttributeError, KeyError, TypeError):
        return None
    return _traces.get(execution)


def begin(execution: str, machine: Any, header: str | None) -> None:
    fields = parse(header)
    if fields.get("Sampled") == "0":
        return
    now = time.time()
    root = fields.get("Root") or f"1-{int(now):08x}-{secrets.token_hex(12)}"
    segment: dict[str, Any] = {
        "id": new_id(),
        "trace_id": root,
        "name": machine.name,
        "origin": "AWS::StepFunctions::StateMachine",
        "start_time": now,
        "aws": {"execution_arn": execution, "state_machine_arn": machine.arn},
    }
    if fields.get("Parent"):
        segment["parent_id"] = fields["Parent"]
    with _lock:
        _traces[execution] = ExecutionTrace({"Root": root}, segment)


def finish(trace: ExecutionTrace, status: str) -> dict[str, Any]:
    """The segment, its states in the order they ran; a failed or timed-out execution is an
    error, as X-Ray marks it."""
    segment = trace.segment
    segment["end_time"] = time.time()
    for state in trace.states:
        state.setdefault("end_time", segment["end_time"])
    if trace.states:
        segment["subsegments"] = [*trace.states, *segment.get("subsegments", [])]
    if status in ("FAILED", "TIMED_OUT"):
        segment["error"] = True
    return segment


def send(address: tuple[str, int], document: dict[str, Any]) -> None:
    packet = (HEADER_LINE + json.dumps(document, separators=(",", ":"))).encode()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.sendto(packet, address)
    except OSError:
        pass  # samrun is gone or stopping: a trace is not worth an error in an execution
