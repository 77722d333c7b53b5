"""Authorizers declared as AWS::ApiGateway::Authorizer / AWS::ApiGatewayV2::Authorizer resources
are enforced like those in SAM Auth; a route behind something samrun cannot check warns at
startup (and is named in the "not run locally" list)."""

from __future__ import annotations

import json
import urllib.request

from tests.frontdoors.conftest import Running, send

TEMPLATE = "compat/resource_authorizers.yaml"


def test_rest_token_authorizer_resource_is_enforced(samrun_up: Running) -> None:
    assert send(samrun_up.api + "/secure").status == 401  # no token: not even invoked
    denied = send(samrun_up.api + "/secure", headers={"Authorization": "nope"})
    assert denied.status == 401  # the authorizer raised "Unauthorized"
    allowed = send(samrun_up.api + "/secure", headers={"Authorization": "allow"})
    assert allowed.status == 200
    event: dict = allowed.json()  # type: ignore[assignment]
    assert event["requestContext"]["authorizer"]["principalId"] == "alice"


def test_http_simple_response_authorizer_resource_is_enforced(samrun_up: Running) -> None:
    assert send(samrun_up.api + "/v2/secure").status == 401
    assert send(samrun_up.api + "/v2/secure", headers={"Authorization": "nope"}).status == 403
    allowed = send(samrun_up.api + "/v2/secure", headers={"Authorization": "allow"})
    assert allowed.status == 200
    event: dict = allowed.json()  # type: ignore[assignment]
    assert event["requestContext"]["authorizer"] == {"lambda": {"who": "alice"}}


def test_iam_route_warns_at_startup_and_is_in_state(samrun_up: Running) -> None:
    startup = [line for line in samrun_up.lines if "Rest/AWS_IAM" in line]
    assert len(startup) == 1 and "authorizer Rest/AWS_IAM (iam)" in startup[0]
    assert "its routes pass" in startup[0]
    with urllib.request.urlopen(samrun_up.lambda_endpoint + "/_samrun/state") as response:
        state = json.loads(response.read())
    assert {"what": "authorizer", "name": "Rest/AWS_IAM", "type": "iam"}.items() <= next(
        n for n in state["not_run"] if n["name"] == "Rest/AWS_IAM"
    ).items()
