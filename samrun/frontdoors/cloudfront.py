"""A local CloudFront distribution: cache behaviours, origins, Lambda@Edge, a small cache.

A request picks the first cache behaviour whose path pattern matches (the default one last),
then runs CloudFront's order: viewer request, (cache), origin request, the origin, origin
response, (cache), viewer response. A response a request function generates short-circuits the
origin (from viewer request: returned uncached, no viewer response; from origin request: cached,
viewer response runs). The event shape and CloudFront's checks are cloudfront_edge.py's.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote

import aiohttp

from samrun.errors import LambdaApiError, SamrunError, TooManyRequests
from samrun.frontdoors import cloudfront_edge as edge
from samrun.frontdoors.cloudfront_edge import EdgeFailure
from samrun.frontdoors.integration import IntegrationTimeout, call
from samrun.frontdoors.messages import HttpRequest, HttpResponse
from samrun.invoke.invoker import Invoker
from samrun.model import AppGraph, CacheBehavior, Distribution, EdgeFunction, Origin

logger = logging.getLogger(__name__)

ORIGIN_TIMEOUT_S = 30.0  # CloudFront's default origin response timeout
TRIGGER_TIMEOUT_S = {"viewer": 5.0, "origin": 30.0}
_S3_DOMAIN = re.compile(r"^(.+?)\.s3(?:[.-][a-z0-9-]*)*\.amazonaws\.com$")
_DROPPED = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "te"})
Locate = Callable[[Origin], str | None]  # the local base URL of an app origin (api, URL)
Presign = Callable[[str, str, str], Awaitable[str]]  # method, bucket, key -> a signed URL


def check_ports(ports: Mapping[str, int], graph: AppGraph) -> None:
    """`--cloudfront-port NAME=PORT` names a distribution samrun serves, or `up` stops before
    it starts (exit 2) naming the ones it knows: a typo never leaves a door on a random port."""
    served = [d.logical_id for d in graph.distributions if d.enabled]
    for name in ports:
        if name in served:
            continue
        disabled = any(d.logical_id == name for d in graph.distributions)
        refused = next((n for n in graph.not_run if n.name == name), None)
        if disabled:
            why = f"{name} is disabled (DistributionConfig.Enabled: false)"
        elif refused is not None:
            why = f"{name} is not run: {refused.reason}"
        else:
            why = f"the template has no distribution {name}"
        known = ", ".join(served) if served else "none"
        raise SamrunError(
            f"--cloudfront-port {name}={ports[name]}: {why} (distributions served: {known})"
        )


def pattern_matches(pattern: str, path: str) -> bool:
    """CloudFront's path patterns: `*` any characters (`/` too), `?` exactly one, case
    sensitive; the leading `/` is optional."""
    chars = pattern.lstrip("/")
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in chars)
    return re.fullmatch(regex, path.lstrip("/"), re.DOTALL) is not None


def choose(distribution: Distribution, path: str) -> CacheBehavior:
    for behavior in distribution.behaviors:
        if behavior.path_pattern is None or pattern_matches(behavior.path_pattern, path):
            return behavior
    return distribution.behaviors[-1]


def _directives(headers: tuple[tuple[str, str], ...]) -> dict[str, str]:
    control = ",".join(v for k, v in headers if k.lower() == "cache-control").lower()
    return dict(
        (d.split("=", 1)[0].strip(), d.split("=", 1)[1].strip() if "=" in d else "")
        for d in control.split(",")
        if d.strip()
    )


def ttl(behavior: CacheBehavior, headers: tuple[tuple[str, str], ...]) -> int:
    """How long CloudFront keeps a response: Cache-Control's s-maxage / max-age within the
    behaviour's MinTTL and MaxTTL; no-store, no-cache or private: MinTTL; none: DefaultTTL."""
    directives = _directives(headers)
    if {"no-store", "no-cache", "private"} & set(directives):
        return behavior.min_ttl
    for name in ("s-maxage", "max-age"):
        if directives.get(name, "").isdigit():
            return max(behavior.min_ttl, min(int(directives[name]), behavior.max_ttl))
    return behavior.default_ttl


