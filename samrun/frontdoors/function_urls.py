"""Function URLs: payload 2.0 on a listener of their own, with the URL's CORS settings.

Each function URL gets its own local port (AWS gives each its own host name), so a function sees
the paths exactly as clients send them.

`InvokeMode: RESPONSE_STREAM`: the body goes out as the function writes it. A stream of type
`application/vnd.awslambda.http-integration-response` (Node.js `HttpResponseStream.from`) opens
with a JSON prelude (statusCode, headers, cookies) and 8 NUL bytes; any other is the body itself,
status 200, with the stream's content type. A function failing before its first byte answers
502 as in BUFFERED mode; failing midway, the response is cut short.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from samrun.errors import LambdaApiError, RequestTooLarge, TooManyRequests
from samrun.frontdoors import cors
from samrun.frontdoors.http_v2 import build_event_v2, parse_response_v2
from samrun.frontdoors.integration import IntegrationTimeout, call
from samrun.frontdoors.messages import HttpRequest, HttpResponse, StreamAborted, json_response
from samrun.frontdoors.rest_v1 import MalformedResponse
from samrun.frontdoors.routes import RouteMatch
from samrun.invoke.invoker import Invoker
from samrun.invoke.models import InvokeRequest, InvokeResult
from samrun.model import Route
from samrun.runtime.streaming import ResponseStream, detach

logger = logging.getLogger(__name__)

BAD_GATEWAY = json_response(502, '{"Message":null}')
THROTTLED = json_response(429, '{"Message":"Rate Exceeded."}')
TOO_LARGE = json_response(413, '{"Message":"Request must be smaller than 6291456 bytes"}')
TIMEOUT = json_response(502, '{"Message":null}')
HTTP_INTEGRATION = "application/vnd.awslambda.http-integration-response"
PRELUDE_END = b"\0" * 8
MAX_PRELUDE = 64 * 1024
UrlGuard = Callable[[Route, HttpRequest], tuple[int, str] | None]


class FunctionUrl:
    """One function URL: CORS, then the function, then its 2.0 response."""

    def __init__(
        self,
        route: Route,
        invoker: Invoker,
        *,
        region: str,
        account_id: str,
        guard: UrlGuard | None = None,
    ) -> None:
        """`guard`: --enforce-iam's check of a request (SigV4, permission): (status, body) to
        refuse it with, or None."""
        self.route = route
        self.invoker = invoker
        self.region = region
        self.account_id = account_id
        self.cors = cors.normalise(route.details.get("cors") or {})
        self.guard = guard
        if route.auth == "AWS_IAM" and guard is None:
            logger.warning(
                "function URL of %s uses AWS_IAM auth; not verified locally", route.function
            )

    async def handle(self, request: HttpRequest) -> HttpResponse:
        if self.cors and cors.is_preflight(request):
            return cors.preflight(self.cors, request)
        refused = self.guard(self.route, request) if self.guard else None
        if refused is not None:
            return json_response(*refused)
        match = RouteMatch(self.route, {}, request.raw_path)
        event = build_event_v2(request, match, account_id=self.account_id, region=self.region)
        if self.route.details.get("invoke_mode") == "RESPONSE_STREAM":
            return await self._stream(request, event)
        try:
            result = await call(
                self.invoker,
                self.route.function,
                self.route.qualifier,
                event,
                self.route.timeout_ms / 1000 + 1,
            )
            response = BAD_GATEWAY if result.function_error else parse_response_v2(result.payload)
        except TooManyRequests:
            response = THROTTLED
        except RequestTooLarge:
            response = TOO_LARGE
        except (IntegrationTimeout, MalformedResponse, LambdaApiError) as exc:
            logger.error("function URL of %s: %s", self.route.function, exc)
            response = TIMEOUT
        return cors.decorate(self.cors, request, response) if self.cors else response

    async def _stream(self, request: HttpRequest, event: dict[str, Any]) -> HttpResponse:
        """RESPONSE_STREAM: status and headers once the function has written its first bytes
        (or its prelude), then the body as it comes."""
        stream = ResponseStream()
        invocation = asyncio.ensure_future(
            self.invoker.invoke(
                InvokeRequest(
                    function=self.route.function,
                    qualifier=self.route.qualifier,
                    payload=json.dumps(event).encode(),
                    stream=stream,
                )
            )
        )
        try:
            if not await stream.opened(invocation) or (stream.ended and not stream.size):
                return self._whole(await invocation)
            chunks = stream.chunks()
            status, headers, first = 200, [("Content-Type", stream.content_type)], b""
            if stream.content_type == HTTP_INTEGRATION:
                status, headers, first = await read_prelude(chunks)
        except TooManyRequests:
            return THROTTLED
        except RequestTooLarge:
            return TOO_LARGE
        except (MalformedResponse, LambdaApiError) as exc:
            logger.error("function URL of %s: %s", self.route.function, exc)
            detach(invocation)
            return BAD_GATEWAY
        except asyncio.CancelledError:
            detach(invocation)
            raise
        response = HttpResponse(
            status=status, headers=tuple(headers), stream=self._body(first, chunks, invocation)
        )
        return cors.decorate(self.cors, request, response) if self.cors else response

    def _whole(self, result: InvokeResult) -> HttpResponse:
        """A function that did not stream (or failed before its first byte): its payload is the
        body, as it is; an error is a 502."""
        if result.function_error:
            return BAD_GATEWAY
        return HttpResponse(
            status=200, headers=(("Content-Type", "application/json"),), body=result.payload
        )

    async def _body(
        self, first: bytes, chunks: AsyncIterator[bytes], invocation: asyncio.Future[InvokeResult]
    ) -> AsyncIterator[bytes]:
        try:
            if first:
                yield first
            async for data in chunks:
                yield data
            result = await asyncio.shield(invocation)
        finally:
            detach(invocation)  # the client may have gone: the invocation runs to its end
        if result.function_error:
            logger.error(
                "function URL of %s: the stream failed midway: %s",
                self.route.function,
                result.payload.decode("utf-8", "replace")[:500],
            )
            raise StreamAborted(result.error_type or "Unhandled")


async def read_prelude(chunks: AsyncIterator[bytes]) -> tuple[int, list[tuple[str, str]], bytes]:
    """HttpResponseStream.from's prelude: JSON, then 8 NUL bytes; the bytes after them begin
    the body."""
    seen = b""
    async for data in chunks:
        seen += data
        if PRELUDE_END in seen:
            break
        if len(seen) > MAX_PRELUDE:
            raise MalformedResponse("the response stream's prelude never ended")
    else:
        if PRELUDE_END not in seen:
            raise MalformedResponse("the response stream ended within its prelude")
    text, _, rest = seen.partition(PRELUDE_END)
    try:
        prelude = json.loads(text) if text.strip() else {}
    except ValueError:
        raise MalformedResponse("the response stream's prelude is not JSON") from None
    if not isinstance(prelude, dict):
        raise MalformedResponse("the response stream's prelude is not a JSON object")
    status = prelude.get("statusCode", 200)
    if not isinstance(status, int) or not 100 <= status <= 599:
        raise MalformedResponse(f"the prelude's statusCode {status!r} is not an HTTP status")
    single, multi, cookies = (prelude.get(k) for k in ("headers", "multiValueHeaders", "cookies"))
    headers = [(str(k), str(v)) for k, v in single.items()] if isinstance(single, dict) else []
    for name, values in multi.items() if isinstance(multi, dict) else ():
        headers += [(str(name), str(v)) for v in values] if isinstance(values, list) else []
    headers += [("Set-Cookie", str(c)) for c in cookies] if isinstance(cookies, list) else []
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/octet-stream"))
    return status, headers, rest
