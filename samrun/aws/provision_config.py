"""Create what functions read at startup in the AWS endpoint: SSM parameters, Secrets Manager
secrets, KMS keys, CloudWatch log groups, IAM roles (their policies: samrun.iam), and the app's
state machines.

Each creator keeps what exists already, and returns {template value: real value} where the
endpoint picks a part of an identifier (a secret's ARN suffix, a key's id), so `localise` puts
the real one into functions' environments.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from samrun.aws.endpoint import AwsEndpoint, exists
from samrun.model import AppGraph, Resource, is_unresolved

Substitutions = dict[str, str]
_KEY_TAG = "samrun:logical-id"


def _parameter(endpoint: AwsEndpoint, resource: Resource, graph: AppGraph) -> Substitutions:
    ssm = endpoint.client("ssm")
    props = resource.properties
    value = props.get("Value")
    if value is None or is_unresolved(value):
        return {}
    if exists(lambda: ssm.get_parameter(Name=resource.name), ssm.exceptions.ParameterNotFound):
        return {}
    kind = str(props.get("Type", "String"))
    text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    kwargs: dict[str, Any] = {"Name": resource.name, "Value": text, "Type": kind}
    if props.get("Description"):
        kwargs["Description"] = str(props["Description"])
    ssm.put_parameter(**kwargs)
    return {}


def _secret(endpoint: AwsEndpoint, resource: Resource, graph: AppGraph) -> Substitutions:
    client = endpoint.client("secretsmanager")
    try:
        arn = client.describe_secret(SecretId=resource.name)["ARN"]
    except client.exceptions.ResourceNotFoundException:
        kwargs: dict[str, Any] = {"Name": resource.name}
        value = _secret_string(client, resource.properties)
        if value is not None:
            kwargs["SecretString"] = value
        arn = client.create_secret(**kwargs)["ARN"]
    return {resource.arn: arn}


def _secret_string(client: Any, props: dict[str, Any] | Any) -> str | None:
    """SecretString, or one made as GenerateSecretString says (CloudFormation's rules)."""
    if isinstance(props.get("SecretString"), str):
        return str(props["SecretString"])
    spec = props.get("GenerateSecretString")
    if not isinstance(spec, dict):
        return None
    options = {
        k: spec[k]
        for k in (
            "PasswordLength",
            "ExcludeCharacters",
            "ExcludeNumbers",
            "ExcludePunctuation",
            "ExcludeUppercase",
            "ExcludeLowercase",
            "IncludeSpace",
            "RequireEachIncludedType",
        )
        if k in spec
    }
    for flag in options:
        if flag.startswith(("Exclude", "Include", "Require")) and flag != "ExcludeCharacters":
            options[flag] = str(options[flag]).lower() == "true"
    if "PasswordLength" in options:
        options["PasswordLength"] = int(options["PasswordLength"])
    password = str(client.get_random_password(**options)["RandomPassword"])
    template, key = spec.get("SecretStringTemplate"), spec.get("GenerateStringKey")
    if isinstance(template, str) and isinstance(key, str):
        return json.dumps({**json.loads(template), key: password})
    return password


def _key(endpoint: AwsEndpoint, resource: Resource, graph: AppGraph) -> Substitutions:
    if endpoint.profile:  # real AWS: a key costs money and outlives samrun; never made here
        return {}
    kms = endpoint.client("kms")
    for key in kms.list_keys().get("Keys", []):
        tags = kms.list_resource_tags(KeyId=key["KeyId"]).get("Tags", [])
        if {"TagKey": _KEY_TAG, "TagValue": resource.logical_id} in tags:
            real = key["KeyId"]
            break
    else:
        props = resource.properties
        kwargs: dict[str, Any] = {
            "Tags": [{"TagKey": _KEY_TAG, "TagValue": resource.logical_id}],
            "KeySpec": str(props.get("KeySpec", "SYMMETRIC_DEFAULT")),
            "KeyUsage": str(props.get("KeyUsage", "ENCRYPT_DECRYPT")),
        }
        if props.get("Description"):
            kwargs["Description"] = str(props["Description"])
        real = kms.create_key(**kwargs)["KeyMetadata"]["KeyId"]
    template_id = resource.arn.rsplit("/", 1)[-1]
    return {template_id: real}


def _log_group(endpoint: AwsEndpoint, resource: Resource, graph: AppGraph) -> Substitutions:
    logs = endpoint.client("logs")
    found = logs.describe_log_groups(logGroupNamePrefix=resource.name).get("logGroups", [])
    if not any(group["logGroupName"] == resource.name for group in found):
        logs.create_log_group(logGroupName=resource.name)
        days = resource.properties.get("RetentionInDays")
        if days is not None:
            logs.put_retention_policy(logGroupName=resource.name, retentionInDays=int(days))
    return {}


def _role(endpoint: AwsEndpoint, resource: Resource, graph: AppGraph) -> Substitutions:
    if endpoint.profile:  # real AWS: samrun never changes an account's IAM
        return {}
    iam = endpoint.client("iam")
    if exists(lambda: iam.get_role(RoleName=resource.name), iam.exceptions.NoSuchEntityException):
        return {}
    policy = resource.properties.get("AssumeRolePolicyDocument") or {}
    text = policy if isinstance(policy, str) else json.dumps(policy)
    kwargs: dict[str, Any] = {"RoleName": resource.name, "AssumeRolePolicyDocument": text}
    path = resource.properties.get("Path")
    if isinstance(path, str):
        kwargs["Path"] = path
    iam.create_role(**kwargs)
    return {}


def _state_machine(endpoint: AwsEndpoint, resource: Resource, graph: AppGraph) -> Substitutions:
    """A state machine with the template's definition (updated when it changed); with the
    embedded endpoint, its Lambda tasks call samrun's functions (samrun.aws.moto_child)."""
    sfn = endpoint.client("stepfunctions")
    props = resource.properties
    found = [
        m["stateMachineArn"]
        for page in sfn.get_paginator("list_state_machines").paginate()
        for m in page["stateMachines"]
        if m["name"] == resource.name
    ]
    tracing = {"enabled": bool(props.get("tracing"))}  # X-Ray segments of its executions
    if found:
        sfn.update_state_machine(
            stateMachineArn=found[0],
            definition=props["definition"],
            roleArn=props["role_arn"],
            tracingConfiguration=tracing,
        )
        return {resource.arn: found[0]}
    created = sfn.create_state_machine(
        name=resource.name,
        definition=props["definition"],
        roleArn=props["role_arn"],
        type=props.get("type", "STANDARD"),
        tracingConfiguration=tracing,
    )
    return {resource.arn: created["stateMachineArn"]}


CREATORS: dict[str, Callable[[AwsEndpoint, Resource, AppGraph], Substitutions]] = {
    "ssm": _parameter,
    "secretsmanager": _secret,
    "kms": _key,
    "logs": _log_group,
    "iam": _role,
    "states": _state_machine,
}
"""Resource.type -> its creator, merged into `provision`'s table."""