CACHED_ERRORS = frozenset({400, 403, 404, 405, 410, 414, 500, 501, 502, 503, 504})
"""The 4xx / 5xx codes CloudFront caches (416 and the others: never)."""
NO_STORE_HONOURED = frozenset({404, 410, 414, 501})


def error_ttl(
    status: int, headers: tuple[tuple[str, str], ...], behavior: CacheBehavior, min_ttl: int
) -> int:
    """How long CloudFront keeps an error: the greater of Cache-Control's s-maxage / max-age
    (within MaxTTL) and ErrorCachingMinTTL (10 s unless a CustomErrorResponse says); no-store,
    no-cache or private keep 404, 410, 414 and 501 out, other codes ignore them."""
    if status not in CACHED_ERRORS:
        return 0
    directives = _directives(headers)
    if status in NO_STORE_HONOURED and {"no-store", "no-cache", "private"} & set(directives):
        return 0
    for name in ("s-maxage", "max-age"):
        if directives.get(name, "").isdigit():
            return max(min_ttl, min(int(directives[name]), behavior.max_ttl))
    return min_ttl


@dataclass
class _Cached:
    response: HttpResponse
    stored: float
    expires: float


@dataclass
class Counts:
    """What a door has served, kept across reloads for /_samrun/state: cache hits, misses (the
    origin side ran: the origin or an origin-request function answered), CloudFront's own
    error pages."""

    requests: int = 0
    hits: int = 0
    misses: int = 0
    errors: int = 0


