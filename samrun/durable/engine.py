"""Checkpoint processing: how Lambda applies a CheckpointDurableExecution batch to an execution's
operations, and the history events (GetDurableExecutionHistory's shapes and order) each change
records. Pure functions over an execution's record (a JSON dict, see `new_record`); the service
does the I/O. Timestamps are epoch seconds, as the rest-json wire carries them.
"""

from __future__ import annotations

import copy
import secrets
from typing import Any

from samrun.errors import InvalidParameterValue

Record = dict[str, Any]
Op = dict[str, Any]

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "STOPPED"})
STATUSES = (  # an execution's, botocore's ExecutionStatus enum (the Statuses filter's values)
    "RUNNING",
    "SUCCEEDED",
    "FAILED",
    "TIMED_OUT",
    "STOPPED",
    "DELETING",
    "PAUSING",
    "PAUSED",
)
OP_DONE = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT", "STOPPED"})
ACTIONS = {
    "EXECUTION": {"SUCCEED", "FAIL"},
    "CONTEXT": {"START", "SUCCEED", "FAIL"},
    "STEP": {"START", "SUCCEED", "FAIL", "RETRY"},
    "WAIT": {"START", "CANCEL"},
    "CALLBACK": {"START", "CANCEL"},
    "CHAINED_INVOKE": {"START", "CANCEL"},
}
DETAILS_KEY = {
    "STEP": "StepDetails",
    "WAIT": "WaitDetails",
    "CALLBACK": "CallbackDetails",
    "CHAINED_INVOKE": "ChainedInvokeDetails",
    "CONTEXT": "ContextDetails",
}
EVENT_PREFIX = {
    "STEP": "Step",
    "WAIT": "Wait",
    "CALLBACK": "Callback",
    "CHAINED_INVOKE": "ChainedInvoke",
    "CONTEXT": "Context",
}


def new_record(
    *,
    execution_id: str,
    arn: str,
    name: str,
    function: str,
    version: str,
    function_arn: str,
    payload: str,
    timeout_s: int,
    retention_days: int,
    now: float,
) -> Record:
    """A started execution: its EXECUTION operation (the input) and ExecutionStarted."""
    record: Record = {
        "id": execution_id,
        "arn": arn,
        "name": name,
        "function": function,
        "version": version,
        "function_arn": function_arn,
        "input": payload,
        "status": "RUNNING",
        "start": now,
        "end": None,
        "result": None,
        "error": None,
        "timeout_s": timeout_s,
        "retention_days": retention_days,
        "operations": {},
        "order": [],
        "events": [],
        "invocation": 0,
        "seq": 0,
        "dirty": [],
        "pause": None,
        "chained": {},
    }
    _put(
        record,
        {
            "Id": execution_id,
            "Type": "EXECUTION",
            "Status": "STARTED",
            "StartTimestamp": now,
            "ExecutionDetails": {"InputPayload": payload},
        },
    )
    details = {"Input": {"Payload": payload}, "ExecutionTimeout": timeout_s}
    add_event(record, "ExecutionStarted", now, Id=execution_id, Name=name, details=details)
    return record


def _put(record: Record, op: Op) -> None:
    if op["Id"] not in record["operations"]:
        record["order"].append(op["Id"])
    record["operations"][op["Id"]] = op


def add_event(
    record: Record,
    event_type: str,
    now: float,
    *,
    op: Op | None = None,
    details: dict[str, Any] | None = None,
    **fields: Any,
) -> None:
    """One history event, numbered in order, with `<EventType>Details`."""
    event: dict[str, Any] = {
        "EventType": event_type,
        "EventId": len(record["events"]) + 1,
        "EventTimestamp": now,
    }
    if op is not None:
        for key in ("Id", "Name", "ParentId", "SubType"):
            if op.get(key):
                event[key] = op[key]
    event.update({k: v for k, v in fields.items() if v is not None})
    if details is not None:
        event[f"{event_type}Details"] = details
    record["events"].append(event)


