"""Idle and half-sent requests cannot lock clients out. Every listener (the Lambda API, API
routes) closes a connection whose headers do not arrive in time, answers 408 to a body that does
not, and counts its connections in one budget below the descriptor limit: at the budget a new
connection closes the longest-idle one. Here samrun runs with 1,024 descriptors (soft and hard,
as a default Linux session has), and 1,100 half-sent requests (which used to exhaust them and
lock everyone out) leave both listeners serving."""

from __future__ import annotations

import json
import resource
import socket
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import SamrunProcess, wait_until
from tests.hardening.edges import TEMPLATE, address, raw_request, status_of

HALF_SENT = 1100
HEADER_TIMEOUT_S = 10  # samrun.listeners.HEADER_TIMEOUT_S
BODY_TIMEOUT_S = 20  # samrun.listeners.BODY_TIMEOUT_S


def half_sent(url: str, path: str = "/2015-03-31/functions/Echo/invocations") -> socket.socket:
    host, port = address(url)
    sock = socket.create_connection((host, port), timeout=10)
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nX-Half: ".encode())
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(0.05)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except OSError:
        return True  # reset


def invoke(url: str) -> int:
    request = urllib.request.Request(
        url + "/2015-03-31/functions/Echo/invocations", data=b"{}", method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


def route(url: str) -> int:
    request = urllib.request.Request(url + "/echo", data=b"{}", method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


@pytest.fixture
def server(samrun_up) -> Iterator[SamrunProcess]:
    process: SamrunProcess = samrun_up(TEMPLATE)
    resource.prlimit(process.process.pid, resource.RLIMIT_NOFILE, (1024, 1024))
    yield process


@pytest.fixture
def many_sockets() -> Iterator[None]:
    """This test process holds HALF_SENT sockets at once."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = HALF_SENT + 512
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"needs {wanted} descriptors, the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_1100_half_sent_requests_leave_every_client_served(
    server: SamrunProcess, many_sockets: None
) -> None:
    assert invoke(server.lambda_endpoint) == 200
    held: list[socket.socket] = []
    try:
        for n in range(HALF_SENT):
            url = server.api if n % 3 == 0 else server.lambda_endpoint
            held.append(half_sent(url, "/echo" if n % 3 == 0 else "/2015-03-31/functions/x"))
        assert invoke(server.lambda_endpoint) == 200
        assert route(server.api) == 200
        with urllib.request.urlopen(server.lambda_endpoint + "/_samrun/state") as response:
            connections = json.loads(response.read())["connections"]
        assert connections["limit"] < 1024 and connections["open"] <= connections["limit"]
        assert connections["evicted"] >= HALF_SENT - connections["limit"]
        wait_until(lambda: sum(map(closed_by_server, held)) >= HALF_SENT, timeout=60)
    finally:
        for sock in held:
            sock.close()


def test_headers_that_never_finish_are_cut_off(server: SamrunProcess) -> None:
    slow = [half_sent(server.lambda_endpoint), half_sent(server.api, "/echo")]
    try:
        wait_until(lambda: all(map(closed_by_server, slow)), timeout=HEADER_TIMEOUT_S * 4)
    finally:
        for sock in slow:
            sock.close()


def test_body_that_never_arrives_gets_408_in_the_listeners_shape(server: SamrunProcess) -> None:
    head = "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Length: 100\r\n\r\n{{"
    requests = [
        (url, head.format(path, "{}:{}".format(*address(url))).encode())
        for url, path in (
            (server.lambda_endpoint, "/2015-03-31/functions/Echo/invocations"),
            (server.api, "/echo"),
        )
    ]
    with ThreadPoolExecutor(len(requests)) as pool:  # both listeners' timeouts run at once
        lambda_answer, api_answer = pool.map(
            lambda r: raw_request(*r, timeout=BODY_TIMEOUT_S * 3), requests
        )
    assert status_of(lambda_answer) == 408, lambda_answer[:300]
    assert b"x-amzn-ErrorType: RequestTimeoutException" in lambda_answer
    assert status_of(api_answer) == 408, api_answer[:300]
    assert json.loads(api_answer.partition(b"\r\n\r\n")[2])["message"]
