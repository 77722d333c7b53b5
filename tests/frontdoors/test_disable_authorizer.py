"""`up --disable-authorizer` (SAM CLI's `start-api` flag): routes answer without their
authorizers. The template's authorizers deny everything; with the flag, the functions answer."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import start_up
from tests.frontdoors.conftest import send

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Runtime: python3.11, CodeUri: src, Timeout: 10}
Resources:
  Rest:
    Type: AWS::Serverless::Api
    Properties:
      StageName: Prod
      Auth:
        DefaultAuthorizer: Deny
        Authorizers:
          Deny: {FunctionArn: !GetAtt Denier.Arn}
  Http:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: Deny
        Authorizers:
          Deny:
            FunctionArn: !GetAtt Denier.Arn
            AuthorizerPayloadFormatVersion: "2.0"
            EnableSimpleResponses: true
            Identity: {Headers: [Authorization]}
  Guarded:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Events:
        Rest: {Type: Api, Properties: {RestApiId: !Ref Rest, Path: /rest, Method: get}}
        Http: {Type: HttpApi, Properties: {ApiId: !Ref Http, Path: /http, Method: get}}
  Denier:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.deny
"""

CODE = """\
def handler(event, context):
    context_ = event["requestContext"]
    return {"statusCode": 200, "body": "guarded:" + str("authorizer" in context_)}


def deny(event, context):
    if event.get("type") == "TOKEN" or "methodArn" in event:
        return {
            "principalId": "nobody",
            "policyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Action": "execute-api:Invoke", "Effect": "Deny",
                               "Resource": event["methodArn"]}],
            },
        }
    return {"isAuthorized": False}
"""


def project(folder: Path) -> Path:
    (folder / "src").mkdir()
    (folder / "src" / "app.py").write_text(CODE)
    (folder / "template.yaml").write_text(TEMPLATE)
    return folder / "template.yaml"


def test_routes_answer_without_their_authorizers(tmp_path: Path) -> None:
    template = project(tmp_path)
    guarded = start_up(template, tmp_path / "one")
    try:  # as the template says: every request is denied
        for path in ("/rest", "/http"):
            reply = send(guarded.api + path, headers={"Authorization": "token"})
            assert reply.status == 403, (path, reply.body)
    finally:
        guarded.stop()
    server = start_up(template, tmp_path / "two", "--disable-authorizer")
    try:
        server.wait_for("routes served without authorizer")
        for path in ("/rest", "/http"):
            reply = send(server.api + path, headers={"Authorization": "token"})
            assert (reply.status, reply.body) == (200, b"guarded:False"), path
        client = server.lambda_client()
        invoked = client.invoke(FunctionName="Denier", Payload=json.dumps({}).encode())
        assert json.loads(invoked["Payload"].read()) == {"isAuthorized": False}  # still served
    finally:
        assert server.stop() == 0
