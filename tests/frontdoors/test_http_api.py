"""HTTP API (payload 2.0 and 1.0) and function URLs against a running `samrun up`."""

from __future__ import annotations

import json

from tests.frontdoors.conftest import Running, golden_keys, send

TEMPLATE = "frontdoors-http.yaml"


def _event(running: Running, path: str, base: str | None = None, **kwargs: object) -> dict:
    reply = send((base or running.api) + path, **kwargs)  # type: ignore[arg-type]
    assert reply.status == 200, reply.body
    return json.loads(reply.body)


def test_event_has_the_documented_shape(samrun_up: Running) -> None:
    golden = golden_keys("apigw-http-v2.json")
    event = _event(
        samrun_up,
        "/items/7?p=1&p=2&q=x",
        method="GET",
        headers={"Cookie": "c1=a; c2=b", "X-Two": "v"},
    )
    assert set(event) == set(golden) - {"body"}  # no body: omitted, as AWS does
    assert set(event["requestContext"]) == set(golden["requestContext"])  # type: ignore[arg-type]
    assert event["version"] == "2.0" and event["routeKey"] == "GET /items/{id}"
    assert event["rawPath"] == "/items/7" and event["rawQueryString"] == "p=1&p=2&q=x"
    assert event["queryStringParameters"] == {"p": "1,2", "q": "x"}
    assert event["cookies"] == ["c1=a", "c2=b"] and "cookie" not in event["headers"]
    assert event["headers"]["x-two"] == "v"  # names lowercased
    assert event["pathParameters"] == {"id": "7"} and event["stageVariables"] == {"color": "green"}
    http = event["requestContext"]["http"]
    assert http == {**http, "method": "GET", "path": "/items/7", "sourceIp": "127.0.0.1"}
    assert event["requestContext"]["routeKey"] == "GET /items/{id}"
    assert event["requestContext"]["stage"] == "$default"
    assert isinstance(event["requestContext"]["timeEpoch"], int)


def test_default_route_catches_the_rest_and_greedy_wins_over_it(samrun_up: Running) -> None:
    assert _event(samrun_up, "/anything/else")["routeKey"] == "$default"
    event = _event(samrun_up, "/files/x/y", method="PUT")
    assert event["routeKey"] == "ANY /files/{proxy+}"
    assert event["pathParameters"] == {"proxy": "x/y"}


def test_payload_1_0_route_joins_repeated_values(samrun_up: Running) -> None:
    event = _event(samrun_up, "/v1/3?a=1&a=2")
    assert event["version"] == "1.0" and event["resource"] == "/v1/{id}"  # AWS's 1.0 shape
    assert event["queryStringParameters"] == {"a": "1,2"}
    assert event["requestContext"]["resourceId"] is None


def test_bare_values_become_200_json(samrun_up: Running) -> None:
    text = send(samrun_up.api + "/behave/bare-string")
    assert (text.status, text.body, text.header("Content-Type")) == (
        200,
        b"hello",  # AWS: a string's body is the string itself
        "application/json",
    )
    obj = send(samrun_up.api + "/behave/bare-object")
    assert (obj.status, obj.json()) == (200, {"hello": "world"})


def test_cookies_become_set_cookie(samrun_up: Running) -> None:
    assert send(samrun_up.api + "/behave/cookies").all("Set-Cookie") == ["a=1; Path=/", "b=2"]


def test_binary_bodies_are_base64_both_ways(samrun_up: Running) -> None:
    data = bytes(range(256))
    reply = send(
        samrun_up.api + "/behave/echo-body",
        method="POST",
        body=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert reply.status == 201 and reply.body == data
    event = _event(
        samrun_up, "/files/up", method="POST", body=data, headers={"Content-Type": "image/png"}
    )
    assert event["isBase64Encoded"] is True


def test_errors(samrun_up: Running) -> None:
    for mode in ("error", "malformed"):
        reply = send(samrun_up.api + f"/behave/{mode}")
        assert (reply.status, reply.json()) == (502, {"message": "Internal server error"})
    assert send(samrun_up.api + "/slow/slow").status == 504


def test_cors_preflight_and_actual_response(samrun_up: Running) -> None:
    pre = send(
        samrun_up.api + "/items/1",
        method="OPTIONS",
        headers={"Origin": "https://example.com", "Access-Control-Request-Method": "GET"},
    )
    assert pre.status == 204
    assert pre.header("Access-Control-Allow-Origin") == "https://example.com"
    assert pre.header("Access-Control-Allow-Methods") == "GET,POST"
    assert pre.header("Access-Control-Allow-Credentials") == "true"
    actual = send(samrun_up.api + "/items/1", headers={"Origin": "https://example.com"})
    assert actual.header("Access-Control-Allow-Origin") == "https://example.com"
    assert actual.header("Access-Control-Expose-Headers") == "x-echo"
    other = send(samrun_up.api + "/items/1", headers={"Origin": "https://evil.example"})
    assert other.header("Access-Control-Allow-Origin") is None


def test_simple_authorizer_caches_and_passes_context(samrun_up: Running) -> None:
    assert send(samrun_up.api + "/secure/simple").status == 401
    one = _event(samrun_up, "/secure/simple", headers={"x-key": "allow"})
    two = _event(samrun_up, "/secure/simple", headers={"x-key": "allow"})
    context = one["requestContext"]["authorizer"]["lambda"]
    assert context["user"] == "carol" and context["event"] == "REQUEST"
    assert two["requestContext"]["authorizer"]["lambda"]["calls"] == context["calls"]
    denied = send(samrun_up.api + "/secure/simple", headers={"x-key": "no"})
    assert (denied.status, denied.json()) == (403, {"message": "Forbidden"})


def test_policy_authorizer_on_http_api(samrun_up: Running) -> None:
    event = _event(samrun_up, "/secure/policy", headers={"x-key": "allow"})
    assert event["requestContext"]["authorizer"]["lambda"]["user"] == "bob"
    assert send(samrun_up.api + "/secure/policy", headers={"x-key": "deny"}).status == 403


def test_function_url_serves_payload_2_with_its_cors(samrun_up: Running) -> None:
    base = samrun_up.addresses["function URL of Behave"]
    event = _event(samrun_up, "/any/path?x=1", base=base)
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/any/path" and event["queryStringParameters"] == {"x": "1"}
    assert "pathParameters" not in event
    assert send(base + "/?mode=bare-object").json() == {"hello": "world"}
    assert send(base + "/?mode=error").status == 502
    pre = send(
        base + "/",
        method="OPTIONS",
        headers={"Origin": "https://url.example.com", "Access-Control-Request-Method": "DELETE"},
    )
    assert pre.header("Access-Control-Allow-Origin") == "https://url.example.com"
    assert pre.header("Access-Control-Max-Age") == "60"