def error_payload(error: Any) -> dict[str, Any]:
    return {"Payload": error if isinstance(error, dict) else {"ErrorMessage": str(error)}}


def apply_updates(
    record: Record, updates: list[dict[str, Any]], now: float, time_scale: float
) -> list[str]:
    """Apply one checkpoint's updates in order (each checked against the state the ones before
    it left), all or none; the ids of the operations they changed."""
    snapshot = copy.deepcopy(record)
    changed: list[str] = []
    try:
        for update in updates:
            check_update(record, update)
            op_id = apply_update(record, update, now, time_scale)
            if op_id not in changed:
                changed.append(op_id)
    except InvalidParameterValue:
        record.clear()
        record.update(snapshot)
        raise
    return changed


def check_update(record: Record, update: Any) -> None:
    """Lambda's InvalidParameterValueException for an update its operation cannot take now."""
    if not isinstance(update, dict):
        raise InvalidParameterValue("Each update must be an OperationUpdate object")
    kind, action, op_id = update.get("Type"), update.get("Action"), update.get("Id")
    if not isinstance(op_id, str) or not op_id:
        raise InvalidParameterValue("OperationUpdate.Id is required")
    if kind not in ACTIONS:
        raise InvalidParameterValue(f"Invalid operation type: {kind}")
    if action not in ACTIONS[kind]:
        raise InvalidParameterValue(f"Invalid action {action} for operation type {kind}")
    if kind == "EXECUTION":
        if op_id != record["id"]:
            raise InvalidParameterValue(f"Invalid execution operation id: {op_id}")
        return
    _check_state(record, update, kind, action, op_id)
    parent = update.get("ParentId")
    if parent is not None and parent not in record["operations"]:
        raise InvalidParameterValue(f"Parent operation {parent} does not exist")


def _check_state(
    record: Record, update: dict[str, Any], kind: str, action: str, op_id: str
) -> None:
    current = record["operations"].get(op_id)
    if current is not None and current["Type"] != kind:
        raise InvalidParameterValue(f"Operation {op_id} is a {current['Type']}, not a {kind}")
    if action == "START":
        restart = (
            kind == "STEP" and current is not None and current["Status"] in ("READY", "STARTED")
        )
        if current is not None and not restart:
            raise InvalidParameterValue(f"Operation {op_id} has already started")
        if kind == "WAIT":
            seconds = (update.get("WaitOptions") or {}).get("WaitSeconds")
            if not isinstance(seconds, int) or seconds < 1:
                raise InvalidParameterValue("WaitOptions.WaitSeconds must be at least 1")
    elif current is None:
        raise InvalidParameterValue(f"Operation {op_id} has not started")
    elif current["Status"] in OP_DONE:
        raise InvalidParameterValue(f"Operation {op_id} has already completed")


def apply_update(record: Record, update: dict[str, Any], now: float, time_scale: float) -> str:
    kind, action, op_id = update["Type"], update["Action"], update["Id"]
    if kind == "EXECUTION":
        if action == "SUCCEED":
            complete(record, "SUCCEEDED", now, result=update.get("Payload", ""))
        else:
            complete(record, "FAILED", now, error=update.get("Error") or {})
    elif action == "START":
        op = record["operations"].get(op_id)
        if op is None:
            op = {"Id": op_id, "Type": kind, "Status": "STARTED", "StartTimestamp": now}
            for key in ("ParentId", "Name", "SubType"):
                if update.get(key):
                    op[key] = update[key]
            _put(record, op)
        op["Status"] = "STARTED"
        _start(record, op, update, now, time_scale)
    else:
        _end(record, record["operations"][op_id], update, now, time_scale)
    return str(op_id)


