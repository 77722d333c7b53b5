"""A web page in the user's browser cannot use the Lambda API or samrun's own endpoints: a
request whose `Host` is not an address samrun listens on (DNS rebinding) and a cross-origin
browser request (a foreign `Origin`, or `Sec-Fetch-Site: cross-site`) get 403 in Lambda's shape
and run nothing, unless `--allow-origin` says otherwise. API routes keep the template's CORS."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import SamrunProcess, shared_file, start_up
from tests.hardening.edges import TEMPLATE, lambda_client

INVOKE = "/2015-03-31/functions/Echo/invocations"


def post(url: str, headers: dict[str, str], payload: object) -> tuple[int, dict, object]:
    data = json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), json.loads(error.read() or b"null")


def get(url: str, headers: dict[str, str]) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers)


def assert_refused(result: tuple, log: Path) -> None:
    status, headers = result[0], result[1]
    assert status == 403, result
    assert headers["x-amzn-ErrorType"] == "AccessDeniedException"
    if len(result) > 2:
        message = result[2]["message"]
        assert result[2]["Type"] == "User"
        assert "refused" in message or "not an address samrun listens on" in message
    assert not log.exists() or log.read_text() == "", "the function ran"


@pytest.fixture
def server(samrun_up) -> SamrunProcess:
    return samrun_up(TEMPLATE)


def test_browser_and_rebinding_requests_are_refused(server: SamrunProcess, tmp_path: Path) -> None:
    url = server.lambda_endpoint + INVOKE
    port = urlsplit(url).port
    log = shared_file(tmp_path / "ran.log")  # functions may run as another user
    event = {"log": str(log)}
    text_plain = {"Content-Type": "text/plain"}  # a "simple" request: no CORS preflight
    assert_refused(post(url, {**text_plain, "Origin": "http://evil.example"}, event), log)
    assert_refused(post(url, {"Origin": "null"}, event), log)
    assert_refused(post(url, {"Host": f"evil.example:{port}"}, event), log)
    assert_refused(post(url, {"Host": f"localhost:{port + 1}"}, event), log)
    assert_refused(post(url, {"Host": "localhost"}, event), log)
    assert_refused(post(url, {"Sec-Fetch-Site": "cross-site"}, event), log)
    state = server.lambda_endpoint + "/_samrun/state"
    assert_refused(get(state, {"Host": f"rebound.example:{port}"}), log)
    assert_refused(get(state, {"Sec-Fetch-Site": "cross-site"}), log)
    deploy = server.lambda_endpoint + "/_samrun/functions/Echo/deploy"
    assert_refused(post(deploy, {**text_plain, "Origin": "http://evil.example"}, {}), log)


def test_local_callers_are_served(server: SamrunProcess, tmp_path: Path) -> None:
    url = server.lambda_endpoint + INVOKE
    port = urlsplit(url).port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", f"LOCALHOST:{port}"):
        status, _, body = post(url, {"Host": host}, {})
        assert status == 200, (host, body)
    status, _, _ = post(url, {"Origin": f"http://127.0.0.1:{port}"}, {})
    assert status == 200
    status, _, _ = post(url, {"Sec-Fetch-Site": "same-origin"}, {})
    assert status == 200
    with lambda_client(server) as client:  # boto3 sends the Host of its endpoint URL
        response = client.invoke(FunctionName="Echo", Payload=b"{}")
        assert response["StatusCode"] == 200 and response["Payload"].read()


def test_api_routes_keep_the_templates_cors(server: SamrunProcess) -> None:
    request = urllib.request.Request(
        server.api + "/echo",
        data=b"{}",
        method="POST",
        headers={"Origin": "http://evil.example", "Host": "anything.example"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


def test_allow_origin_lets_the_named_origin_in(tmp_path: Path) -> None:
    server = start_up(TEMPLATE, tmp_path / "one", "--allow-origin", "http://app.test:8080")
    try:
        url = server.lambda_endpoint + INVOKE
        status, headers, _ = post(url, {"Origin": "http://app.test:8080"}, {})
        assert status == 200, headers
        assert_refused(post(url, {"Origin": "http://evil.example"}, {}), tmp_path / "none")
        port = urlsplit(url).port
        assert_refused(post(url, {"Host": f"app.test:{port}"}, {}), tmp_path / "none")
    finally:
        server.stop()
    anything = start_up(TEMPLATE, tmp_path / "two", "--allow-origin", "*")
    try:
        url = anything.lambda_endpoint + INVOKE
        port = urlsplit(url).port
        headers = {"Origin": "http://evil.example", "Host": f"rebound.example:{port}"}
        assert post(url, headers, {})[0] == 200
    finally:
        anything.stop()
