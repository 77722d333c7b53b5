"""RouteTable precedence, without a server."""

from __future__ import annotations

from samrun.frontdoors.routes import RouteTable
from samrun.model import Route, RouteKind


def _route(
    method: str, path: str, function: str = "F", kind: RouteKind = RouteKind.HTTP, api: str = "Api"
) -> Route:
    return Route(api=api, kind=kind, method=method, path=path, function=function, stage="Prod")


TABLE = RouteTable(
    [
        _route("ANY", "$default", "default"),
        _route("ANY", "/{proxy+}", "greedy"),
        _route("GET", "/pets/{id}", "param"),
        _route("ANY", "/pets/dog", "any-literal"),
        _route("GET", "/pets/dog", "get-literal"),
        _route("GET", "/", "root"),
    ]
)


def _function(method: str, path: str) -> str | None:
    match = TABLE.match(method, path)
    return match.route.function if match else None


def test_most_specific_route_wins() -> None:
    assert _function("GET", "/pets/dog") == "get-literal"
    assert _function("POST", "/pets/dog") == "any-literal"
    assert _function("GET", "/pets/cat") == "param"
    assert _function("POST", "/pets/cat") == "greedy"
    assert _function("GET", "/a/b/c") == "greedy"
    assert _function("GET", "/") == "root"
    assert _function("POST", "/") == "default"


def test_path_parameters_are_decoded_and_stage_prefix_is_optional() -> None:
    table = RouteTable([_route("GET", "/pets/{id}")])
    match = table.match("GET", "/Prod/pets/a%20b")
    assert match is not None and match.path_params == {"id": "a b"}


def test_duplicate_route_first_wins() -> None:
    table = RouteTable(
        [_route("GET", "/x", "first", api="A"), _route("GET", "/x", "second", api="B")]
    )
    match = table.match("GET", "/x")
    assert match is not None and match.route.function == "first"


def test_greedy_needs_a_segment_and_miss_kind() -> None:
    table = RouteTable([_route("GET", "/files/{proxy+}", kind=RouteKind.REST)])
    assert table.match("GET", "/files") is None
    assert table.miss_kind("/files") is RouteKind.REST
