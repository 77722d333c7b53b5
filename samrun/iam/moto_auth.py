"""IAM authorisation inside the embedded moto server (its child process), for --enforce-iam.

moto's own check (`INITIAL_NO_AUTH_ACTION_COUNT`) is all-or-nothing and knows no resource for
most services. This one replaces it: a request signed with the credentials of a role session
samrun opened for a function (`samrun-<function>`, see `samrun.iam.roles`) is evaluated against
that role's policies, on the action and the resource the call touches (a table, queue, bucket
or key, topic, stream, secret...); any other request (samrun's own, a user's own keys) passes,
as it did. A denied call gets the service's error (AccessDeniedException, AccessDenied,
AuthorizationError) naming the action and the resource, and one JSON line on stdout that samrun
turns into its own one-line report.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from typing import Any

from samrun.iam.conditions import role_context
from samrun.iam.policy import evaluate

SESSION_PREFIX = "samrun-"
DENIED_PREFIX = "iam-denied "
_print_lock = threading.Lock()

_ARNS: dict[str, Callable[[str, str, str], str]] = {
    "dynamodb": lambda r, a, n: (
        n if n.startswith("arn:") else f"arn:aws:dynamodb:{r}:{a}:table/{n}"
    ),
    "kinesis": lambda r, a, n: n if n.startswith("arn:") else f"arn:aws:kinesis:{r}:{a}:stream/{n}",
    "events": lambda r, a, n: (
        n if n.startswith("arn:") else f"arn:aws:events:{r}:{a}:event-bus/{n}"
    ),
    "ssm": lambda r, a, n: f"arn:aws:ssm:{r}:{a}:parameter/{n.lstrip('/')}",
    "kms": lambda r, a, n: n if n.startswith("arn:") else f"arn:aws:kms:{r}:{a}:key/{n}",
    "logs": lambda r, a, n: f"arn:aws:logs:{r}:{a}:log-group:{n}",
}
_NAME_PARAMS = {
    "dynamodb": ("TableName", "StreamArn", "TableArn", "ResourceArn"),
    "kinesis": ("StreamARN", "StreamName", "ConsumerARN"),
    "events": ("EventBusName",),
    "ssm": ("Name",),
    "kms": ("KeyId",),
    "logs": ("logGroupName",),
    "sns": ("TopicArn", "TargetArn", "SubscriptionArn", "ResourceArn"),
    "secretsmanager": ("SecretId",),
    "states": ("stateMachineArn", "executionArn"),
    "stepfunctions": ("stateMachineArn", "executionArn"),
}
_JSON_SERVICES = {"dynamodb", "kinesis", "events", "ssm", "kms", "logs", "secretsmanager", "states"}


def install() -> None:
    from moto.core.authorization import ActionAuthenticatorMixin

    moto_check = ActionAuthenticatorMixin._authenticate_and_authorize_action

    def check(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        session = _session(self)
        if session is None:  # moto's own (a no-op unless INITIAL_NO_AUTH_ACTION_COUNT is set)
            moto_check(self, iam_request_cls, resource)
            return
        _authorise(self, session, resource)

    ActionAuthenticatorMixin._authenticate_and_authorize_action = check  # type: ignore[method-assign]


def _session(response: Any) -> Any:
    """The role session samrun opened whose key signed this request, or None."""
    header = response.headers.get("Authorization") or ""
    key = header.partition("Credential=")[2].partition("/")[0]
    if not key.startswith("ASIA"):
        return None
    from moto.sts.models import sts_backends

    for partition in sts_backends.get(response.current_account, {}).values():
        for role in partition.assumed_roles:
            if role.access_key_id == key and role.session_name.startswith(SESSION_PREFIX):
                return role
    return None


def _scope_service(response: Any) -> str:
    header = response.headers.get("Authorization") or ""
    scope = header.partition("Credential=")[2].partition(",")[0].split("/")
    return scope[3] if len(scope) > 3 else ""


def _authorise(response: Any, session: Any, given: str) -> None:
    service = _scope_service(response)
    action = f"{service}:{response._get_action()}"
    region, account = response.region, response.current_account
    resources = _resources(response, service, region, account, given)
    documents = _documents(session)
    context = role_context(session.role_arn, account, region)
    for resource in resources:
        decision = evaluate(documents, action, resource, context)
        if decision.allowed:
            continue
        role = session.role_arn.rsplit("/", 1)[-1]
        user = f"arn:aws:sts::{account}:assumed-role/{role}/{session.session_name}"
        why = (
            "with an explicit deny in an identity-based policy"
            if decision.denied_by is not None
            else f"because no identity-based policy allows the {action} action"
        )
        message = (
            f"User: {user} is not authorized to perform: {action} on resource: {resource} {why}"
        )
        line = {"key": session.access_key_id, "role": role, "action": action}
        line |= {"resource": resource, "explicit": decision.denied_by is not None}
        with _print_lock:
            print(DENIED_PREFIX + json.dumps(line), file=sys.stdout, flush=True)
        raise _error(service, message)


def _documents(session: Any) -> list[Any]:
    from moto.iam.models import iam_backends

    account = session.account_id
    backend = iam_backends[account][session.partition]
    name = session.role_arn.rsplit("/", 1)[-1]
    documents = []
    for policy in backend.list_role_policies(name):
        _, text = backend.get_role_policy(name, policy)
        documents.append(json.loads(text) if isinstance(text, str) else text)
    return documents


def _param(response: Any, name: str) -> Any:
    try:
        return response._get_param(name)
    except Exception:  # a body the parser does not take: no such parameter
        return None


def _resources(response: Any, service: str, region: str, account: str, given: str) -> list[str]:
    """The ARNs the call touches: moto's own where it has one (S3, SQS), else from the
    request's parameters; `*` when the call names none (List*, Describe* of everything)."""
    if given != "*" or service in ("s3", "sqs"):
        return [given]
    if service == "dynamodb":
        tables = _param(response, "RequestItems")
        if isinstance(tables, dict) and tables:
            return [_ARNS["dynamodb"](region, account, str(t)) for t in tables]
        items = _param(response, "TransactItems")
        if isinstance(items, list) and items:
            names = {
                str(op.get("TableName"))
                for item in items
                if isinstance(item, dict)
                for op in item.values()
                if isinstance(op, dict) and op.get("TableName")
            }
            return [_ARNS["dynamodb"](region, account, t) for t in sorted(names)] or ["*"]
    if service == "events" and response._get_action() == "PutEvents":
        entries = _param(response, "Entries") or []
        buses = {str(e.get("EventBusName") or "default") for e in entries if isinstance(e, dict)}
        return [_ARNS["events"](region, account, b) for b in sorted(buses)] or ["*"]
    for name in _NAME_PARAMS.get(service, ()):
        value = _param(response, name)
        if isinstance(value, str) and value:
            if service == "secretsmanager" and not value.startswith("arn:"):
                return [_secret_arn(region, account, value)]
            make = _ARNS.get(service)
            return [make(region, account, value) if make else value]
    return ["*"]


def _secret_arn(region: str, account: str, name: str) -> str:
    try:
        from moto.secretsmanager.models import secretsmanager_backends

        return str(secretsmanager_backends[account][region].secrets[name].arn)
    except Exception:  # not there: the name, as a policy's wildcard would match it
        return f"arn:aws:secretsmanager:{region}:{account}:secret:{name}"


def _error(service: str, message: str) -> Exception:
    if service == "s3":
        from moto.s3.exceptions import S3ClientError

        error = S3ClientError("AccessDenied", message)
        error.code = "AccessDenied"
        return error
    from moto.core.exceptions import JsonRESTError, _RESTError

    if service in _JSON_SERVICES:
        json_error = JsonRESTError("AccessDeniedException", message)
        json_error.code = 400
        return json_error
    kind = "AuthorizationError" if service == "sns" else "AccessDenied"
    rest_error = _RESTError(kind, message)
    rest_error.code = 403
    return rest_error