class CloudFrontDoor:
    """One distribution on one local port."""

    def __init__(
        self,
        distribution: Distribution,
        invoker: Invoker,
        *,
        locate: Locate,
        presign: Presign,
        cache: bool,
        timeouts_s: dict[tuple[str, str], float],
    ) -> None:
        self.distribution = distribution
        self.invoker = invoker
        self.locate = locate
        self.presign = presign
        self.caching = cache
        self.timeouts_s = timeouts_s  # (function, version) -> its own timeout
        self.cache: dict[tuple[str, ...], _Cached] = {}
        self.session: aiohttp.ClientSession | None = None
        self.counts = Counts()  # the server hands a reloaded door its predecessor's

    def state(self) -> dict[str, Any]:
        """What /_samrun/state shows of this distribution (the dashboard reads it): its
        behaviours in matching order, origins, Lambda@Edge associations and cache counters."""
        dist = self.distribution
        return {
            **dist.document(),
            "associations": [
                {
                    "path_pattern": b.path_pattern or "Default (*)",
                    "event_type": f.event_type,
                    "function": f.function,
                    "version": f.version,
                    "include_body": f.include_body,
                }
                for b in dist.behaviors
                for f in b.functions
            ],
            "cache": {
                "enabled": self.caching,
                "objects": len(self.cache),
                "hits": self.counts.hits,
                "misses": self.counts.misses,
            },
            "requests": self.counts.requests,
            "errors": self.counts.errors,
        }

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None

    async def handle(self, request: HttpRequest) -> HttpResponse:
        request_id = request.request_id
        self.counts.requests += 1
        try:
            response, hit = await self._handle(request)
        except EdgeFailure as failure:
            self.counts.errors += 1
            logger.error("CloudFront %s: %s", self.distribution.logical_id, failure.message)
            return edge.error_page(failure, request_id)
        verdict = "Hit" if hit else "Miss"
        if response.status >= 400 and not hit:
            verdict = "Error"
        response = await self._custom_error(response)
        return self._finish(response, f"{verdict} from cloudfront", request_id)

    async def _custom_error(self, response: HttpResponse) -> HttpResponse:
        """CustomErrorResponses: for its ErrorCode, the page at ResponsePagePath, fetched from
        the origin of the behaviour that path matches, answered with ResponseCode; the origin's
        own error when the page cannot be had."""
        dist = self.distribution
        rule = next(
            (e for e in dist.error_responses if e.code == response.status and e.page_path), None
        )
        if rule is None or rule.page_path is None:
            return response
        behavior = choose(dist, rule.page_path)
        origin = next(o for o in dist.origins if o.id == behavior.origin)
        page_request = {"method": "GET", "uri": rule.page_path, "querystring": "", "headers": {}}
        try:
            page = await self._fetch(origin, page_request, b"")
        except EdgeFailure:
            page = None
        if page is None or page.status >= 400:
            logger.error(
                "CloudFront %s: custom error page %s could not be fetched",
                dist.logical_id,
                rule.page_path,
            )
            return response
        status = rule.response_code or response.status
        return HttpResponse(status=status, headers=page.headers, body=page.body)

    def _finish(self, response: HttpResponse, verdict: str, request_id: str) -> HttpResponse:
        headers = [h for h in response.headers if h[0].lower() not in _DROPPED]
        headers = [h for h in headers if h[0].lower() not in ("x-cache", "via", "x-amz-cf-id")]
        headers += [
            ("X-Cache", verdict),
            ("Via", f"1.1 {self.distribution.domain} (CloudFront)"),
            ("X-Amz-Cf-Pop", "LOCAL1-C1"),
            ("X-Amz-Cf-Id", request_id),
        ]
        return replace(response, headers=tuple(headers))

    async def _handle(self, request: HttpRequest) -> tuple[HttpResponse, bool]:
        dist = self.distribution
        behavior = choose(dist, request.path)
        functions = {f.event_type: f for f in behavior.functions}
        if request.method not in behavior.allowed_methods and request.method != "OPTIONS":
            raise EdgeFailure(403, "Error", edge.METHOD_NOT_ALLOWED)
        cf_request: dict[str, Any] = {
            "clientIp": request.source_ip,
            "headers": edge.cf_headers(self._viewer_headers(request)),
            "method": request.method,
            "querystring": request.query,
            "uri": request.raw_path or "/",
        }
        body = request.body
        viewer = functions.get(edge.VIEWER_REQUEST)
        if viewer is not None:
            outcome = await self._request_trigger(viewer, cf_request, body, request.request_id)
            if isinstance(outcome, HttpResponse):
                return outcome, False  # returned as is: no cache, no viewer response
            cf_request, body = outcome
        key = (
            str(dist.behaviors.index(behavior)),
            str(cf_request["method"]),
            str(cf_request["uri"]),
            str(cf_request["querystring"]),
        )
        cached = self._cached(key) if request.method in ("GET", "HEAD") else None
        hit = cached is not None
        if cached is not None:
            self.counts.hits += 1
            response = cached
        else:
            self.counts.misses += 1
            response = await self._from_origin(behavior, functions, cf_request, body, request)
            self._store(key, behavior, response, request.method)
        after = functions.get(edge.VIEWER_RESPONSE)
        if after is not None and response.status < 400:
            response = await self._response_trigger(after, cf_request, response, request)
        return response, hit

    def _viewer_headers(self, request: HttpRequest) -> list[tuple[str, str]]:
        """What CloudFront shows a viewer-request function: the viewer's headers, Host being
        the distribution's (samrun's own X-Forwarded-* are not the viewer's)."""
        dropped = {"x-forwarded-port", "x-forwarded-proto", "x-forwarded-for"} | edge.DISALLOWED
        pairs = [
            (k, v)
            for k, v in request.headers
            if k.lower() not in dropped and not k.lower().startswith(edge.DISALLOWED_PREFIXES)
        ]
        return [
            ("Host", self.distribution.domain) if k.lower() == "host" else (k, v) for k, v in pairs
        ]

    async def _from_origin(
        self,
        behavior: CacheBehavior,
        functions: dict[str, EdgeFunction],
        cf_request: dict[str, Any],
        body: bytes,
        request: HttpRequest,
    ) -> HttpResponse:
        origin = next(o for o in self.distribution.origins if o.id == behavior.origin)
        origin_request = {
            **cf_request,
            "headers": {
                **cf_request["headers"],
                **edge.cf_headers(
                    [
                        ("X-Forwarded-For", request.source_ip),
                        ("Via", f"1.1 {self.distribution.domain} (CloudFront)"),
                    ]
                ),
            },
            "origin": origin_object(origin),
        }
        trigger = functions.get(edge.ORIGIN_REQUEST)
        if trigger is not None:
            outcome = await self._request_trigger(trigger, origin_request, body, request.request_id)
            if isinstance(outcome, HttpResponse):
                return outcome  # no origin, no origin response; cached
            origin_request, body = outcome
            origin = retarget(origin, origin_request.get("origin"))
        response = await self._fetch(origin, origin_request, body)
        trigger = functions.get(edge.ORIGIN_RESPONSE)
        if trigger is not None:
            response = await self._response_trigger(trigger, origin_request, response, request)
        return response

    async def _invoke(self, function: EdgeFunction, event: dict[str, Any]) -> Any:
        """The function's answer as JSON; CloudFront's 503 when it fails, times out or is
        throttled, its 502 when the answer is not JSON."""
        limit = TRIGGER_TIMEOUT_S[edge.side(function.event_type)]
        own = self.timeouts_s.get((function.function, function.version), limit)
        try:
            result = await call(
                self.invoker, function.function, function.version, event, min(own, limit) + 1
            )
        except TooManyRequests:
            raise EdgeFailure(503, "LambdaLimitExceeded", edge.THROTTLED) from None
        except (IntegrationTimeout, LambdaApiError) as exc:
            logger.error("Lambda@Edge %s:%s: %s", function.function, function.version, exc)
            raise _execution_error() from None
        if result.function_error:
            logger.error(
                "Lambda@Edge %s:%s (%s) failed: %s",
                function.function,
                function.version,
                function.event_type,
                result.payload.decode("utf-8", "replace")[:500],
            )
            raise _execution_error()
        try:
            answer = json.loads(result.payload)
        except ValueError:
            raise edge.malformed(edge.NOT_PARSABLE) from None
        if not isinstance(answer, dict):  # null, a string, a list: CloudFront's own sentence
            raise edge.malformed(edge.NOT_OBJECT)
        return answer

    async def _request_trigger(
        self, function: EdgeFunction, cf_request: dict[str, Any], body: bytes, request_id: str
    ) -> HttpResponse | tuple[dict[str, Any], bytes]:
        shown = dict(cf_request)
        if function.include_body and body:
            shown["body"] = edge.request_body(body, function.event_type)
        answer = await self._invoke(function, self._event(function, shown, None, request_id))
        if "status" in answer:
            return edge.generated_response(answer, function.event_type)
        before = edge.header_pairs(cf_request["headers"], function.event_type)
        after = edge.header_pairs(answer.get("headers"), function.event_type)
        edge.check_headers(before, after, function.event_type)
        uri = answer.get("uri", cf_request["uri"])
        if not isinstance(uri, str) or not uri.startswith("/"):
            raise edge.invalid("The URI must begin with a slash (/).")
        query = answer.get("querystring", cf_request["querystring"])
        if not isinstance(query, str) or any(c in query for c in " #\r\n"):
            raise edge.invalid("The query string is not valid.")
        if len(uri) + len(query) >= 8192:
            raise edge.invalid("The URI and query string exceed 8,192 characters.")
        if function.include_body:
            body = edge.replaced_body(answer, body, function.event_type)
        changed = {**cf_request, "uri": uri, "querystring": query, "headers": answer.get("headers")}
        if "origin" in cf_request and isinstance(answer.get("origin"), dict):
            changed["origin"] = answer["origin"]
        return changed, body

    async def _response_trigger(
        self,
        function: EdgeFunction,
        cf_request: dict[str, Any],
        response: HttpResponse,
        request: HttpRequest,
    ) -> HttpResponse:
        shown_request = {k: v for k, v in cf_request.items() if k != "body"}
        if function.event_type == edge.VIEWER_RESPONSE:
            shown_request.pop("origin", None)
        before = [h for h in response.headers if h[0].lower() not in _DROPPED]
        cf_response = {
            "headers": edge.cf_headers(before),
            "status": str(response.status),
            "statusDescription": response.reason or _reason(response.status),
        }
        event = self._event(function, shown_request, cf_response, request.request_id)
        answer = await self._invoke(function, event)
        after = edge.header_pairs(answer.get("headers"), function.event_type)
        edge.check_headers(before, after, function.event_type)
        status, reason = response.status, response.reason
        if function.event_type == edge.ORIGIN_RESPONSE and "status" in answer:
            status = edge.generated_response({"status": answer["status"]}, "origin-response").status
            description = answer.get("statusDescription")
            reason = description if isinstance(description, str) and description else None
        body = response.body
        if "body" in answer:  # a replaced body: the size of a generated response
            body = edge.generated_response(
                {
                    "status": str(status),
                    "body": answer["body"],
                    "bodyEncoding": answer.get("bodyEncoding"),
                },
                function.event_type,
            ).body
        return HttpResponse(status=status, headers=tuple(after), body=body, reason=reason)

    def _event(
        self,
        function: EdgeFunction,
        cf_request: dict[str, Any],
        cf_response: dict[str, Any] | None,
        request_id: str,
    ) -> dict[str, Any]:
        ids = {
            "domain": self.distribution.domain,
            "id": self.distribution.id,
            "request_id": request_id,
        }
        return edge.event(function.event_type, ids, cf_request, cf_response)

    async def _fetch(self, origin: Origin, cf_request: dict[str, Any], body: bytes) -> HttpResponse:
        """The origin's answer to the request as the functions left it."""
        uri, query = cf_request["uri"], cf_request["querystring"]
        method = cf_request["method"]
        if origin.kind == "s3":
            url = await self._s3_url(origin, method, uri)
        else:
            base = self.locate(origin)
            if base is None:
                port = f":{origin.port}" if origin.port else ""
                base = f"{origin.protocol}://{origin.domain}{port}"
            url = base + origin.path + uri + (f"?{query}" if query else "")
        skip = {"host", "content-length"} | edge.HOP_BY_HOP
        if origin.kind == "s3":
            skip |= {"authorization"}  # the signed URL is the request's only credential
        headers = [
            (k, v)
            for k, v in edge.header_pairs(cf_request["headers"], "origin-request")
            if k.lower() not in skip
        ]
        headers += list(origin.custom_headers.items())
        if self.session is None:
            self.session = aiohttp.ClientSession(auto_decompress=False)
        try:
            async with self.session.request(
                method,
                url,
                headers=headers,
                data=body if method not in ("GET", "HEAD") else None,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=ORIGIN_TIMEOUT_S),
            ) as reply:
                data = await reply.read()
                pairs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in reply.raw_headers]
                return HttpResponse(
                    status=reply.status, headers=tuple(pairs), body=data, reason=reply.reason
                )
        except TimeoutError:
            logger.error("CloudFront %s: origin %s timed out", self.distribution.logical_id, url)
            raise EdgeFailure(504, "Error", edge.ORIGIN_TIMEOUT) from None
        except (aiohttp.ClientError, OSError) as exc:
            logger.error("CloudFront %s: origin %s: %s", self.distribution.logical_id, url, exc)
            raise EdgeFailure(502, "Error", edge.ORIGIN_UNREACHABLE) from None

    async def _s3_url(self, origin: Origin, method: str, uri: str) -> str:
        key = (origin.path + uri).lstrip("/")
        root = self.distribution.default_root_object
        if uri == "/" and root:
            key = (origin.path + "/" + root).lstrip("/")
        elif "s3-website" in origin.domain and (not key or key.endswith("/")):
            key += "index.html"  # a website endpoint's index document
        try:
            return await self.presign(method, origin.target, unquote(key))
        except Exception as exc:  # no endpoint, or botocore refused: the origin is unreachable
            logger.error(
                "CloudFront %s: S3 origin %s: %s", self.distribution.logical_id, origin.target, exc
            )
            raise EdgeFailure(502, "Error", edge.ORIGIN_UNREACHABLE) from None

    def _cached(self, key: tuple[str, ...]) -> HttpResponse | None:
        if not self.caching:
            return None
        entry = self.cache.get(key)
        now = time.monotonic()
        if entry is None or entry.expires <= now:
            self.cache.pop(key, None)
            return None
        age = ("Age", str(int(now - entry.stored)))
        kept = tuple(h for h in entry.response.headers if h[0].lower() != "age")
        return replace(entry.response, headers=(*kept, age))

    def _store(
        self, key: tuple[str, ...], behavior: CacheBehavior, response: HttpResponse, method: str
    ) -> None:
        if not self.caching or method not in ("GET", "HEAD"):
            return
        if response.status >= 400:
            rule = next(
                (e for e in self.distribution.error_responses if e.code == response.status), None
            )
            min_ttl = rule.min_ttl if rule is not None else 10
            seconds = error_ttl(response.status, response.headers, behavior, min_ttl)
        else:
            seconds = ttl(behavior, response.headers)
        if seconds > 0:
            now = time.monotonic()
            self.cache[key] = _Cached(response, now, now + seconds)
            if len(self.cache) > 1000:  # a small cache: the oldest goes
                self.cache.pop(next(iter(self.cache)))


