"""IAM Condition blocks (pure functions): the operators, IfExists, missing and unknown keys, and
how a resource policy's SourceArn / SourceAccount conditions decide a service's invocation."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from samrun.iam.conditions import NOT_MODELLED, condition_keys, evaluate_condition, role_context
from samrun.iam.policy import evaluate
from samrun.iam.resource_policy import ResourcePolicies
from samrun.model import AppGraph, LambdaPermission

BUCKET = "arn:aws:s3:::uploads"
REQUEST = {"aws:sourcearn": BUCKET, "aws:sourceaccount": "123456789012"}


def holds(block: Any, request: Any = None) -> bool:
    return evaluate_condition(block, REQUEST if request is None else request).applies("Allow")


def test_string_operators() -> None:
    assert holds({"StringEquals": {"aws:SourceAccount": "123456789012"}})
    assert holds({"StringEquals": {"AWS:SOURCEACCOUNT": ["1", "123456789012"]}})  # any value
    assert not holds({"StringEquals": {"aws:SourceAccount": "999999999999"}})
    assert holds({"StringNotEquals": {"aws:SourceAccount": "999999999999"}})
    assert not holds({"StringNotEquals": {"aws:SourceAccount": ["1", "123456789012"]}})
    assert holds({"StringLike": {"aws:SourceArn": "arn:aws:s3:::up*"}})
    assert not holds({"StringLike": {"aws:SourceArn": "arn:aws:s3:::UP*"}})  # case-sensitive
    assert holds({"StringEqualsIgnoreCase": {"aws:SourceArn": "ARN:AWS:S3:::UPLOADS"}})
    assert holds({"StringNotLike": {"aws:SourceArn": "arn:aws:s3:::other*"}})


def test_arn_operators_match_each_part() -> None:
    assert holds({"ArnLike": {"aws:SourceArn": "arn:aws:s3:::*"}})
    assert holds({"ArnEquals": {"aws:SourceArn": BUCKET}})
    assert not holds({"ArnLike": {"aws:SourceArn": "arn:aws:s3:::other"}})
    assert holds({"ArnNotLike": {"aws:SourceArn": "arn:aws:s3:::other"}})
    rule = {"aws:sourcearn": "arn:aws:events:us-east-1:123456789012:rule/orders"}
    assert holds({"ArnLike": {"aws:SourceArn": "arn:aws:events:*:123456789012:rule/*"}}, rule)
    assert not holds({"ArnLike": {"aws:SourceArn": "arn:aws:events:*:1:rule/*"}}, rule)


def test_every_operator_and_key_must_hold() -> None:
    both = {
        "ArnLike": {"aws:SourceArn": BUCKET},
        "StringEquals": {"aws:SourceAccount": "123456789012"},
    }
    assert holds(both)
    assert not holds({**both, "StringEquals": {"aws:SourceAccount": "999999999999"}})


def test_a_missing_key_fails_except_negated_ifexists_and_null() -> None:
    assert not holds({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"}})
    assert holds({"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/x"}})
    assert holds({"ArnLikeIfExists": {"aws:PrincipalArn": "arn:aws:iam::*:role/x"}})
    assert not holds({"ArnLikeIfExists": {"aws:SourceArn": "arn:aws:s3:::other"}})  # present
    assert holds({"Null": {"aws:PrincipalArn": "true"}})
    assert not holds({"Null": {"aws:SourceArn": "true"}})


def test_bool_secure_transport_is_true() -> None:
    request = role_context("arn:aws:iam::123456789012:role/r", "123456789012", "us-east-1")
    assert holds({"Bool": {"aws:SecureTransport": "true"}}, request)
    assert holds({"Bool": {"aws:SecureTransport": True}}, request)  # (YAML's true)
    assert not holds({"Bool": {"aws:SecureTransport": "false"}}, request)
    assert holds({"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/r"}}, request)


def test_resource_account_is_the_apps_account() -> None:
    """AWS managed policies (CloudWatchLambdaApplicationSignalsExecutionRolePolicy) condition on
    aws:ResourceAccount: every resource of the local endpoint is in the app's account."""
    request = role_context("arn:aws:iam::123456789012:role/r", "123456789012", "us-east-1")
    assert holds({"StringEquals": {"aws:ResourceAccount": "123456789012"}}, request)
    assert not holds({"StringEquals": {"aws:ResourceAccount": "999999999999"}}, request)


def test_an_unknown_key_never_lets_an_allow_apply() -> None:
    for block in (
        {"StringEquals": {"aws:PrincipalOrgID": "o-1"}},
        {"StringNotEquals": {"aws:PrincipalOrgID": "o-1"}},  # true as absent, still unproven
        {"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1"}},
        {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}},  # an operator not modelled
    ):
        outcome = evaluate_condition(block, REQUEST)
        assert not outcome.applies("Allow"), block
        assert outcome.unjudged
    # a Deny under an unknown key is judged as AWS judges a request without it
    assert not evaluate_condition({"StringEquals": {"aws:SourceVpce": "v"}}, {}).applies("Deny")
    assert evaluate_condition({"StringNotEquals": {"aws:SourceVpce": "v"}}, {}).applies("Deny")
    statements = [{"Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-1"}}}, {}]
    assert condition_keys(statements) == {"aws:PrincipalOrgID"}


def test_a_value_samrun_does_not_model_passes_its_tests() -> None:
    request = {"aws:sourcearn": NOT_MODELLED}
    assert holds({"ArnLike": {"aws:SourceArn": "arn:aws:execute-api:*"}}, request)


def test_identity_policies_evaluate_conditions() -> None:
    allow = {
        "Statement": {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": "*",
            "Condition": {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/reader"}},
        }
    }
    deny = {
        "Statement": {
            "Effect": "Deny",
            "Action": "s3:*",
            "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    }
    reader = role_context("arn:aws:iam::1:role/reader", "1", "us-east-1")
    writer = role_context("arn:aws:iam::1:role/writer", "1", "us-east-1")
    assert evaluate([allow, deny], "s3:GetObject", "arn:aws:s3:::b/k", reader).allowed
    assert not evaluate([allow, deny], "s3:GetObject", "arn:aws:s3:::b/k", writer).allowed


def test_resource_policy_conditions_decide_a_service_invocation() -> None:
    graph = AppGraph(
        template_path="template.yaml",
        permissions=(
            LambdaPermission(
                logical_id="FromUploads",
                function="Worker",
                action="lambda:InvokeFunction",
                principal="s3.amazonaws.com",
                source_arn=BUCKET,
                source_account="123456789012",
            ),
        ),
    )
    policies = ResourcePolicies(graph)
    assert policies.allows("Worker", "s3.amazonaws.com", source_arn=BUCKET)
    assert not policies.allows("Worker", "s3.amazonaws.com", source_arn="arn:aws:s3:::other")
    assert policies.unmet("Worker", "s3.amazonaws.com", source_arn="arn:aws:s3:::other") == [
        "FromUploads"
    ]
    assert not policies.allows("Worker", "sns.amazonaws.com", source_arn=BUCKET)
    elsewhere = replace(graph, account_id="999999999999")
    other = ResourcePolicies(elsewhere)
    assert not other.allows("Worker", "s3.amazonaws.com", source_arn=BUCKET)  # SourceAccount
