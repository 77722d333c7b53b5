"""`samrun plan` with and without --enforce-iam (a subprocess per command), and the policy
evaluator beside it (pure functions)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from samrun.iam.policy import evaluate, managed_document, summarise
from samrun.model import ExecutionRole
from tests.template.conftest import ROOT, run_samrun

APP = Path(__file__).parent / "app" / "template.yaml"
SCHEMA = json.loads((ROOT / "schemas" / "plan.schema.json").read_text())


def plan(*extra: str) -> dict[str, object]:
    result = run_samrun("plan", str(APP), "--json", *extra)
    assert result.returncode == 0, result.stderr
    document: dict[str, object] = json.loads(result.stdout)
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    return document


def test_plan_shows_roles_mapping_state_and_drops_enforced_not_run() -> None:
    document = plan("--enforce-iam")
    functions = {f["name"]: f for f in document["functions"]}  # type: ignore[attr-defined]
    reader = functions["TableReader"]["role"]
    assert reader["arn"] == "arn:aws:iam::123456789012:role/ReaderRole"
    assert any(
        s.startswith("Allow dynamodb:GetItem on arn:aws:dynamodb:") for s in reader["statements"]
    )
    assert any("AWSLambdaBasicExecutionRole" in s for s in reader["statements"])
    bucket = functions["BucketReader"]["role"]["statements"]
    assert any("s3:GetObject" in s and "arn:aws:s3:::iam-reports/*" in s for s in bucket)
    assert "Allow s3:GetObject on arn:aws:s3:::iam-others/* if aws:SourceVpce" in bucket
    (mapping,) = document["event_source_mappings"]  # type: ignore[misc]
    assert mapping["state"] == "Disabled"
    assert "ReceiveMessage on SQS" in mapping["state_transition_reason"]
    types = {n["type"] for n in document["not_run"]}  # type: ignore[attr-defined]
    assert "AWS::Lambda::Permission" not in types
    assert not [n for n in document["not_run"] if n["name"] == "Private/FunctionUrl"]  # type: ignore[attr-defined]


def test_plan_without_the_flag_still_names_permissions_as_not_enforced() -> None:
    document = plan()
    (mapping,) = document["event_source_mappings"]  # type: ignore[misc]
    assert "state" not in mapping
    reasons = {n["type"]: n["reason"] for n in document["not_run"]}  # type: ignore[attr-defined]
    assert reasons["AWS::Lambda::Permission"].startswith("accepted, not enforced")


def test_plan_table_lists_execution_roles() -> None:
    result = run_samrun("plan", str(APP), "--enforce-iam")
    assert result.returncode == 0, result.stderr
    assert "Execution roles" in result.stdout
    assert "Disabled: PROBLEM: The provided execution role" in result.stdout


def test_explicit_deny_wins_and_wildcards_match() -> None:
    allow = {
        "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::b/*"}]
    }
    deny = {"Statement": {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"}}
    assert evaluate([allow], "s3:GetObject", "arn:aws:s3:::b/k").allowed
    assert evaluate([allow], "S3:getobject", "arn:aws:s3:::b/k").allowed  # actions ignore case
    assert not evaluate([allow], "s3:GetObject", "arn:aws:s3:::other/k").allowed
    assert not evaluate([allow], "s3:PutObject", "arn:aws:s3:::b/k").allowed
    denied = evaluate([allow, deny], "s3:GetObject", "arn:aws:s3:::b/k")
    assert not denied.allowed and denied.denied_by is not None
    not_action = {"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}
    assert evaluate([not_action], "sqs:SendMessage", "q").allowed
    assert not evaluate([not_action], "iam:CreateUser", "*").allowed


def test_managed_policies_resolve_and_summarise() -> None:
    arn = "arn:aws:iam::aws:policy/AmazonDynamoDBReadOnlyAccess"
    document = managed_document(arn)
    assert document is not None
    assert evaluate([document], "dynamodb:GetItem", "arn:aws:dynamodb:r:1:table/t").allowed
    assert not evaluate([document], "dynamodb:PutItem", "arn:aws:dynamodb:r:1:table/t").allowed
    role = ExecutionRole(
        logical_id="R",
        name="R",
        arn="arn:aws:iam::1:role/R",
        managed_arns=(arn, "arn:aws:iam::1:policy/Mine"),
    )
    lines = summarise(role)
    assert any("(AmazonDynamoDBReadOnlyAccess)" in line for line in lines)
    assert lines[-1].startswith("? arn:aws:iam::1:policy/Mine")


def test_plan_names_the_invoke_permissions_sources_lack() -> None:
    """SNS, EventBridge (pattern and schedule) fail each delivery, S3 refuses the wiring; a
    SAM Schedule event's generated permission (SourceArn: its rule) is enough."""
    document = plan("--enforce-iam")
    pushes = {p["type"] + " " + p["source"]: p for p in document["push_sources"]}  # type: ignore[attr-defined]
    sns = pushes["sns arn:aws:sns:us-east-1:123456789012:iam-alerts"]["invoke_permission"]
    assert sns.startswith("sns.amazonaws.com is not allowed to invoke UploadWorker")
    rule = pushes["eventbridge default"]["invoke_permission"]
    assert "from arn:aws:events:us-east-1:123456789012:rule/iam-orders-rule" in rule
    assert "invoke_permission" not in pushes["s3 iam-uploads"]
    schedules = {s["name"]: s for s in document["schedules"]}  # type: ignore[attr-defined]
    assert "rule/iam-nightly" in schedules["iam-nightly"]["invoke_permission"]
    assert "invoke_permission" not in schedules["BucketReaderTick"]
    assert not any("invoke_permission" in p for p in plan()["push_sources"])  # type: ignore[attr-defined]
    table = run_samrun("plan", str(APP), "--enforce-iam").stdout
    assert "Missing invoke permissions (5)" in table