def _end(record: Record, op: Op, update: dict[str, Any], now: float, time_scale: float) -> None:
    """SUCCEED, FAIL, RETRY (a step) or CANCEL of a started operation, with its event."""
    kind, action = op["Type"], update["Action"]
    details = op.setdefault(DETAILS_KEY[kind], {})
    event: dict[str, Any] = {}
    if kind == "STEP":
        details["Attempt"] = int(details.get("Attempt", 0)) + 1
        details.pop("NextAttemptTimestamp", None)
        event["RetryDetails"] = {"CurrentAttempt": details["Attempt"]}
    if action == "RETRY":
        delay = int((update.get("StepOptions") or {}).get("NextAttemptDelaySeconds") or 1)
        event["RetryDetails"]["NextAttemptDelaySeconds"] = delay
        op["Status"] = "PENDING"
        details["NextAttemptTimestamp"] = now + delay / time_scale
        if update.get("Error"):
            details["Error"] = update["Error"]
        event["Error"] = error_payload(update.get("Error") or {})
        add_event(record, "StepFailed", now, op=op, details=event)
    elif action == "SUCCEED":
        op["Status"], op["EndTimestamp"] = "SUCCEEDED", now
        details["Result"] = update.get("Payload", "")
        event["Result"] = {"Payload": details["Result"]}
        replay = (update.get("ContextOptions") or {}).get("ReplayChildren")
        if kind == "CONTEXT" and replay is not None:
            details["ReplayChildren"] = replay
        add_event(record, f"{EVENT_PREFIX[kind]}Succeeded", now, op=op, details=event)
    elif action == "FAIL":
        op["Status"], op["EndTimestamp"] = "FAILED", now
        details["Error"] = update.get("Error") or {}
        event["Error"] = error_payload(details["Error"])
        add_event(record, f"{EVENT_PREFIX[kind]}Failed", now, op=op, details=event)
    else:  # CANCEL
        op["Status"], op["EndTimestamp"] = "CANCELLED", now
        cancelled = {"WAIT": "WaitCancelled", "CHAINED_INVOKE": "ChainedInvokeStopped"}
        add_event(record, cancelled.get(kind, "CallbackFailed"), now, op=op, details={})


def _start(record: Record, op: Op, update: dict[str, Any], now: float, scale: float) -> None:
    kind = op["Type"]
    if kind == "STEP":
        details = op.setdefault("StepDetails", {})
        details.setdefault("Attempt", 0)
        details.pop("NextAttemptTimestamp", None)
        add_event(record, "StepStarted", now, op=op, details={})
    elif kind == "CONTEXT":
        add_event(record, "ContextStarted", now, op=op, details={})
    elif kind == "WAIT":
        seconds = int(update["WaitOptions"]["WaitSeconds"])
        end = now + seconds / scale
        op["WaitDetails"] = {"ScheduledEndTimestamp": end}
        op["wait_seconds"] = seconds
        details = {"Duration": seconds, "ScheduledEndTimestamp": end}
        add_event(record, "WaitStarted", now, op=op, details=details)
    elif kind == "CALLBACK":
        options = update.get("CallbackOptions") or {}
        callback_id = secrets.token_hex(24)
        op["CallbackDetails"] = {"CallbackId": callback_id}
        timeout, heartbeat = options.get("TimeoutSeconds"), options.get("HeartbeatTimeoutSeconds")
        op["callback"] = {"timeout": timeout or 0, "heartbeat": heartbeat or 0, "beat": now}
        details = {"CallbackId": callback_id}
        if timeout:
            details["Timeout"] = timeout
        if heartbeat:
            details["HeartbeatTimeout"] = heartbeat
        add_event(record, "CallbackStarted", now, op=op, details=details)
    elif kind == "CHAINED_INVOKE":
        options = update.get("ChainedInvokeOptions") or {}
        name = options.get("FunctionName")
        if not name:
            raise InvalidParameterValue("ChainedInvokeOptions.FunctionName is required")
        op["ChainedInvokeDetails"] = {}
        op["chained"] = {"function": name, "payload": update.get("Payload") or ""}
        details = {"FunctionName": name, "Input": {"Payload": update.get("Payload") or ""}}
        add_event(record, "ChainedInvokeStarted", now, op=op, details=details)


