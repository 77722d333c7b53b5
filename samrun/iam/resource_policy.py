"""Functions' resource-based policies: the template's AWS::Lambda::Permission resources, then
what the Lambda API's AddPermission / RemovePermission change, in the statement shape GetPolicy
returns. With --enforce-iam, a service (S3, SNS, EventBridge, API Gateway, Elastic Load
Balancing) or a function URL caller invokes a function only when a statement allows it, its
conditions (SourceArn, SourceAccount...) included (samrun.iam.conditions).
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from samrun.errors import InvalidParameterValue, ResourceConflict, ResourceNotFound
from samrun.iam.conditions import NOT_MODELLED, evaluate_condition
from samrun.model import AppGraph, LambdaPermission

SERVICE_PRINCIPALS = {
    "s3": "s3.amazonaws.com",
    "sns": "sns.amazonaws.com",
    "eventbridge": "events.amazonaws.com",
    "apigateway": "apigateway.amazonaws.com",
    "alb": "elasticloadbalancing.amazonaws.com",
}
_SID = re.compile(r"^([a-zA-Z0-9-_.]+)$")
_ACTION = re.compile(r"^(lambda:[*]|lambda:[a-zA-Z]+|[*])$")


def _principal(text: str, account_id: str) -> Any:
    if text == "*":
        return "*"
    if text.endswith(".amazonaws.com") or text.endswith(".amazonaws.com.cn"):
        return {"Service": text}
    if text.isdigit():
        return {"AWS": f"arn:aws:iam::{text}:root"}
    return {"AWS": text}


def statement(
    *,
    sid: str,
    function_arn: str,
    action: str,
    principal: str,
    account_id: str,
    source_arn: str | None = None,
    source_account: str | None = None,
    url_auth_type: str | None = None,
    principal_org_id: str | None = None,
) -> dict[str, Any]:
    """A statement as Lambda's GetPolicy shows it."""
    found: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": _principal(principal, account_id),
        "Action": action,
        "Resource": function_arn,
    }
    condition: dict[str, dict[str, str]] = {}
    if source_arn:
        condition.setdefault("ArnLike", {})["AWS:SourceArn"] = source_arn
    if source_account:
        condition.setdefault("StringEquals", {})["AWS:SourceAccount"] = source_account
    if url_auth_type:
        condition.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = url_auth_type
    if principal_org_id:
        condition.setdefault("StringEquals", {})["aws:PrincipalOrgID"] = principal_org_id
    if condition:
        found["Condition"] = condition
    return found


def policy_key(function: str, qualifier: str | None = None) -> str:
    """Whose policy: Lambda keeps one per function (its unqualified ARN and $LATEST) and one per
    version or alias; `function` may carry the qualifier (`Fn:live`) itself."""
    name, _, named = function.partition(":")
    qualifier = qualifier or named or None
    return f"{name}:{qualifier}" if qualifier and qualifier != "$LATEST" else name


