"""API Gateway mapping templates (samrun.frontdoors.mapping), as pure functions: the variables
API Gateway documents in its "mapping template variable reference", rendered by Velocity."""

from __future__ import annotations

import json

import pytest

from samrun.frontdoors.mapping import MappingError, escape_javascript, render
from samrun.frontdoors.messages import HttpRequest
from samrun.frontdoors.routes import RouteMatch
from samrun.model import Route, RouteKind

ROUTE = Route(
    api="Api",
    kind=RouteKind.REST,
    method="POST",
    path="/orders/{id}",
    function="Machine",
    details={"stage_variables": {"env": "dev"}},
)


def _render(template: str, body: bytes = b"", query: str = "") -> str:
    request = HttpRequest(
        method="POST",
        path="/orders/7",
        raw_path="/orders/7",
        query=query,
        headers=(("X-Trace", "abc"), ("User-Agent", "curl")),
        body=body,
    )
    match = RouteMatch(ROUTE, {"id": "7"}, "/orders/7")
    return render(template, request, match, account_id="123456789012", api_id="abc123")


def test_escape_javascript_as_java_does() -> None:
    assert escape_javascript('say "hi" it\'s a/b\\c\n\t') == 'say \\"hi\\" it\\\'s a\\/b\\\\c\\n\\t'
    assert escape_javascript("café ☃ 😀") == "caf\\u00E9 \\u2603 \\uD83D\\uDE00"


def test_sams_start_execution_templates() -> None:
    plain = '{"input": "$util.escapeJavaScript($input.json(\'$\'))", "stateMachineArn": "arn:m"}'
    rendered = json.loads(_render(plain, b'{"a": [1, "x"]}'))
    assert rendered == {"input": '{"a":[1,"x"]}', "stateMachineArn": "arn:m"}
    assert json.loads(json.loads(_render(plain))["input"]) == {}  # no body: the empty object
    with pytest.raises(ValueError):  # a single quote: \' is not JSON (SAM documents the error)
        json.loads(_render(plain, b'{"a": "it\'s"}'))
    unescaped = plain.replace('))"', ')).replaceAll("\\\\\'","\'")"')
    assert json.loads(json.loads(_render(unescaped, b'{"a": "it\'s"}'))["input"]) == {"a": "it's"}


def test_input_context_and_stage_variables() -> None:
    template = (
        '{"id": "$input.params(\'id\')", "q": "$input.params(\'q\')", '
        '"trace": "$input.params(\'X-Trace\')", "first": $input.json(\'$.items[0]\'), '
        '"name": "$input.path(\'$.name\')", "stage": "$context.stage", '
        '"method": "$context.httpMethod", "resource": "$context.resourcePath", '
        '"ip": "$context.identity.sourceIp", "env": "$stageVariables.env", '
        '"b64": "$util.base64Encode(\'hi\')"}'
    )
    body = b'{"items": [{"n": 1}], "name": "box"}'
    assert json.loads(_render(template, body, "q=z")) == {
        "id": "7",
        "q": "z",
        "trace": "abc",
        "first": {"n": 1},
        "name": "box",
        "stage": "Prod",
        "method": "POST",
        "resource": "/orders/{id}",
        "ip": "127.0.0.1",
        "env": "dev",
        "b64": "aGk=",
    }


def test_a_template_that_does_not_render_is_an_error() -> None:
    with pytest.raises(MappingError):
        _render("#if($input.body")
    with pytest.raises(MappingError):
        _render("$input.path('$.a')", b"not json")
