"""An ALB listener in front of Lambda target groups, against a running `samrun up`."""

from __future__ import annotations

import http.client
import json
import socket

from tests.conftest import start_up
from tests.frontdoors.conftest import TEMPLATES, Running, golden_keys, send

TEMPLATE = "frontdoors-alb.yaml"


def _base(running: Running) -> str:
    return running.addresses["ALB listener Listener"]


def test_privileged_port_is_mapped_and_shown(samrun_up: Running) -> None:
    assert not _base(samrun_up).endswith(":80")
    assert any("ALB :80" in line for line in samrun_up.lines)


def test_event_has_the_documented_shape(samrun_up: Running) -> None:
    golden = golden_keys("alb.json")
    reply = send(_base(samrun_up) + "/api/x?q=a%20b&q=c", headers={"X-Thing": "1"})
    assert reply.status == 200
    event = reply.json()
    assert isinstance(event, dict)
    assert set(event) == set(golden)
    assert event["requestContext"]["elb"]["targetGroupArn"].endswith(
        "targetgroup/EchoGroup/0000000000000000"
    )
    assert event["httpMethod"] == "GET" and event["path"] == "/api/x"
    assert event["queryStringParameters"] == {"q": "c"}  # as sent, not decoded; last value
    assert event["headers"]["x-thing"] == "1" and event["body"] == ""
    assert event["isBase64Encoded"] is False


def test_rules_by_priority_and_multi_value_target(samrun_up: Running) -> None:
    reply = send(_base(samrun_up) + "/api/x?q=a%20b&q=c", headers={"X-Env": "beta"})
    event = reply.json()
    assert isinstance(event, dict)
    assert event["requestContext"]["elb"]["targetGroupArn"].split("/")[1] == "BehaveGroup"
    assert event["multiValueQueryStringParameters"] == {"q": ["a%20b", "c"]}
    assert "headers" not in event and event["multiValueHeaders"]["x-env"] == ["beta"]
    assert reply.all("X-Multi") == ["a", "b"]


def test_default_action_and_query_rule(samrun_up: Running) -> None:
    miss = send(_base(samrun_up) + "/other")
    assert (miss.status, miss.body) == (404, b"nothing here")
    assert send(_base(samrun_up) + "/other?mode=echo", method="DELETE").status == 404
    teapot = send(_base(samrun_up) + "/other?mode=status")
    assert (teapot.status, teapot.reason, teapot.body) == (418, "I'm a teapot", b"tea")


def test_limits_413_502_and_websocket_400(samrun_up: Running) -> None:
    big = send(_base(samrun_up) + "/api/x", method="POST", body=b"x" * (1024 * 1024 + 1))
    assert big.status == 413
    assert send(_base(samrun_up) + "/other?mode=big").status == 502
    assert send(_base(samrun_up) + "/other?mode=error").status == 502
    upgrade = send(
        _base(samrun_up) + "/api/x", headers={"Upgrade": "websocket", "Connection": "Upgrade"}
    )
    assert upgrade.status == 400


def test_binary_body_is_base64(samrun_up: Running) -> None:
    data = bytes(range(256))
    reply = send(
        _base(samrun_up) + "/other?mode=echo-body",
        method="POST",
        body=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert (reply.status, reply.body) == (201, data)


def test_health_check_marks_target_healthy(samrun_up: Running) -> None:
    samrun_up.wait_for_line(r"target group EchoGroup: target Echo is healthy")
    state = send(samrun_up.lambda_endpoint + "/_samrun/state").json()
    assert state["target_health"]["EchoGroup"] == "healthy"  # type: ignore[index]


def test_listener_refuses_nothing_after_errors(samrun_up: Running) -> None:
    host, port = _base(samrun_up).removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"GET /api/y HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200")
    assert json.loads(data.split(b"\r\n\r\n", 1)[1])["path"] == "/api/y"


def test_fixed_response_and_redirect_rules(samrun_up: Running) -> None:
    maintenance = send(_base(samrun_up) + "/maintenance")
    assert (maintenance.status, maintenance.body) == (503, b"back soon")
    assert maintenance.header("Content-Type").startswith("text/plain")
    host, port = _base(samrun_up).removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=20)
    connection.request("GET", "/old/page?x=1")
    moved = connection.getresponse()
    assert moved.status == 301
    assert moved.getheader("Location") == f"http://{host}:{port}/api/moved?x=1"
    connection.close()


def test_alb_port_flag_chooses_the_local_port(tmp_path) -> None:
    with socket.socket() as probe:  # a port that is free now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = start_up(TEMPLATES / TEMPLATE, tmp_path / ".samrun", "--alb-port", f"Listener={port}")
    try:
        assert server.addresses["ALB listener Listener"] == f"http://127.0.0.1:{port}"
        assert send(f"http://127.0.0.1:{port}/maintenance").status == 503
    finally:
        server.stop()
