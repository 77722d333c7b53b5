"""Every error samrun raises on purpose, in one tree.

    SamrunError
    ├── TemplateError            a template problem, located as file:line:col; CLI exit code 2
    │   └── UnsupportedFeature
    ├── LambdaApiError           rendered on the wire as AWS renders it (code, status)
    │   ├── ResourceNotFound         404
    │   ├── ProvisionedConfigNotFound 404
    │   ├── InvalidRequestContent    400
    │   ├── InvalidParameterValue    400
    │   ├── ValidationError          400 (ValidationException: a value breaks a constraint)
    │   ├── ForbiddenRequest         403 (a foreign Host or a cross-origin browser request)
    │   ├── UnknownOperation         404 (no such operation; 405 for a known path)
    │   ├── RequestTimeout           408 (a request's body did not arrive in time)
    │   ├── ResourceConflict         409
    │   ├── RequestTooLarge          413
    │   ├── UnsupportedMediaType     415
    │   ├── TooManyRequests          429 (+ Reason)
    │   ├── ServiceError             500
    │   ├── ResourceNotReady         502
    │   └── InvalidRuntime           502
    ├── BuildFailed              a dependency build failed (pip, npm, esbuild, make); exit 2
    ├── BackendError             a sandbox could not be started; becomes ServiceError at the edge
    │   └── InvalidEntrypoint        no bootstrap to run: a function error, as Lambda reports it
    └── RuntimeProtocolError     a runtime broke the Runtime API contract

A function error or timeout is a result (`InvokeResult.function_error`), never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


class SamrunError(Exception):
    """Base of everything samrun raises on purpose."""


class BuildFailed(SamrunError):
    """A function's or layer's build failed; the message names it and its log file."""


@dataclass(frozen=True, slots=True)
class Location:
    file: str
    line: int  # 1-based
    column: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class TemplateError(SamrunError):
    """A problem in a template, printed as `file:line:col: [rule] message`."""

    def __init__(
        self,
        message: str,
        location: Location | None = None,
        rule: str = "samrun",
        logical_id: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.location = location
        self.rule = rule
        self.logical_id = logical_id  # the resource it is in, when it is in one: it alone fails

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        return f"{where}[{self.rule}] {self.message}"


class UnsupportedFeature(TemplateError):
    pass


class LambdaApiError(SamrunError):
    """An error of the Lambda API, with the code and status AWS gives it."""

    code: ClassVar[str] = "ServiceException"
    status: ClassVar[int] = 500

    def __init__(self, message: str, **fields: str):
        super().__init__(message)
        self.message = message
        self.fields = fields  # extra body fields, e.g. Reason for TooManyRequests


class ResourceNotFound(LambdaApiError):
    code, status = "ResourceNotFoundException", 404


class ProvisionedConfigNotFound(LambdaApiError):
    code, status = "ProvisionedConcurrencyConfigNotFoundException", 404


class InvalidRequestContent(LambdaApiError):
    code, status = "InvalidRequestContentException", 400


class InvalidParameterValue(LambdaApiError):
    code, status = "InvalidParameterValueException", 400


class ValidationError(LambdaApiError):
    code, status = "ValidationException", 400


class ForbiddenRequest(LambdaApiError):
    code, status = "AccessDeniedException", 403


class UnknownOperation(LambdaApiError):
    code, status = "UnknownOperationException", 404


class RequestTimeout(LambdaApiError):
    code, status = "RequestTimeoutException", 408


class ResourceConflict(LambdaApiError):
    code, status = "ResourceConflictException", 409


class RequestTooLarge(LambdaApiError):
    code, status = "RequestTooLargeException", 413


class UnsupportedMediaType(LambdaApiError):
    code, status = "UnsupportedMediaTypeException", 415


class TooManyRequests(LambdaApiError):
    code, status = "TooManyRequestsException", 429


class ServiceError(LambdaApiError):
    code, status = "ServiceException", 500


class ResourceNotReady(LambdaApiError):
    code, status = "ResourceNotReadyException", 502


class InvalidRuntime(LambdaApiError):
    code, status = "InvalidRuntimeException", 502


class BackendError(SamrunError):
    """A sandbox could not be started or reached."""


class InvalidEntrypoint(BackendError):
    """The code has nothing the runtime can start (a missing or non-executable bootstrap).
    Lambda answers the invocation with a `Runtime.InvalidEntrypoint` function error."""


class RuntimeProtocolError(SamrunError):
    """A runtime broke the Runtime API contract (answered on the Runtime API, never raised up)."""