class ResourcePolicies:
    """Every policy's statements, by `policy_key`: a function's, and each version's or alias's
    (an invocation of an alias ARN is judged by the alias's policy alone)."""

    def __init__(self, graph: AppGraph) -> None:
        self._lock = threading.Lock()
        self.graph = graph
        self._statements: dict[str, dict[str, dict[str, Any]]] = {}
        self._revisions: dict[str, str] = {}
        self.on_added: Callable[[str, Mapping[str, Any]], None] | None = None  # AddPermission's
        self.load(graph.permissions)

    def _arn(self, function: str, qualifier: str | None = None) -> str:
        found = self.graph.function(function)
        arn = found.arn if found else function
        return f"{arn}:{qualifier}" if qualifier else arn

    def load(self, permissions: Iterable[LambdaPermission]) -> None:
        """The template's permissions (on reload, they replace the template's earlier ones)."""
        with self._lock:
            for name, statements in self._statements.items():
                for sid in [s for s, v in statements.items() if v.get("_template")]:
                    del statements[sid]
                self._revisions[name] = str(uuid.uuid4())
            for permission in permissions:
                name, _, qualifier = _split(permission.function)
                found = self.graph.function(name)
                function = found.name if found else name
                key = policy_key(function, qualifier or None)
                self._statements.setdefault(key, {})[permission.logical_id] = {
                    **statement(
                        sid=permission.logical_id,
                        function_arn=self._arn(function, qualifier or None),
                        action=permission.action,
                        principal=permission.principal,
                        account_id=self.graph.account_id,
                        source_arn=permission.source_arn,
                        source_account=permission.source_account,
                        url_auth_type=permission.function_url_auth_type,
                        principal_org_id=permission.principal_org_id,
                    ),
                    "_template": True,
                }
                self._revisions[key] = str(uuid.uuid4())

    def add(self, function: str, body: Mapping[str, Any], qualifier: str | None) -> dict[str, Any]:
        """AddPermission: the new statement; Lambda's errors for a bad or duplicate one."""
        sid, action, principal = (body.get(k) for k in ("StatementId", "Action", "Principal"))
        for name, value in (("statementId", sid), ("action", action), ("principal", principal)):
            if not isinstance(value, str) or not value:
                raise InvalidParameterValue(f"1 validation error detected: Value null at '{name}'")
        assert isinstance(sid, str) and isinstance(action, str) and isinstance(principal, str)
        if not _SID.match(sid) or len(sid) > 100:
            raise InvalidParameterValue(
                f"1 validation error detected: Value '{sid}' at 'statementId' failed to satisfy "
                "constraint: Member must satisfy regular expression pattern: ([a-zA-Z0-9-_.]+)"
            )
        if not _ACTION.match(action):
            raise InvalidParameterValue(
                f"1 validation error detected: Value '{action}' at 'action' failed to satisfy "
                "constraint: Member must satisfy regular expression pattern: "
                "(lambda:[*]|lambda:[a-zA-Z]+|[*])"
            )
        key = policy_key(function, qualifier)
        with self._lock:
            statements = self._statements.setdefault(key, {})
            revision = body.get("RevisionId")
            if revision and revision != self._revisions.get(key):
                raise PreconditionFailed(
                    "The Revision Id provided does not match the latest Revision Id. Call the "
                    "GetPolicy API to retrieve the latest Revision Id"
                )
            if sid in statements:
                raise ResourceConflict(
                    f"The statement id ({sid}) provided already exists. Please provide a new "
                    "statement id, or remove the existing statement."
                )
            found = statement(
                sid=sid,
                function_arn=self._arn(function, qualifier),
                action=action,
                principal=principal,
                account_id=self.graph.account_id,
                source_arn=_text(body.get("SourceArn")),
                source_account=_text(body.get("SourceAccount")),
                url_auth_type=_text(body.get("FunctionUrlAuthType")),
                principal_org_id=_text(body.get("PrincipalOrgID")),
            )
            statements[sid] = found
            self._revisions[key] = str(uuid.uuid4())
        if self.on_added is not None:
            self.on_added(key, found)
        return found

    def remove(self, function: str, sid: str, qualifier: str | None = None) -> None:
        key = policy_key(function, qualifier)
        with self._lock:
            statements = self._statements.get(key) or {}
            if sid not in statements:
                raise ResourceNotFound(f"Statement {sid} is not found in resource policy.")
            del statements[sid]
            self._revisions[key] = str(uuid.uuid4())

    def policy(self, function: str, qualifier: str | None = None) -> dict[str, str]:
        """GetPolicy's answer; ResourceNotFoundException when that policy has no statement."""
        key = policy_key(function, qualifier)
        with self._lock:
            statements = list((self._statements.get(key) or {}).values())
            revision = self._revisions.get(key, "")
        if not statements:
            raise ResourceNotFound("The resource you requested does not exist.")
        shown = [{k: v for k, v in s.items() if not k.startswith("_")} for s in statements]
        document = {"Version": "2012-10-17", "Id": "default", "Statement": shown}
        return {"Policy": json.dumps(document), "RevisionId": revision}

    def allows(
        self,
        function: str,
        principal: str,
        *,
        action: str = "lambda:InvokeFunction",
        source_arn: str | None = None,
        url_auth_type: str | None = None,
    ) -> bool:
        """Whether a statement lets `principal` (a service, or an account's or role's ARN) do
        `action` on `function` (`Fn:live`: the alias invoked, by its own policy), its conditions
        holding. A service's `source_arn` (the bucket, topic, rule, execute-api route or target
        group ARN) None: unknown to the caller, which any SourceArn condition accepts."""
        with self._lock:
            statements = list((self._statements.get(policy_key(function)) or {}).values())
        context = self.context(principal, source_arn=source_arn, url_auth_type=url_auth_type)
        for found in statements:
            if not _action_matches(str(found.get("Action")), action):
                continue
            if not _principal_matches(found.get("Principal"), principal):
                continue
            outcome = evaluate_condition(found.get("Condition"), context)
            if outcome.applies(str(found.get("Effect", "Allow"))):
                return True
        return False

    def unmet(self, function: str, principal: str, *, source_arn: str | None) -> list[str]:
        """The statements letting `principal` invoke `function` whose conditions do not hold."""
        with self._lock:
            statements = list((self._statements.get(policy_key(function)) or {}).values())
        context = self.context(principal, source_arn=source_arn, url_auth_type=None)
        return [
            str(found.get("Sid"))
            for found in statements
            if _action_matches(str(found.get("Action")), "lambda:InvokeFunction")
            and _principal_matches(found.get("Principal"), principal)
            and not evaluate_condition(found.get("Condition"), context).applies("Allow")
        ]

    def context(
        self, principal: str, *, source_arn: str | None, url_auth_type: str | None
    ) -> dict[str, str | list[str] | None]:
        """The request context of an invocation by `principal`, as Lambda evaluates it."""
        found: dict[str, str | list[str] | None] = {"aws:securetransport": "true"}
        if principal.endswith(".amazonaws.com"):  # a service, on behalf of a resource
            found["aws:principalservicename"] = principal
            found["aws:sourcearn"] = source_arn if source_arn else NOT_MODELLED
            found["aws:sourceaccount"] = self.graph.account_id
        elif principal.startswith("arn:"):  # a role or user of an account
            found["aws:principalarn"] = principal
            found["aws:principalaccount"] = principal.split(":")[4]
        if url_auth_type:
            found["lambda:functionurlauthtype"] = url_auth_type
        return found

    def all_statements(self) -> list[tuple[str, Mapping[str, Any]]]:
        """Every function's statements: (function, statement)."""
        with self._lock:
            return [(f, s) for f, found in self._statements.items() for s in found.values()]

    def state(self) -> dict[str, list[str]]:
        """/_samrun/state: each function's statement ids."""
        with self._lock:
            return {name: list(s) for name, s in self._statements.items() if s}


class PreconditionFailed(InvalidParameterValue):
    code, status = "PreconditionFailedException", 412


def _split(function: str) -> tuple[str, str, str]:
    """A name, partial or full ARN -> (name, ':', qualifier)."""
    if function.startswith("arn:"):
        parts = function.split(":")
        name = parts[6] if len(parts) > 6 else function
        qualifier = parts[7] if len(parts) > 7 else ""
        return name, ":" if qualifier else "", qualifier
    return function.partition(":")


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int) and str(value) else None


def _action_matches(pattern: str, action: str) -> bool:
    return pattern in ("*", "lambda:*") or pattern.lower() == action.lower()


def _principal_matches(given: Any, principal: str) -> bool:
    if given == "*":
        return True
    if isinstance(given, Mapping):
        values = [v for v in given.values()]
        flat = [x for v in values for x in (v if isinstance(v, list) else [v])]
        if principal in flat or "*" in flat:
            return True
        account = principal.split(":")[4] if principal.startswith("arn:") else ""
        return bool(account) and f"arn:aws:iam::{account}:root" in flat
    return False
