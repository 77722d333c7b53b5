"""A local CloudFront distribution with Lambda@Edge at its four points, against `samrun up`."""

from __future__ import annotations

import base64
import http.client
import json
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest

from samrun.frontdoors.cloudfront import error_ttl, pattern_matches, ttl
from samrun.model import CacheBehavior
from tests.conftest import SamrunProcess, start_up
from tests.frontdoors.conftest import Reply, golden_keys, send

APP = Path(__file__).parent.parent / "fixtures" / "cloudfront"
PAGE = b"<html><body>home</body></html>"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Echo(BaseHTTPRequestHandler):
    """The custom origin: answers what reached it (method, path, headers, body) as JSON."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        seen = {
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": self.rfile.read(length).decode("utf-8", "replace"),
        }
        data = json.dumps(seen).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def origin() -> Iterator[ThreadingHTTPServer]:
    """A local HTTP server, the `Apps` distribution's custom origin (`localhost:PORT`)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def running(
    tmp_path_factory: pytest.TempPathFactory, origin: ThreadingHTTPServer
) -> Iterator[SamrunProcess]:
    port = _free_port()
    state = tmp_path_factory.mktemp("state") / ".samrun"
    server = start_up(
        APP / "template.yaml",
        state,
        "--cloudfront-port",
        f"Distribution={port}",
        "--parameter-overrides",
        f"OriginPort={origin.server_address[1]}",
    )
    try:
        s3 = boto3.client(
            "s3",
            endpoint_url=server.addresses["AWS endpoint"],
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        s3.put_object(Bucket="cf-site", Key="index.html", Body=PAGE, ContentType="text/html")
        server.cloudfront_port = port  # type: ignore[attr-defined]
        yield server
    finally:
        server.stop()


def _url(running: SamrunProcess, path: str) -> str:
    return running.addresses["CloudFront distribution Distribution"] + path


def _shape(value: Any) -> Any:
    """The key structure of an event (header maps: their items' keys only)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__


def _same_shape(event: dict[str, Any], golden: dict[str, Any]) -> None:
    cf, documented = event["Records"][0]["cf"], golden["Records"][0]["cf"]
    assert set(cf) == set(documented)
    assert _shape(cf["config"]) == _shape(documented["config"])
    request, expected = cf["request"], documented["request"]
    assert set(request) == set(expected)
    for name, items in request["headers"].items():
        assert name == name.lower() and all(set(i) == {"key", "value"} for i in items)
        assert all(i["key"].lower() == name for i in items)
    if "origin" in expected:
        assert _shape(request["origin"]) == _shape(expected["origin"])
    if "response" in documented:
        assert set(cf["response"]) == set(documented["response"])
        assert isinstance(cf["response"]["status"], str)


def _header_event(reply: Reply, name: str) -> dict[str, Any]:
    value = reply.header(name)
    assert value is not None, reply.headers
    return json.loads(base64.b64decode(value))


def test_port_is_the_one_asked_for_and_announced(running: SamrunProcess) -> None:
    assert _url(running, "").endswith(f":{running.cloudfront_port}")  # type: ignore[attr-defined]


def test_viewer_request_redirect_never_reaches_the_origin(running: SamrunProcess) -> None:
    address = urlsplit(_url(running, ""))
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=20)
    try:  # not urllib: it would follow the redirect
        connection.request("GET", "/old")
        answer = connection.getresponse()
        reply = Reply(answer.status, answer.getheaders(), answer.read(), answer.reason)
    finally:
        connection.close()
    assert (reply.status, reply.reason) == (301, "Moved Permanently")
    assert reply.header("Location") == "/new"
    # no origin read: the origin-response header is absent; no viewer-response either
    assert reply.header("Strict-Transport-Security") is None
    assert reply.header("Set-Cookie") is None


def test_all_four_points_run_in_order(running: SamrunProcess) -> None:
    reply = send(_url(running, "/any/page?x=1"))
    assert reply.status == 200, reply.body
    assert reply.body == PAGE  # origin-request rewrote the URI to /index.html
    assert reply.header("Strict-Transport-Security") == "max-age=63072000"
    assert reply.header("Set-Cookie") == "edge=1; Path=/"
    assert "cloudfront" in (reply.header("Via") or "")
    origin = _header_event(reply, "X-Origin-Response-Event")["Records"][0]["cf"]
    assert origin["request"]["uri"] == "/index.html"
    assert origin["request"]["origin"]["s3"]["domainName"] == "cf-site.s3.us-east-1.amazonaws.com"
    assert origin["response"]["status"] == "200"


def test_cache_keeps_the_origin_response_and_viewer_response_runs_each_time(
    running: SamrunProcess,
) -> None:
    first = send(_url(running, "/cached"))
    again = send(_url(running, "/cached"))
    assert first.header("X-Cache") == "Miss from cloudfront"
    assert again.header("X-Cache") == "Hit from cloudfront"
    assert again.body == PAGE and again.header("Strict-Transport-Security")
    assert again.header("Set-Cookie") == "edge=1; Path=/"


def test_events_match_the_documented_shape(running: SamrunProcess) -> None:
    viewer = send(_url(running, "/event/viewer-request")).json()
    assert isinstance(viewer, dict)
    _same_shape(viewer, golden_keys("cloudfront-viewer-request.json"))
    config = viewer["Records"][0]["cf"]["config"]
    assert config["eventType"] == "viewer-request"
    assert config["distributionDomainName"].endswith(".cloudfront.net")
    origin = send(_url(running, "/event/origin-request")).json()
    assert isinstance(origin, dict)
    _same_shape(origin, golden_keys("cloudfront-origin-request.json"))
    reply = send(_url(running, "/shape"))
    _same_shape(
        _header_event(reply, "X-Origin-Response-Event"),
        golden_keys("cloudfront-origin-response.json"),
    )
    viewer_response = _header_event(reply, "X-Viewer-Response-Event")
    _same_shape(viewer_response, golden_keys("cloudfront-viewer-response.json"))
    assert "origin" not in viewer_response["Records"][0]["cf"]["request"]


SUFFIX = (
    b"We can't connect to the server for this app or website at this time. There might be too "
    b"much traffic or a configuration error. Try again later, or contact the app or website owner."
)


def _cloudfront_error(reply: Reply, status: int, kind: str, sentence: str) -> None:
    """CloudFront's error page as real ones read (sentences from 502/503 pages users reported,
    e.g. opennextjs/opennextjs-aws#392, serverless-nextjs/serverless-next.js#2544)."""
    assert reply.status == status, reply.body
    assert reply.header("X-Cache") == f"{kind} from cloudfront"
    assert f"<H1>{status} ERROR</H1>".encode() in reply.body
    assert b"<H2>The request could not be satisfied.</H2>" in reply.body
    assert f"{sentence}\n".encode() + SUFFIX in reply.body, reply.body
    assert b"Generated by cloudfront (CloudFront)\nRequest ID: " in reply.body


@pytest.mark.parametrize(
    ("path", "sentence"),
    [
        (
            "/bad/host",
            "The Lambda function result failed validation: The function tried to add, delete, "
            "or change a read-only header.",
        ),
        (
            "/bad/big",  # a 50 KB generated response at a viewer point (limit 40 KB)
            "The Lambda function result failed validation: The body is not a string, is not an "
            "object, or exceeds the maximum size.",
        ),
        (
            "/bad/blacklisted",
            "The Lambda function result failed validation: The function tried to add a "
            "blacklisted header.",
        ),
        (
            "/bad/list",
            "The Lambda function returned invalid JSON: The JSON output must be an object type.",
        ),
        (
            "/bad/headers",
            "The Lambda function returned an invalid entry in the headers object: Each header "
            "entry in the headers object must be an array.",
        ),
    ],
)
def test_an_invalid_result_is_cloudfronts_502_with_its_sentence(
    running: SamrunProcess, path: str, sentence: str
) -> None:
    _cloudfront_error(send(_url(running, path)), 502, "LambdaValidationError", sentence)


def test_function_error_is_cloudfronts_503(running: SamrunProcess) -> None:
    sentence = (
        "The Lambda function associated with the CloudFront distribution is invalid or doesn't "
        "have the required permissions."
    )
    _cloudfront_error(send(_url(running, "/bad/raise")), 503, "LambdaExecutionError", sentence)


def test_a_method_the_behaviour_does_not_allow_is_cloudfronts_403(running: SamrunProcess) -> None:
    reply = send(_url(running, "/page"), method="POST", body=b"x")
    sentence = (
        "This distribution is not configured to allow the HTTP request method that was used for "
        "this request. The distribution supports only cachable requests."
    )
    _cloudfront_error(reply, 403, "Error", sentence)


def test_custom_error_response_serves_its_page_with_its_code_uncached(
    running: SamrunProcess,
) -> None:
    """CustomErrorResponses: S3's error for a missing key becomes /index.html (fetched from the
    origin of the behaviour /index.html matches) answered 200; ErrorCachingMinTTL 0: the
    origin is asked again next time."""
    for _ in range(2):
        reply = send(_url(running, "/bad/missing.html"))  # the /bad/* behaviour: no rewrite
        assert reply.status == 200, reply.body
        assert reply.body == PAGE
        assert reply.header("X-Cache") == "Error from cloudfront"
    before = _state(running)["distributions"]["Distribution"]["cache"]["misses"]
    send(_url(running, "/bad/missing.html"))
    assert _state(running)["distributions"]["Distribution"]["cache"]["misses"] == before + 1


# --- the app's own origins, a custom origin, IncludeBody (the `Apps` distribution) ----------


def _apps(running: SamrunProcess, path: str) -> str:
    return running.addresses["CloudFront distribution Apps"] + path


def test_rest_api_origin_with_the_stage_as_origin_path(running: SamrunProcess) -> None:
    reply = send(_apps(running, "/api/hello"))
    assert reply.status == 200, reply.body
    body = reply.json()
    assert isinstance(body, dict)
    assert (body["path"], body["stage"]) == ("/api/hello", "Prod")  # OriginPath /Prod: the stage
    assert reply.header("X-Cache") == "Miss from cloudfront"
    # ViewerProtocolPolicy redirect-to-https: the local door serves HTTP, no 301 (named not run)


def test_http_api_origin(running: SamrunProcess) -> None:
    reply = send(_apps(running, "/http/hello?x=1"))
    assert reply.status == 200, reply.body
    body = reply.json()
    assert isinstance(body, dict)
    assert (body["path"], body["stage"]) == ("/http/hello", "$default")


def test_function_url_origin(running: SamrunProcess) -> None:
    reply = send(_apps(running, "/url/any/thing"))
    assert reply.status == 200, reply.body
    body = reply.json()
    assert isinstance(body, dict)
    assert body["path"] == "/url/any/thing"


def test_custom_origin_url_gets_the_request(running: SamrunProcess) -> None:
    reply = send(_apps(running, "/custom/page?q=1"), headers={"X-Client": "yes"})
    assert reply.status == 200, reply.body
    seen = reply.json()
    assert isinstance(seen, dict)
    assert (seen["method"], seen["path"]) == ("GET", "/custom/page?q=1")
    assert seen["headers"]["x-client"] == "yes"
    assert "(CloudFront)" in seen["headers"]["via"]
    assert seen["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert reply.header("X-Cache") == "Miss from cloudfront"


@pytest.mark.parametrize("target", ["http://elsewhere.example/custom/abs?q=1", "//custom/abs?q=1"])
def test_an_absolute_form_request_target_reaches_the_origin_as_its_path(
    running: SamrunProcess, target: str
) -> None:
    """`GET http://host/x HTTP/1.1` (a proxy-style request line) is the path /x, not an origin
    URL glued to the target (it was a 502 with `http://localhost:PORThttp://host/x`)."""
    address = urlsplit(_apps(running, "/"))
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    try:
        connection.request("GET", target)
        reply = connection.getresponse()
        seen = json.loads(reply.read())
    finally:
        connection.close()
    assert reply.status == 200, seen
    assert seen["path"].endswith("/custom/abs?q=1")


def test_origin_path_is_put_before_the_uri(running: SamrunProcess) -> None:
    seen = send(_apps(running, "/prefixed/x?y=1")).json()
    assert isinstance(seen, dict)
    assert seen["path"] == "/base/prefixed/x?y=1"


def test_include_body_lets_origin_request_read_and_replace_a_post_body(
    running: SamrunProcess,
) -> None:
    reply = send(_apps(running, "/echo/form"), method="POST", body=b"name=edge")
    assert reply.status == 200, reply.body
    seen = reply.json()
    assert isinstance(seen, dict)
    assert (seen["method"], seen["path"]) == ("POST", "/echo/form")
    assert json.loads(seen["body"]) == {
        "was": "name=edge",
        "truncated": False,
        "action": "read-only",
    }
    assert seen["headers"]["content-length"] == str(len(seen["body"].encode()))


def _state(running: SamrunProcess) -> dict[str, Any]:
    with urllib.request.urlopen(running.lambda_endpoint + "/_samrun/state", timeout=20) as reply:
        document = json.loads(reply.read())
    assert isinstance(document, dict)
    return document


def test_state_lists_distributions_with_their_cache_counters(running: SamrunProcess) -> None:
    before = _state(running)["distributions"]
    assert set(before) == {"Distribution", "Apps"}
    site = before["Distribution"]
    assert site["port"] == running.cloudfront_port  # type: ignore[attr-defined]
    assert site["url"] == _url(running, "/")
    assert [b["path_pattern"] for b in site["behaviors"]] == ["/bad/*", "Default (*)"]
    assert site["origins"][0]["kind"] == "s3"
    apps = before["Apps"]
    kinds = ["api", "api", "function_url", "custom", "custom"]
    assert [o["kind"] for o in apps["origins"]] == kinds
    assert apps["associations"] == [
        {
            "path_pattern": "/echo/*",
            "event_type": "origin-request",
            "function": "BodyRewrite",
            "version": "1",
            "include_body": True,
        }
    ]
    assert send(_url(running, "/counted")).header("X-Cache") == "Miss from cloudfront"
    assert send(_url(running, "/counted")).header("X-Cache") == "Hit from cloudfront"
    after = _state(running)["distributions"]["Distribution"]
    assert after["cache"]["enabled"] is True
    assert after["cache"]["misses"] == site["cache"]["misses"] + 1
    assert after["cache"]["hits"] == site["cache"]["hits"] + 1
    assert after["requests"] == site["requests"] + 2


def _samrun(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "samrun", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=APP,
    )


def test_latest_is_refused_with_its_line(tmp_path: Path) -> None:
    done = _samrun("validate", str(APP / "latest.yaml"))
    assert done.returncode == 1
    assert "latest.yaml:26:15:" in done.stdout + done.stderr
    assert "$LATEST" in done.stdout + done.stderr
    plan = _samrun("plan", str(APP / "latest.yaml"), "--json", "--state-dir", str(tmp_path))
    document = json.loads(plan.stdout)
    assert document["distributions"] == []
    [entry] = [n for n in document["not_run"] if n["name"] == "Distribution"]
    assert entry["location"].endswith("latest.yaml:26:15")


def test_plan_lists_the_distribution_and_no_longer_names_it_not_run(tmp_path: Path) -> None:
    plan = _samrun("plan", str(APP / "template.yaml"), "--json", "--state-dir", str(tmp_path))
    document = json.loads(plan.stdout)
    assert [d["logical_id"] for d in document["distributions"]] == ["Distribution", "Apps"]
    dist = document["distributions"][0]
    assert [b["path_pattern"] for b in dist["behaviors"]] == ["/bad/*", "Default (*)"]
    assert dist["behaviors"][1]["functions"] == {
        "viewer-request": "ViewerRequest:1",
        "origin-request": "OriginRequest:1",
        "origin-response": "OriginResponse:1",
        "viewer-response": "ViewerResponse:1",
    }
    assert dist["origins"][0]["kind"] == "s3"
    assert not [n for n in document["not_run"] if n["type"] == "AWS::CloudFront::Distribution"]
    assert dist["error_responses"][0] == {
        "code": 404,
        "page_path": "/index.html",
        "response_code": 200,
        "min_ttl": 0,
    }
    [protocol] = [n for n in document["not_run"] if n["type"] == "ViewerProtocolPolicy"]
    assert protocol["name"] == "Apps.ViewerProtocolPolicy"
    assert "the local door serves HTTP; viewers are not redirected" in protocol["reason"]


def test_path_patterns_and_ttls() -> None:
    assert pattern_matches("/images/*.jpg", "/images/a/b.jpg")
    assert pattern_matches("images/?.png", "/images/a.png")
    assert not pattern_matches("images/?.png", "/images/ab.png")
    assert not pattern_matches("/Images/*", "/images/x")  # case sensitive
    behavior = CacheBehavior(path_pattern=None, origin="o", min_ttl=5, max_ttl=100)
    assert ttl(behavior, (("Cache-Control", "max-age=1000"),)) == 100
    assert ttl(behavior, (("Cache-Control", "no-store"),)) == 5
    assert ttl(behavior, ()) == behavior.default_ttl


def test_error_caching_follows_cloudfronts_rules() -> None:
    behavior = CacheBehavior(path_pattern=None, origin="o", max_ttl=100)
    assert error_ttl(404, (), behavior, 10) == 10  # no header: ErrorCachingMinTTL
    assert error_ttl(404, (("Cache-Control", "max-age=50"),), behavior, 10) == 50  # the greater
    assert error_ttl(404, (("Cache-Control", "max-age=500"),), behavior, 10) == 100  # MaxTTL
    assert error_ttl(404, (("Cache-Control", "no-store"),), behavior, 10) == 0  # honoured for 404
    assert error_ttl(503, (("Cache-Control", "no-store"),), behavior, 10) == 10  # ignored for 503
    assert error_ttl(416, (), behavior, 10) == 0  # never cached


def test_a_cloudfront_port_naming_no_distribution_stops_up(tmp_path: Path) -> None:
    done = _samrun(
        "up",
        str(APP / "template.yaml"),
        "--port",
        "0",
        "--invoke-port",
        "0",
        "--state-dir",
        str(tmp_path / ".samrun"),
        "--cloudfront-port",
        f"Distrbution={_free_port()}",
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert "--cloudfront-port Distrbution=" in done.stderr
    assert "the template has no distribution Distrbution" in done.stderr
    assert "(distributions served: Distribution, Apps)" in done.stderr
    assert "ready:" not in done.stdout