def complete(
    record: Record, status: str, now: float, *, result: str | None = None, error: Any = None
) -> None:
    """The execution ends (SUCCEEDED, FAILED, TIMED_OUT, STOPPED), once."""
    if record["status"] in TERMINAL:
        return
    record["status"], record["end"] = status, now
    op = record["operations"][record["id"]]
    op["Status"], op["EndTimestamp"] = status, now
    if status == "SUCCEEDED":
        record["result"] = result or ""
        details: dict[str, Any] = {"Result": {"Payload": record["result"]}}
        add_event(
            record, "ExecutionSucceeded", now, Id=record["id"], Name=record["name"], details=details
        )
        return
    record["error"] = error if isinstance(error, dict) else {}
    kind = {"FAILED": "ExecutionFailed", "TIMED_OUT": "ExecutionTimedOut"}.get(
        status, "ExecutionStopped"
    )
    details = {"Error": error_payload(record["error"])}
    add_event(record, kind, now, Id=record["id"], Name=record["name"], details=details)


def finish_operation(
    record: Record,
    op_id: str,
    status: str,
    now: float,
    *,
    result: str | None = None,
    error: Any = None,
) -> bool:
    """A service-side completion (a wait's end, a callback, a chained invoke, a retry's time):
    True when it changed the operation."""
    op = record["operations"].get(op_id)
    if op is None or op["Status"] in OP_DONE or record["status"] in TERMINAL:
        return False
    kind, prefix = op["Type"], EVENT_PREFIX.get(op["Type"], "")
    if kind == "STEP":  # a retry's delay has passed
        if op["Status"] != "PENDING":
            return False
        op["Status"] = "READY"
        _mark(record, op_id)
        return True
    op["Status"] = status
    op["EndTimestamp"] = now
    details = op.setdefault(DETAILS_KEY[kind], {})
    if kind == "WAIT":
        add_event(
            record, "WaitSucceeded", now, op=op, details={"Duration": op.get("wait_seconds", 0)}
        )
    elif status == "SUCCEEDED":
        details["Result"] = result or ""
        add_event(
            record,
            f"{prefix}Succeeded",
            now,
            op=op,
            details={"Result": {"Payload": details["Result"]}},
        )
    else:
        details["Error"] = error if isinstance(error, dict) else {}
        word = {"TIMED_OUT": "TimedOut", "STOPPED": "Stopped"}.get(status, "Failed")
        add_event(
            record,
            f"{prefix}{word}",
            now,
            op=op,
            details={"Error": error_payload(details["Error"])},
        )
    _mark(record, op_id)
    return True


def _mark(record: Record, op_id: str) -> None:
    if op_id not in record["dirty"]:
        record["dirty"].append(op_id)


def wire_operation(op: Op) -> Op:
    """An operation as the API returns it (samrun's own bookkeeping keys left out)."""
    return {k: v for k, v in op.items() if k[0].isupper()}


def operations(record: Record) -> list[Op]:
    return [wire_operation(record["operations"][i]) for i in record["order"]]


def millis(op: Op) -> Op:
    """An operation in the invocation payload's form: timestamps in epoch milliseconds."""
    out = dict(op)
    for key in ("StartTimestamp", "EndTimestamp"):
        if out.get(key) is not None:
            out[key] = int(out[key] * 1000)
    for details, key in (
        ("StepDetails", "NextAttemptTimestamp"),
        ("WaitDetails", "ScheduledEndTimestamp"),
    ):
        if out.get(details) and out[details].get(key) is not None:
            out[details] = {**out[details], key: int(out[details][key] * 1000)}
    return out


def token(record: Record) -> str:
    """A new checkpoint token of the current invocation (alphanumeric, the API's pattern)."""
    record["seq"] += 1
    return f"{record['id'].replace('-', '')}{record['invocation']:06d}{secrets.token_hex(8)}"
