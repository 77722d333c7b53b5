"""REST API (payload 1.0) against a running `samrun up`."""

from __future__ import annotations

import json

from tests.frontdoors.conftest import Running, golden_keys, send

TEMPLATE = "frontdoors-rest.yaml"


def _event(running: Running, path: str, **kwargs: object) -> dict:
    reply = send(running.api + path, **kwargs)  # type: ignore[arg-type]
    assert reply.status == 200, reply.body
    return json.loads(reply.body)


def test_event_has_the_documented_shape(samrun_up: Running) -> None:
    golden = golden_keys("apigw-rest-v1.json")
    event = _event(samrun_up, "/items/42?a=1&a=2&b=x", headers={"X-Two": "v"})
    assert set(event) == set(golden)
    assert set(golden["requestContext"]) <= set(event["requestContext"])  # type: ignore[arg-type]
    assert set(event["requestContext"]["identity"]) == set(golden["requestContext"]["identity"])  # type: ignore[index]
    assert event["resource"] == "/items/{id}" and event["path"] == "/items/42"
    assert event["httpMethod"] == "GET" and event["pathParameters"] == {"id": "42"}
    assert event["queryStringParameters"] == {"a": "2", "b": "x"}  # REST keeps the last value
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["x"]}
    assert event["headers"]["X-Two"] == "v" and event["multiValueHeaders"]["X-Two"] == ["v"]
    assert event["stageVariables"] == {"color": "blue"}
    context = event["requestContext"]
    assert context["stage"] == "Prod" and context["path"] == "/Prod/items/42"
    assert context["resourcePath"] == "/items/{id}" and context["httpMethod"] == "GET"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert event["body"] is None and event["isBase64Encoded"] is False


def test_response_headers_and_multi_value_headers(samrun_up: Running) -> None:
    reply = send(samrun_up.api + "/items/1")
    assert reply.header("X-Echo") == "1"
    assert reply.all("X-Multi") == ["a", "b"]
    assert reply.header("Content-Type") == "application/json"


def test_precedence_and_optional_stage_prefix(samrun_up: Running) -> None:
    assert _event(samrun_up, "/items/special")["resource"] == "/items/special"
    assert _event(samrun_up, "/items/other")["resource"] == "/items/{id}"
    assert _event(samrun_up, "/Prod/items/special")["resource"] == "/items/special"


def test_greedy_path_and_any_method(samrun_up: Running) -> None:
    event = _event(samrun_up, "/files/a/b/c.txt", method="DELETE")
    assert event["pathParameters"] == {"proxy": "a/b/c.txt"}
    assert event["httpMethod"] == "DELETE" and event["resource"] == "/files/{proxy+}"


def test_text_body_and_post(samrun_up: Running) -> None:
    event = _event(
        samrun_up,
        "/items/9",
        method="POST",
        body=b'{"k": 1}',
        headers={"Content-Type": "application/json"},
    )
    assert event["body"] == '{"k": 1}' and event["isBase64Encoded"] is False


def test_no_route_is_403_missing_authentication_token(samrun_up: Running) -> None:
    for path, method in (("/nowhere", "GET"), ("/items/special", "DELETE")):
        reply = send(samrun_up.api + path, method=method)
        assert (reply.status, reply.json()) == (403, {"message": "Missing Authentication Token"})


def test_function_error_and_malformed_response_are_502(samrun_up: Running) -> None:
    for mode in ("error", "malformed", "bare-object"):  # REST has no bare-body shortcut
        reply = send(samrun_up.api + f"/behave/{mode}")
        assert (reply.status, reply.json()) == (502, {"message": "Internal server error"}), mode


def test_integration_timeout_is_504(samrun_up: Running) -> None:
    reply = send(samrun_up.api + "/slow/slow")
    assert reply.status == 504
    assert send(samrun_up.api + "/behave/echo").status == 200  # still serving


def test_binary_media_types_round_trip(samrun_up: Running) -> None:
    data = bytes(range(256)) * 4
    reply = send(
        samrun_up.api + "/behave/echo-body",
        method="POST",
        body=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert reply.status == 201 and reply.body == data
    png = send(samrun_up.api + "/behave/binary")
    assert png.body == bytes(range(256)) and png.header("Content-Type") == "image/png"


def test_cors_preflight_from_sam_cors(samrun_up: Running) -> None:
    reply = send(
        samrun_up.api + "/items/1",
        method="OPTIONS",
        headers={"Origin": "https://example.com", "Access-Control-Request-Method": "GET"},
    )
    assert reply.status == 200
    assert reply.header("Access-Control-Allow-Origin") == "https://example.com"
    assert reply.header("Access-Control-Allow-Methods") == "GET,POST,OPTIONS"
    assert reply.header("Access-Control-Max-Age") == "600"


def test_token_authorizer_allow_deny_unauthorized_and_cache(samrun_up: Running) -> None:
    assert send(samrun_up.api + "/secure/token").status == 401  # no identity: not even invoked
    first = _event(samrun_up, "/secure/token", headers={"Authorization": "allow"})
    auth = first["requestContext"]["authorizer"]
    assert auth["user"] == "alice" and auth["principalId"] == "user-1"
    again = _event(samrun_up, "/secure/token", headers={"Authorization": "allow"})
    assert again["requestContext"]["authorizer"]["calls"] == auth["calls"]  # cached (TTL 300)
    denied = send(samrun_up.api + "/secure/token", headers={"Authorization": "deny"})
    assert denied.status == 403
    assert denied.json() == {
        "Message": "User is not authorized to access this resource with an explicit deny"
    }
    assert send(samrun_up.api + "/secure/token", headers={"Authorization": "x"}).status == 401


def test_request_authorizer_without_cache_runs_each_time(samrun_up: Running) -> None:
    one = _event(samrun_up, "/secure/request", headers={"X-Key": "allow"})
    two = _event(samrun_up, "/secure/request", headers={"X-Key": "allow"})
    assert (
        two["requestContext"]["authorizer"]["calls"] > one["requestContext"]["authorizer"]["calls"]
    )  # TTL 0: no caching
    assert send(samrun_up.api + "/secure/request", headers={"X-Key": "deny"}).status == 403
    assert send(samrun_up.api + "/secure/request").status == 401
