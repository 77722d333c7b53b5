"""RouteTable: every REST and HTTP API route on the shared port, matched with API Gateway's
precedence (the most specific route wins).

Precedence, as API Gateway documents it: a literal segment beats a `{param}` which beats a greedy
`{proxy+}`, compared from the left; a route for the exact method beats `ANY`; `$default` (HTTP
APIs) catches what nothing else does. Routes are sorted once, so a match is one scan.

A REST API's `Cors` makes SAM add an `OPTIONS` method (a MOCK integration) to each path; it is
an entry of its own here, so it beats the path's `ANY` as any explicit method does, and
`RouteMatch.preflight` carries the headers it answers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from urllib.parse import unquote

from samrun.model import Route, RouteKind

logger = logging.getLogger(__name__)

DEFAULT_ROUTE = "$default"
_PARAM = re.compile(r"^\{([^}+]+)(\+?)\}$")


@dataclass(frozen=True, slots=True)
class RouteMatch:
    route: Route
    path_params: dict[str, str]
    path: str  # the request path the route matched, stage prefix removed
    preflight: Mapping[str, str] | None = None  # SAM's CORS OPTIONS mock: the headers it answers


@dataclass(frozen=True, slots=True)
class _Compiled:
    route: Route
    pattern: re.Pattern[str] | None  # None for $default
    names: tuple[str, ...]
    rank: tuple[object, ...]
    preflight: Mapping[str, str] | None = None


def _compile(route: Route, preflight: Mapping[str, str] | None = None) -> _Compiled:
    if route.path == DEFAULT_ROUTE:
        return _Compiled(route, None, (), (1,))
    parts, names, rank = [], [], []
    for segment in route.path.strip("/").split("/") if route.path.strip("/") else []:
        param = _PARAM.match(segment)
        if param is None:
            parts.append(re.escape(segment))
            rank.append(0)
        elif param.group(2):
            parts.append("(.+)")
            names.append(param.group(1))
            rank.append(2)
        else:
            parts.append("([^/]+)")
            names.append(param.group(1))
            rank.append(1)
    pattern = re.compile("/" + "/".join(parts) + "/?" if parts else "/")
    method_rank = 1 if route.method == "ANY" else 0
    return _Compiled(route, pattern, tuple(names), (0, tuple(rank), method_rank), preflight)


def _cors_mocks(seen: Mapping[tuple[str, str], Route]) -> list[_Compiled]:
    """The OPTIONS method SAM adds for a REST API's `Cors` on each path the API declares no
    OPTIONS of its own for (build_route_details reads its headers into the path's routes)."""
    mocks: dict[str, _Compiled] = {}
    for route in seen.values():
        headers = (route.details.get("cors") or {}).get("preflight_headers")
        if route.kind is RouteKind.REST and headers and ("OPTIONS", route.path) not in seen:
            mock = replace(route, method="OPTIONS", auth=None)
            mocks.setdefault(route.path, _compile(mock, headers))
    return list(mocks.values())


class RouteTable:
    """The routes of every API served on one port; `match` returns the one API Gateway picks."""

    def __init__(self, routes: Iterable[Route]) -> None:
        seen: dict[tuple[str, str], Route] = {}
        compiled = []
        for route in routes:
            if route.kind is RouteKind.FUNCTION_URL:
                continue
            key = (route.method, route.path)
            if key in seen:
                logger.warning(
                    "%s %s is declared by %s and %s; %s serves it",
                    route.method,
                    route.path,
                    seen[key].api,
                    route.api,
                    seen[key].api,
                )
                continue
            seen[key] = route
            compiled.append(_compile(route))
        compiled += _cors_mocks(seen)
        self._routes = sorted(compiled, key=lambda c: c.rank)  # stable: template order breaks ties
        self._stages = {r.stage for r in seen.values() if r.stage != DEFAULT_ROUTE}

    @property
    def routes(self) -> list[Route]:
        """The routes the template declares (not SAM's CORS mocks)."""
        return [c.route for c in self._routes if c.preflight is None]

    def match(self, method: str, path: str) -> RouteMatch | None:
        """The route for this request, trying again without a leading `/{StageName}`."""
        found = self._match(method, path)
        if found is None:
            stage, _, rest = path.lstrip("/").partition("/")
            if stage in self._stages:
                found = self._match(method, "/" + rest)
        return found

    def methods_for(self, path: str) -> set[str]:
        """Methods routed for a path (CORS preflight answers with these)."""
        return {
            c.route.method
            for c in self._routes
            if c.pattern is not None and c.pattern.fullmatch(path)
        }

    def _match(self, method: str, path: str) -> RouteMatch | None:
        for c in self._routes:
            if c.route.method not in ("ANY", method):
                continue
            if c.pattern is None:
                return RouteMatch(c.route, {}, path)
            found = c.pattern.fullmatch(path)
            if found:
                params = {n: unquote(v) for n, v in zip(c.names, found.groups(), strict=True)}
                return RouteMatch(c.route, params, path, c.preflight)
        return None

    def miss_kind(self, path: str) -> RouteKind:
        """Which API answers a request no route takes: the one whose routes share its prefix."""
        head = "/" + path.strip("/").split("/")[0]
        kinds = [
            c.route.kind
            for c in self._routes
            if c.pattern is not None and c.route.path.startswith(head)
        ]
        if kinds:
            return kinds[0]
        return self._routes[0].route.kind if self._routes else RouteKind.HTTP