def _execution_error() -> EdgeFailure:
    return EdgeFailure(503, "LambdaExecutionError", edge.EXECUTION_ERROR)


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def origin_object(origin: Origin) -> dict[str, Any]:
    """The `origin` of an origin-request event: `s3` or `custom`, as CloudFront describes it."""
    headers = edge.cf_headers(origin.custom_headers.items())
    if origin.kind == "s3":
        return {
            "s3": {
                "authMethod": "none",
                "customHeaders": headers,
                "domainName": origin.domain,
                "path": origin.path,
                "region": "",
            }
        }
    return {
        "custom": {
            "customHeaders": headers,
            "domainName": origin.domain,
            "keepaliveTimeout": 5,
            "path": origin.path,
            "port": origin.port or (80 if origin.protocol == "http" else 443),
            "protocol": origin.protocol,
            "readTimeout": 30,
            "sslProtocols": ["TLSv1.2"],
        }
    }


def retarget(origin: Origin, changed: Any) -> Origin:
    """The origin an origin-request function chose: unchanged unless its domain changed."""
    if not isinstance(changed, dict) or not changed:
        return origin
    kind = "s3" if "s3" in changed else "custom"
    spec = changed.get(kind)
    if not isinstance(spec, dict):
        raise edge.invalid("The origin object is not valid.")
    domain = str(spec.get("domainName") or "").lower()
    path = str(spec.get("path") or "")
    if not domain:
        raise edge.invalid("The origin domain name is empty.")
    if domain == origin.domain:
        return replace(origin, path=path.rstrip("/"))
    found = _S3_DOMAIN.match(domain)
    if kind == "s3" or found:
        bucket = found[1] if found else domain
        return Origin(id=origin.id, domain=domain, kind="s3", target=bucket, path=path.rstrip("/"))
    port = spec.get("port")
    return Origin(
        id=origin.id,
        domain=domain,
        kind="custom",
        target=domain,
        path=path.rstrip("/"),
        protocol=str(spec.get("protocol") or "https"),
        port=int(port) if isinstance(port, int) else None,
    )
