"""Where samrun answers as API Gateway does, not as SAM CLI: a CORS preflight on a path with only
an `ANY` method (REST: the OPTIONS mock SAM adds for `Cors` beats `ANY`; HTTP API: the API answers
preflight itself), and an authorizer that raises (REST: 500 AuthorizerConfigurationException,
where SAM CLI answers 502), against a running `samrun up`
(tests/fixtures/templates/frontdoors-preflight.yaml)."""

from __future__ import annotations

from samrun.frontdoors.routes import RouteTable
from samrun.model import Route, RouteKind
from tests.frontdoors.conftest import Running, send

TEMPLATE = "frontdoors-preflight.yaml"
PREFLIGHT = {"Origin": "https://example.com", "Access-Control-Request-Method": "PUT"}


def test_rest_preflight_on_an_any_path_gets_the_cors_mock(samrun_up: Running) -> None:
    for path in ("/things", "/files/a/b.txt", "/Prod/things"):
        reply = send(samrun_up.api + path, method="OPTIONS", headers=PREFLIGHT)
        assert reply.status == 200, (path, reply.body)
        assert reply.body == b"{}", path  # the mock's, not the function's
        assert reply.header("Access-Control-Allow-Origin") == "https://example.com"
        assert reply.header("Access-Control-Allow-Methods") == "GET,PUT,OPTIONS"
        assert reply.header("Access-Control-Allow-Headers") == "Content-Type,X-Key"
        assert reply.header("Access-Control-Max-Age") == "300"


def test_rest_other_methods_on_the_any_path_still_reach_the_function(samrun_up: Running) -> None:
    for method in ("GET", "PUT", "DELETE"):
        reply = send(
            samrun_up.api + "/things", method=method, body=b"" if method == "PUT" else None
        )
        assert reply.status == 200, reply.body
        assert reply.json() == {"from": "function", "method": method}


def test_http_api_preflight_on_an_any_route_is_answered_by_the_api(samrun_up: Running) -> None:
    reply = send(samrun_up.api + "/stuff", method="OPTIONS", headers=PREFLIGHT)
    assert reply.status == 204 and reply.body == b""
    assert reply.header("Access-Control-Allow-Origin") == "https://example.com"
    assert reply.header("Access-Control-Allow-Methods") == "GET,PUT"
    assert reply.header("Access-Control-Allow-Headers") == "content-type"
    assert reply.header("Access-Control-Max-Age") == "120"
    plain = send(samrun_up.api + "/stuff", method="OPTIONS")  # no preflight: the route's
    assert plain.json() == {"from": "function", "method": "OPTIONS"}


def test_rest_authorizer_that_raises_is_500_authorizer_configuration(samrun_up: Running) -> None:
    reply = send(samrun_up.api + "/guarded", headers={"Authorization": "token"})
    assert reply.status == 500
    assert reply.json() == {"message": None}
    assert reply.header("x-amzn-ErrorType") == "AuthorizerConfigurationException"


def test_http_api_authorizer_that_raises_is_500(samrun_up: Running) -> None:
    reply = send(samrun_up.api + "/guarded-http", headers={"Authorization": "token"})
    assert (reply.status, reply.json()) == (500, {"message": "Internal Server Error"})
    assert reply.header("x-amzn-ErrorType") is None


def _rest(method: str, path: str, cors: dict[str, object] | None = None) -> Route:
    details = {"cors": {"preflight_headers": cors}} if cors else {}
    return Route(
        api="Api", kind=RouteKind.REST, method=method, path=path, function="F", details=details
    )


def test_route_table_an_explicit_options_beats_any_and_the_mock() -> None:
    headers = {"Access-Control-Allow-Origin": "*"}
    table = RouteTable(
        [
            _rest("ANY", "/a", headers),
            _rest("ANY", "/b", headers),
            _rest("OPTIONS", "/b"),  # the template's own OPTIONS: SAM adds no mock
            _rest("ANY", "/c"),  # no Cors
        ]
    )
    a = table.match("OPTIONS", "/a")
    assert a is not None and a.preflight == headers
    b = table.match("OPTIONS", "/b")
    assert b is not None and b.preflight is None and b.route.method == "OPTIONS"
    c = table.match("OPTIONS", "/c")
    assert c is not None and c.preflight is None and c.route.method == "ANY"
    get = table.match("GET", "/a")
    assert get is not None and get.preflight is None and get.route.method == "ANY"
    assert [r.method for r in table.routes] == ["OPTIONS", "ANY", "ANY", "ANY"]  # no mock listed
