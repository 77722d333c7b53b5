"""--enforce-iam at run time: each function's execution role on the AWS endpoint, a role
session per function (its credentials), the checks event source mappings and push sources
make with the role or the function's resource policy, and the one-line report of a denial.

The roles are created on the embedded moto server with each policy as an inline policy (AWS
managed ones resolved to their documents), so `samrun.iam.moto_auth` in moto's process reads
them as they are. Sessions are named `samrun-<function>`: only those are checked there.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from samrun.iam.conditions import role_context
from samrun.iam.moto_auth import DENIED_PREFIX, SESSION_PREFIX
from samrun.iam.policy import evaluate, needed, role_documents, summarise, unresolved_managed
from samrun.iam.resource_policy import SERVICE_PRINCIPALS, ResourcePolicies
from samrun.model import (
    AppGraph,
    EventSourceMapping,
    ExecutionRole,
    Function,
    PushSource,
    Schedule,
)

logger = logging.getLogger(__name__)

SESSION_S = 43200  # the longest session STS gives
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
POLL_ACTIONS: Mapping[str, tuple[tuple[str, str], ...]] = {
    "sqs": (
        ("sqs:ReceiveMessage", "ReceiveMessage"),
        ("sqs:DeleteMessage", "DeleteMessage"),
        ("sqs:GetQueueAttributes", "GetQueueAttributes"),
    ),
    "kinesis": (
        ("kinesis:GetRecords", "GetRecords"),
        ("kinesis:GetShardIterator", "GetShardIterator"),
        ("kinesis:DescribeStream", "DescribeStream"),
        ("kinesis:ListShards", "ListShards"),
    ),
    "dynamodb": (
        ("dynamodb:GetRecords", "GetRecords"),
        ("dynamodb:GetShardIterator", "GetShardIterator"),
        ("dynamodb:DescribeStream", "DescribeStream"),
        ("dynamodb:ListStreams", "ListStreams"),
    ),
}
SERVICE_NAMES = {"sqs": "SQS", "kinesis": "Kinesis", "dynamodb": "DynamoDB"}


def role_of(graph: AppGraph, function: Function) -> ExecutionRole | None:
    """The template's role `function` runs with (by ARN, or by name for an ARN with a path)."""
    if not function.role:
        return None
    for role in graph.roles:
        if function.role in (role.arn, role.name) or function.role.endswith(f"/{role.name}"):
            return role
    return None


def role_lines(graph: AppGraph, function: Function) -> tuple[str | None, list[str]]:
    """`plan`: the role's ARN (or what the template says) and its statements, summarised."""
    role = role_of(graph, function)
    if role is None:
        return function.role, (
            ["(not in this template: its policies are unknown, calls are not checked)"]
            if function.role
            else []
        )
    return role.arn, summarise(role)


def mapping_problem(graph: AppGraph, esm: EventSourceMapping) -> str | None:
    """Lambda's reason a mapping cannot poll with its function's role, or None."""
    actions = POLL_ACTIONS.get(esm.source_type)
    function = graph.function(esm.function)
    if not actions or function is None:
        return None
    role = role_of(graph, function)
    if role is None:
        return None
    documents = [d for _, d in role_documents(role)]
    context = role_context(role.arn, graph.account_id, graph.region)
    source = esm.source
    for action, operation in actions:
        if not evaluate(documents, action, source, context).allowed:
            service = SERVICE_NAMES[esm.source_type]
            return (
                f"PROBLEM: The provided execution role does not have permissions to call "
                f"{operation} on {service} (it needs {needed(action, source)})"
            )
    return None


DESTINATION_ACTIONS = {
    "sqs": ("sqs:SendMessage", "SendMessage", "SQS"),
    "sns": ("sns:Publish", "Publish", "SNS"),
    "lambda": ("lambda:InvokeFunction", "InvokeFunction", "Lambda"),
    "eventbridge": ("events:PutEvents", "PutEvents", "EventBridge"),
    "events": ("events:PutEvents", "PutEvents", "EventBridge"),
}


