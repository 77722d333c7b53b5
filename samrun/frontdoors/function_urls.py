"""Function URLs: payload 2.0 on a listener of their own, with the URL's CORS settings.

Each function URL gets its own local port (AWS gives each its own host name), so a function sees
the paths exactly as clients send them.
"""

from __future__ import annotations

import logging

from samrun.errors import LambdaApiError, RequestTooLarge, TooManyRequests
from samrun.frontdoors import cors
from samrun.frontdoors.http_v2 import build_event_v2, parse_response_v2
from samrun.frontdoors.integration import IntegrationTimeout, call
from samrun.frontdoors.messages import HttpRequest, HttpResponse, json_response
from samrun.frontdoors.rest_v1 import MalformedResponse
from samrun.frontdoors.routes import RouteMatch
from samrun.invoke.invoker import Invoker
from samrun.model import Route

logger = logging.getLogger(__name__)

BAD_GATEWAY = json_response(502, '{"Message":null}')
THROTTLED = json_response(429, '{"Message":"Rate Exceeded."}')
TOO_LARGE = json_response(413, '{"Message":"Request must be smaller than 6291456 bytes"}')
TIMEOUT = json_response(502, '{"Message":null}')


class FunctionUrl:
    """One function URL: CORS, then the function, then its 2.0 response."""

    def __init__(self, route: Route, invoker: Invoker, *, region: str, account_id: str) -> None:
        self.route = route
        self.invoker = invoker
        self.region = region
        self.account_id = account_id
        self.cors = cors.normalise(route.details.get("cors") or {})
        if route.auth == "AWS_IAM":
            logger.warning(
                "function URL of %s uses AWS_IAM auth; not verified locally", route.function
            )

    async def handle(self, request: HttpRequest) -> HttpResponse:
        if self.cors and cors.is_preflight(request):
            return cors.preflight(self.cors, request)
        match = RouteMatch(self.route, {}, request.raw_path)
        event = build_event_v2(request, match, account_id=self.account_id, region=self.region)
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
