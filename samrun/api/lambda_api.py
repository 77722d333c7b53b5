"""The Lambda control-plane API on `--invoke-port`, as boto3 and the AWS CLI speak it (rest-json).

HTTP in, `InvokeRequest` out, and back; every `LambdaApiError` becomes a wire error in exactly
one place, `render_error`.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from samrun.api import (
    concurrency,
    event_invoke_config,
    event_source_mappings,
    eventstream,
    permissions,
    versions,
)
from samrun.api.event_source_mappings import MappingRegistry
from samrun.api.request import list_window
from samrun.api.shapes import function_configuration, get_function_shape
from samrun.errors import (
    InvalidParameterValue,
    InvalidRequestContent,
    LambdaApiError,
    RequestTimeout,
    RequestTooLarge,
    ServiceError,
    UnknownOperation,
)
from samrun.iam.resource_policy import ResourcePolicies
from samrun.invoke.control import Control
from samrun.invoke.invoker import Invoker
from samrun.invoke.models import InvocationType, InvokeRequest
from samrun.model import AppGraph, Function, FunctionConfig
from samrun.runtime.streaming import ResponseStream, detach

logger = logging.getLogger(__name__)

PREFIX = "/2015-03-31/functions"
STREAM_PREFIX = "/2021-11-15/functions"  # InvokeWithResponseStream
STREAM_TYPES = frozenset({InvocationType.REQUEST_RESPONSE, InvocationType.DRY_RUN})
TENANT_HEADER = "X-Amz-Tenant-Id"  # Invoke's TenantId (TenancyConfig PER_TENANT)
MAX_BODY = 7 * 1024 * 1024  # over Lambda's 6 MB, so the invoke path can say RequestTooLarge
LIST_PAGE = 50
MAX_LIST_ITEMS = 10000  # ListFunctions' MaxItems range is 1-10000
TOO_LARGE = "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ShapeBuilder = Callable[[AppGraph, Function, str, FunctionConfig], dict[str, Any]]


def render_error(error: LambdaApiError, request_id: str) -> web.Response:
    """The one translation of an API error to the wire, in the shape botocore parses."""
    body = {"Type": "User" if error.status < 500 else "Service", "message": error.message}
    body.update(error.fields)
    headers = {"x-amzn-RequestId": request_id, "x-amzn-ErrorType": error.code}
    return web.json_response(body, status=error.status, headers=headers)


def reject(status: int, message: str) -> web.Response:
    """What the listener answers in Lambda's shape: a malformed request, a body too slow or too
    large, a route or method the API does not have."""
    error: LambdaApiError
    if status == 413:
        error = RequestTooLarge(TOO_LARGE)
    elif status == 408:
        error = RequestTimeout(message)
    elif status in (404, 405):
        error = UnknownOperation(message)
    elif status < 500:
        error = InvalidRequestContent(message)
    else:
        error = ServiceError(message)
    response = render_error(error, str(uuid.uuid4()))
    response.set_status(status)
    return response


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except LambdaApiError as exc:
        return render_error(exc, str(uuid.uuid4()))
    except web.HTTPRequestEntityTooLarge:
        return render_error(RequestTooLarge(TOO_LARGE), str(uuid.uuid4()))
    except web.HTTPException as exc:  # the router's 404 and 405, in Lambda's shape
        if exc.status < 400:
            raise
        operation = f"{request.method} {request.path[:200]}"
        response = reject(exc.status, f"Unknown operation: {operation}")
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception:  # the edge's one catch-all: log it, answer as Lambda would
        logger.exception("Lambda API: %s %s failed", request.method, request.path)
        return render_error(ServiceError("An internal error occurred"), str(uuid.uuid4()))


class LambdaApi:
    def __init__(
        self,
        invoker: Invoker,
        control: Control,
        state: Callable[[], object] | None = None,
        mappings: MappingRegistry | None = None,
        permissions: ResourcePolicies | None = None,
    ) -> None:
        """`permissions`: the functions' resource policies (AddPermission, GetPolicy...)."""
        self.invoker = invoker
        self.control = control
        self.state = state
        self.mappings = mappings
        self.permissions = permissions

    def app(self) -> web.Application:
        app = web.Application(middlewares=[errors_middleware], client_max_size=MAX_BODY)
        app.router.add_post(PREFIX + "/{name:.+}/invocations", self.invoke)  # Child/Function too
        app.router.add_post(
            STREAM_PREFIX + "/{name:.+}/response-streaming-invocations", self.invoke_stream
        )
        app.router.add_get(PREFIX + "/", self.list_functions)
        app.router.add_get(PREFIX, self.list_functions)
        app.router.add_get(PREFIX + "/{name}", self.get_function)
        app.router.add_get(PREFIX + "/{name}/configuration", self.get_configuration)
        app.router.add_get("/_samrun/state", self.debug_state)
        versions.add_routes(app, self.control)
        concurrency.add_routes(app, self.control)
        event_invoke_config.add_routes(app, self.invoker.directory)
        if self.mappings is not None:
            event_source_mappings.add_routes(app, self.mappings)
        if self.permissions is not None:
            permissions.add_routes(app, self.permissions, self.invoker.directory)
        # last, so every `{name}/<subresource>` route is tried first: `Child/Function` with a
        # bare slash (boto3 sends Child%2FFunction, which the routes above take)
        nested = PREFIX + "/{name:[A-Za-z0-9]+(?:/[A-Za-z0-9]+)+}"
        app.router.add_get(nested + "/configuration", self.nested(self.get_configuration))
        app.router.add_get(nested, self.nested(self.get_function))
        return app

    def nested(self, handler: Handler) -> Handler:
        """`handler` for a name under a nested stack of the app (a function it lacks is not
        found); any other name is a route the API lacks, as before."""

        async def only_nested(request: web.Request) -> web.StreamResponse:
            stack = request.match_info["name"].rsplit("/", 1)[0]
            functions = self.invoker.directory.graph.functions
            if not any(f.logical_id.startswith(stack + "/") for f in functions):
                raise UnknownOperation(f"Unknown operation: {request.method} {request.path[:200]}")
            return await handler(request)

        return only_nested

    async def invoke(self, request: web.Request) -> web.Response:
        invocation_type = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        try:
            kind = InvocationType(invocation_type)
        except ValueError:
            raise InvalidParameterValue(f"Invalid invocation type: {invocation_type}") from None
        invoke_request = InvokeRequest(
            function=unquote(request.match_info["name"]),
            qualifier=request.query.get("Qualifier"),
            payload=await request.read(),
            invocation_type=kind,
            tail_logs=request.headers.get("X-Amz-Log-Type") == "Tail",
            client_context=request.headers.get("X-Amz-Client-Context"),
            trace_id=request.headers.get("X-Amzn-Trace-Id"),
            tenant_id=request.headers.get(TENANT_HEADER) or None,
            durable_execution_name=request.headers.get("X-Amz-Durable-Execution-Name") or None,
        )
        result = await self.invoker.invoke(invoke_request)
        headers = {
            "X-Amz-Executed-Version": result.executed_version,
            "x-amzn-RequestId": result.request_id,
        }
        if result.durable_execution_arn:
            headers["X-Amz-Durable-Execution-Arn"] = result.durable_execution_arn
        if kind is InvocationType.EVENT:
            return web.Response(status=202, headers=headers)
        if kind is InvocationType.DRY_RUN:
            return web.Response(status=204, headers=headers)
        if result.function_error:
            headers["X-Amz-Function-Error"] = result.function_error
        if invoke_request.tail_logs:
            headers["X-Amz-Log-Result"] = base64.b64encode(result.log_tail).decode()
        return web.Response(
            status=200, body=result.payload, headers=headers, content_type="application/json"
        )

    async def invoke_stream(self, request: web.Request) -> web.StreamResponse:
        """InvokeWithResponseStream: PayloadChunk events as the function writes, then
        InvokeComplete (its error, its log tail). A function that does not stream answers in
        one chunk; errors before the invocation runs are the API's usual ones."""
        invocation_type = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        try:
            kind = InvocationType(invocation_type)
        except ValueError:
            kind = InvocationType.EVENT
        if kind not in STREAM_TYPES:
            raise InvalidParameterValue(f"Invalid invocation type: {invocation_type}")
        stream = ResponseStream()
        invoke_request = InvokeRequest(
            function=unquote(request.match_info["name"]),
            qualifier=request.query.get("Qualifier"),
            payload=await request.read(),
            invocation_type=kind,
            tail_logs=request.headers.get("X-Amz-Log-Type") == "Tail",
            client_context=request.headers.get("X-Amz-Client-Context"),
            trace_id=request.headers.get("X-Amzn-Trace-Id"),
            stream=stream,
            tenant_id=request.headers.get(TENANT_HEADER) or None,
        )
        task = asyncio.ensure_future(self.invoker.invoke(invoke_request))
        response: web.StreamResponse | None = None
        try:
            streamed = await stream.opened(task)
            if not streamed:
                result = task.result()  # an API error is raised here, before any byte is sent
                if kind is InvocationType.DRY_RUN:
                    return web.Response(status=204, headers=self._stream_headers(stream))
            response = web.StreamResponse(status=200, headers=self._stream_headers(stream))
            await response.prepare(request)
            if streamed:
                async for data in stream.chunks():
                    await response.write(eventstream.payload_chunk(data))
                result = await asyncio.shield(task)
            elif result.payload and not result.function_error:
                await response.write(eventstream.payload_chunk(result.payload))
            log = base64.b64encode(result.log_tail).decode() if invoke_request.tail_logs else ""
            error = result.payload.decode("utf-8", "replace") if result.function_error else None
            await response.write(eventstream.invoke_complete(result.error_type, error, log))
            await response.write_eof()
            return response
        except ConnectionError:  # the caller left: the invocation runs on, as on Lambda
            detach(task)
            assert response is not None  # only writing to it fails so
            return response
        except asyncio.CancelledError:
            detach(task)
            raise

    def _stream_headers(self, stream: ResponseStream) -> dict[str, str]:
        return {
            "Content-Type": eventstream.CONTENT_TYPE,
            "X-Amz-Executed-Version": stream.executed_version,
            "x-amzn-RequestId": stream.request_id,
        }

    async def debug_state(self, request: web.Request) -> web.Response:
        """samrun's own: pools, concurrency and target health, for people and tests."""
        return web.json_response(self.state() if self.state else {})

    async def list_functions(self, request: web.Request) -> web.Response:
        graph = self.invoker.directory.graph
        start, size = list_window(request, MAX_LIST_ITEMS, LIST_PAGE)
        page = graph.functions[start : start + size]
        shapes = await asyncio.to_thread(lambda: [function_configuration(graph, f) for f in page])
        body: dict[str, object] = {"Functions": shapes}
        if start + size < len(graph.functions):
            body["NextMarker"] = str(start + size)
        return web.json_response(body)

    async def get_function(self, request: web.Request) -> web.Response:
        return await self._shape_of_target(request, get_function_shape)

    async def get_configuration(self, request: web.Request) -> web.Response:
        return await self._shape_of_target(request, function_configuration)

    async def _shape_of_target(self, request: web.Request, shape_of: ShapeBuilder) -> web.Response:
        """The function (and qualifier) the request names, in one of the API's shapes; hashing
        its code runs off the loop."""
        directory = self.invoker.directory
        target = directory.resolve(
            unquote(request.match_info["name"]), request.query.get("Qualifier")
        )
        shape = await asyncio.to_thread(
            shape_of, directory.graph, target.function, target.version, target.config
        )
        return web.json_response(shape)