def destination_problems(graph: AppGraph, function: Function) -> list[str]:
    """Lambda's complaint for a DLQ or on-failure / on-success destination the role cannot
    write to."""
    role = role_of(graph, function)
    if role is None:
        return []
    documents = [d for _, d in role_documents(role)]
    context = role_context(role.arn, graph.account_id, graph.region)
    invoke = function.invoke_config
    found = [("DeadLetterConfig", function.dead_letter)]
    found += [("OnFailure", invoke.on_failure), ("OnSuccess", invoke.on_success)] if invoke else []
    problems = []
    for what, destination in found:
        kind = destination.type.lower() if destination else ""
        if destination is None or kind not in DESTINATION_ACTIONS:
            continue
        action, operation, service = DESTINATION_ACTIONS[kind]
        if not evaluate(documents, action, destination.arn, context).allowed:
            problems.append(
                f"{function.name}: {what}: The provided execution role does not have "
                f"permissions to call {operation} on {service} ({destination.arn}); it needs "
                f"{needed(action, destination.arn)}"
            )
    return problems


def push_problem(graph: AppGraph, policies: ResourcePolicies, push: PushSource) -> str | None:
    """The source service's refusal when the function's resource policy does not let it
    invoke the function, or None."""
    principal = SERVICE_PRINCIPALS.get(push.type)
    function = graph.function(push.function)
    if principal is None or function is None:
        return None
    source_arn = {
        "s3": f"arn:aws:s3:::{push.source}",
        "sns": push.source,
        "eventbridge": _rule_arn(graph, push),
    }.get(push.type)
    missing = _missing(graph, policies, principal, function, source_arn, push.qualifier)
    if missing is None or push.type != "s3":
        return missing and f"{principal} is not allowed to invoke {function.name}; {missing}"
    return (
        "S3 PutBucketNotificationConfiguration: InvalidArgument: Unable to validate the "
        f"following destination configurations (Not authorized to invoke function "
        f"[{function.arn}]); {missing}"
    )


def schedule_problem(graph: AppGraph, policies: ResourcePolicies, schedule: Schedule) -> str | None:
    """An EventBridge rule's schedule whose function's resource policy does not let
    events.amazonaws.com invoke it from the rule: each firing fails, or None."""
    function = graph.function(schedule.function)
    if function is None or schedule.kind != "events":
        return None
    name = schedule.name or schedule.logical_id or ""
    rule = f"arn:aws:events:{graph.region}:{graph.account_id}:rule/{name}"
    principal = SERVICE_PRINCIPALS["eventbridge"]
    missing = _missing(graph, policies, principal, function, rule, schedule.qualifier)
    return missing and f"{principal} is not allowed to invoke {function.name}; {missing}"


def _missing(
    graph: AppGraph,
    policies: ResourcePolicies,
    principal: str,
    function: Function,
    source_arn: str | None,
    qualifier: str | None = None,
) -> str | None:
    """The permission `principal` (a service) lacks to invoke `function` (its version or alias
    `qualifier`, judged by that one's policy) from `source_arn`, or None."""
    invoked = function.name + (f":{qualifier}" if qualifier else "")
    if policies.allows(invoked, principal, source_arn=source_arn):
        return None
    missing = (
        f"missing: an AWS::Lambda::Permission (or AddPermission) letting {principal} call "
        f"lambda:InvokeFunction on {invoked}" + (f" from {source_arn}" if source_arn else "")
    )
    unmet = policies.unmet(invoked, principal, source_arn=source_arn)
    if unmet:  # a permission is there, its Condition (SourceArn, SourceAccount...) does not hold
        missing += (
            f" ({', '.join(unmet)} names {principal}, but its Condition does not hold for "
            f"{source_arn or 'this source'} in account {graph.account_id})"
        )
    return missing


