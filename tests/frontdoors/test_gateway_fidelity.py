"""API Gateway's own behaviour at the edge, checked against AWS's documentation: HTTP/1.1
answers, default Content-Types, headers/multiValueHeaders merging, X-Forwarded-* on requests,
2.0 string returns, malformed 1.0 responses on HTTP APIs, requestContext fields."""

from __future__ import annotations

import socket
from urllib.parse import urlparse

from tests.frontdoors.conftest import Running, send

TEMPLATE = "compat/gateway_fidelity.yaml"


def test_an_http_1_0_request_gets_an_http_1_1_answer(samrun_up: Running) -> None:
    address = urlparse(samrun_up.api)
    with socket.create_connection((address.hostname, address.port), timeout=20) as sock:
        sock.sendall(b"GET /v2/shapes?mode=string HTTP/1.0\r\nHost: localhost\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert answer.endswith(b"\r\n\r\nplain text")


def test_rest_defaults_to_json_and_http_api_to_text(samrun_up: Running) -> None:
    rest = send(samrun_up.api + "/rest/shapes?mode=no-content-type")
    assert (rest.status, rest.header("Content-Type")) == (200, "application/json")
    http = send(samrun_up.api + "/v2/shapes?mode=no-content-type")
    assert (http.status, http.header("Content-Type")) == (200, "text/plain; charset=utf-8")


def test_headers_and_multi_value_headers_merge(samrun_up: Running) -> None:
    for path in ("/rest/shapes", "/v1/shapes"):
        reply = send(samrun_up.api + path + "?mode=merged-headers")
        assert reply.all("X-One") == ["a", "b", "c"]
        assert reply.all("X-Two") == ["same", "other"]
        assert reply.all("X-Flag") == ["true"]


def test_requests_carry_x_forwarded_headers(samrun_up: Running) -> None:
    port = str(urlparse(samrun_up.api).port)
    rest = send(samrun_up.api + "/rest/shapes", headers={"X-Forwarded-For": "203.0.113.7"})
    headers = rest.json()["headers"]  # type: ignore[index]
    assert headers["X-Forwarded-For"] == "203.0.113.7, 127.0.0.1"
    assert (headers["X-Forwarded-Port"], headers["X-Forwarded-Proto"]) == (port, "http")
    v2 = send(samrun_up.api + "/v2/shapes").json()["headers"]  # type: ignore[index]
    assert (v2["x-forwarded-for"], v2["x-forwarded-port"], v2["x-forwarded-proto"]) == (
        "127.0.0.1",
        port,
        "http",
    )


def test_a_2_0_string_return_is_sent_as_the_string(samrun_up: Running) -> None:
    reply = send(samrun_up.api + "/v2/shapes?mode=string")
    assert (reply.status, reply.body, reply.header("Content-Type")) == (
        200,
        b"plain text",
        "application/json",
    )


def test_a_malformed_1_0_response_on_an_http_api_is_502(samrun_up: Running) -> None:
    reply = send(samrun_up.api + "/v1/shapes?mode=no-status")
    assert (reply.status, reply.json()) == (502, {"message": "Internal server error"})


def test_request_context_has_operation_name_and_version(samrun_up: Running) -> None:
    rest = send(samrun_up.api + "/rest/shapes").json()
    assert rest["requestContext"]["operationName"] == "GetShapes"  # type: ignore[index]
    assert "version" not in rest  # REST events have no version
    v1 = send(samrun_up.api + "/v1/shapes").json()
    assert v1["version"] == "1.0"  # type: ignore[index]
    assert send(samrun_up.api + "/v2/shapes").json()["version"] == "2.0"  # type: ignore[index]
