"""The messages of the invoke path."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from samrun.runtime.streaming import ResponseStream


class InvocationType(StrEnum):
    REQUEST_RESPONSE = "RequestResponse"
    EVENT = "Event"
    DRY_RUN = "DryRun"


@dataclass(frozen=True, slots=True, kw_only=True)
class InvokeRequest:
    function: str  # a name, a partial ARN or an ARN, optionally with :QUALIFIER
    payload: bytes
    qualifier: str | None = None
    invocation_type: InvocationType = InvocationType.REQUEST_RESPONSE
    tail_logs: bool = False
    client_context: str | None = None  # base64 JSON, passed through to the runtime
    trace_id: str | None = None
    queued_at: float | None = None  # an async event's accept time (X-Ray's dwell time)
    attempt: int = 0  # an async event's attempt, from 1
    tenant_id: str | None = None  # TenantId (X-Amz-Tenant-Id): a PER_TENANT function's tenant
    durable_execution_name: str | None = None  # X-Amz-Durable-Execution-Name (samrun.durable)
    source: str = ""  # what sent it (route, queue, schedule, dashboard...), for the dashboard
    # the caller reads a streamed response as it comes (InvokeWithResponseStream, RESPONSE_STREAM
    # function URLs); a function that does not stream answers it in one piece
    stream: ResponseStream | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class InvokeResult:
    request_id: str
    payload: bytes
    executed_version: str
    function_error: str | None = None  # "Unhandled" when the function failed
    error_type: str | None = None  # the function's errorType, for logs and front doors
    log_tail: bytes = b""  # the last 4 KB of the invocation's log, when asked for
    duration_ms: float = 0.0
    init_duration_ms: float | None = None
    durable_execution_arn: str | None = None  # X-Amz-Durable-Execution-Arn (samrun.durable)
