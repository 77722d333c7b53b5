"""Resources functions read at startup are created on the AWS endpoint from the template: a
function reads them with boto3 as it would in AWS (tests/fixtures/templates/compat)."""

from __future__ import annotations

from typing import Any

from tests.conftest import invoke_http
from tests.template.conftest import TEMPLATES


def test_ssm_secret_key_log_group_and_role_exist_for_the_function(samrun_up: Any) -> None:
    server = samrun_up(TEMPLATES / "compat" / "startup_resources.yaml")
    status, _, body = invoke_http(server.lambda_endpoint, "Reader", {})
    assert status == 200, body
    assert body == {
        "parameter": "hello from ssm",
        "secret_user": "admin",
        "secret_password_length": 24,
        "key_description": "app data key",
        "key_encrypts": True,
        "log_retention": 7,
        "role": "arn:aws:iam::123456789012:role/app-role",
    }
    assert not any("could not create" in line for line in server.lines)
