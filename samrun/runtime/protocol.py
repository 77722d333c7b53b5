"""Wire constants of Lambda's Runtime API (as documented, and as RIE spells its errors)."""

from __future__ import annotations

API_VERSION = "2018-06-01"
PREFIX = f"/{API_VERSION}/runtime"
NEXT = f"{PREFIX}/invocation/next"
RESPONSE = PREFIX + "/invocation/{request_id}/response"
ERROR = PREFIX + "/invocation/{request_id}/error"
INIT_ERROR = f"{PREFIX}/init/error"

REQUEST_ID = "Lambda-Runtime-Aws-Request-Id"
DEADLINE_MS = "Lambda-Runtime-Deadline-Ms"
INVOKED_ARN = "Lambda-Runtime-Invoked-Function-Arn"
TRACE_ID = "Lambda-Runtime-Trace-Id"
CLIENT_CONTEXT = "Lambda-Runtime-Client-Context"
COGNITO_IDENTITY = "Lambda-Runtime-Cognito-Identity"
TENANT_ID = "Lambda-Runtime-Aws-Tenant-Id"
FUNCTION_ERROR_TYPE = "Lambda-Runtime-Function-Error-Type"
FUNCTION_ERROR_BODY = "Lambda-Runtime-Function-Error-Body"  # a streamed response's trailer, base64
RESPONSE_MODE = "Lambda-Runtime-Function-Response-Mode"
STREAMING = "streaming"

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # sync request and response
MAX_ERROR_BODY_BYTES = 1024 * 1024

# Errors a runtime is answered with when it breaks the state machine.
INVALID_STATE = "InvalidStateTransition"
INVALID_REQUEST_ID = "InvalidRequestID"
PAYLOAD_TOO_LARGE = "RequestEntityTooLarge"

# Errors a caller sees when the runtime, not the handler, failed (RIE's fatalerror spellings).
EXIT_ERROR = "Runtime.ExitError"
OUT_OF_MEMORY = "Runtime.OutOfMemory"
UNKNOWN_ERROR = "Runtime.Unknown"
TIMEOUT = "Sandbox.Timedout"
RESPONSE_TOO_LARGE = "Function.ResponseSizeTooLarge"