def _rule_arn(graph: AppGraph, push: PushSource) -> str:
    """An EventBridge rule's ARN (`rule/NAME` on the default bus, `rule/BUS/NAME` else)."""
    bus = "" if push.source in ("", "default") else f"{push.source}/"
    name = str(push.details.get("rule") or push.logical_id or "")
    return f"arn:aws:events:{graph.region}:{graph.account_id}:rule/{bus}{name}"


class Enforcement:
    """The roles and sessions of one `up` with --enforce-iam."""

    def __init__(self, graph: AppGraph) -> None:
        self.graph = graph
        self.credentials: dict[str, dict[str, str]] = {}  # function name -> its role's
        self._keys: dict[str, str] = {}  # access key id -> function name

    def setup(self, aws: Any) -> dict[str, dict[str, str]]:
        """Blocking: create the roles on the endpoint, open one session per function."""
        iam, sts = aws.client("iam"), aws.client("sts")
        arns: dict[str, str] = {}
        for each in self.graph.roles:
            for arn in unresolved_managed(each):
                logger.warning(
                    "role %s: managed policy %s is not one samrun knows; not applied",
                    each.name,
                    arn,
                )
            try:
                arns[each.logical_id] = self._create(iam, each)
            except Exception as exc:  # botocore's errors: a policy the endpoint rejects
                logger.error("role %s: not created on the endpoint: %s", each.name, exc)
        for function in self.graph.functions:
            role = role_of(self.graph, function)
            if role is not None and role.logical_id not in arns:
                logger.warning(
                    "%s: its role %s failed; calls not checked", function.name, role.name
                )
                continue
            if role is None:
                if function.role:
                    logger.warning(
                        "%s: its role %s is not in the template; its AWS calls are not checked",
                        function.name,
                        function.role,
                    )
                continue
            for problem in destination_problems(self.graph, function):
                logger.error("IAM: %s", problem)
            session = (SESSION_PREFIX + function.name)[:64]
            found = sts.assume_role(
                RoleArn=arns[role.logical_id], RoleSessionName=session, DurationSeconds=SESSION_S
            )["Credentials"]
            self.credentials[function.name] = {
                "AWS_ACCESS_KEY_ID": found["AccessKeyId"],
                "AWS_SECRET_ACCESS_KEY": found["SecretAccessKey"],
                "AWS_SESSION_TOKEN": found["SessionToken"],
            }
            self._keys[found["AccessKeyId"]] = function.name
        return self.credentials

    @staticmethod
    def _create(iam: Any, role: ExecutionRole) -> str:
        try:
            arn = str(iam.get_role(RoleName=role.name)["Role"]["Arn"])
        except iam.exceptions.NoSuchEntityException:
            trust = json.dumps(role.assume_policy or TRUST)
            arn = str(
                iam.create_role(RoleName=role.name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
            )
        for name in iam.list_role_policies(RoleName=role.name).get("PolicyNames", []):
            iam.delete_role_policy(RoleName=role.name, PolicyName=name)
        for i, (name, document) in enumerate(role_documents(role)):
            policy_name = f"{i:02d}-{name.rsplit('/', 1)[-1]}"[:128]
            iam.put_role_policy(
                RoleName=role.name,
                PolicyName=policy_name,
                PolicyDocument=json.dumps({"Version": "2012-10-17", **document}),
            )
        return arn

    def report(self, line: str) -> None:
        """A line of the moto child: a denial becomes samrun's one-line report."""
        if not line.startswith(DENIED_PREFIX):
            return
        try:
            denial = json.loads(line[len(DENIED_PREFIX) :])
        except ValueError:
            return
        function = self._keys.get(str(denial.get("key")), "?")
        action, resource = str(denial.get("action")), str(denial.get("resource"))
        how = "an explicit Deny in" if denial.get("explicit") else "no statement of"
        logger.error(
            "IAM: %s was denied %s on %s (%s its role %s); it needs %s",
            function,
            action,
            resource,
            how,
            denial.get("role"),
            needed(action, resource),
        )
