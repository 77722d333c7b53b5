"""--enforce-iam in a running App: what `App` calls (kept here so the composition root stays
small). Resource policies exist in every run (the Lambda API's AddPermission, GetPolicy...);
roles, sessions and the checks only with the flag.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any

from samrun.iam.conditions import condition_keys, role_context
from samrun.iam.policy import evaluate, role_documents, statements
from samrun.iam.resource_policy import SERVICE_PRINCIPALS, ResourcePolicies
from samrun.iam.roles import (
    Enforcement,
    mapping_problem,
    push_problem,
    role_lines,
    role_of,
    schedule_problem,
)
from samrun.iam.sigv4 import FORBIDDEN, Caller, verify
from samrun.model import AppGraph, Route

logger = logging.getLogger(__name__)

ROOT_KEYS = {"testing": "testing"}  # samrun's own fake keys, the account's "root"


class IamWiring:
    def __init__(self, enforced: bool, graph: AppGraph) -> None:
        self.enforced = enforced
        self.graph = graph
        self.policies = ResourcePolicies(graph)
        self.enforcement: Enforcement | None = None
        self._noted: set[str] = set()  # condition keys said to be beyond samrun, once each

    async def start(self, app: Any) -> None:
        """Roles and sessions on the endpoint; the pollers' and triggers' checks. `app`: the
        App, after its AWS resources are provisioned and before any instance starts."""
        self.graph = app.graph
        if not self.enforced:
            return
        if app.aws.profile:
            logger.warning("--enforce-iam with --aws-profile: real AWS enforces IAM itself")
            return
        enforcement = Enforcement(app.graph)
        try:
            credentials = await asyncio.to_thread(enforcement.setup, app.aws)
        except Exception as exc:  # botocore's errors: the endpoint has no IAM / STS
            logger.error("--enforce-iam: could not set up the roles on the endpoint: %s", exc)
            return
        self.enforcement = enforcement
        self._note_conditions()
        self.policies.on_added = lambda function, found: self._note(
            condition_keys([found]), f"the resource policy of {function}"
        )
        app.aws.on_line = enforcement.report
        app._host = replace(app._host, role_credentials=credentials)
        app.pollers.refuse = lambda esm: mapping_problem(app.directory.graph, esm)
        app.triggers.refuse = lambda push: push_problem(app.directory.graph, self.policies, push)
        app.triggers.refuse_schedule = lambda schedule: schedule_problem(
            app.directory.graph, self.policies, schedule
        )
        logger.info(
            "IAM enforced: %d of %d functions call AWS with their execution role's session",
            len(credentials),
            len(app.graph.functions),
        )

    def _note_conditions(self) -> None:
        """Once each: the condition keys (and operators) samrun cannot judge, and where."""
        for role in self.graph.roles:
            found = [s for _, d in role_documents(role) for s in statements(d)]
            self._note(condition_keys(found), f"role {role.name}")
        for function, each in self.policies.all_statements():
            self._note(condition_keys([each]), f"the resource policy of {function}")

    def _note(self, keys: set[str], where: str) -> None:
        for key in sorted(keys - self._noted):
            self._noted.add(key)
            logger.warning(
                "IAM: condition %s (in %s) is not one samrun evaluates: a statement that "
                "Allows only under it does not apply here (as on AWS for a request without "
                "the key); a Deny under it is judged as if the key were absent",
                key,
                where,
            )

    def permitted(self, service: str, function: str, source_arn: str | None) -> str | None:
        """API Gateway's or Elastic Load Balancing's missing permission to invoke `function`
        from `source_arn` (the route's execute-api ARN, the target group's ARN), or None
        (always None until the roles are set up: --enforce-iam only)."""
        if self.enforcement is None:
            return None
        principal = SERVICE_PRINCIPALS[service]
        if self.policies.allows(function, principal, source_arn=source_arn):
            return None
        found = (
            f"{principal} may not invoke {function}: no AWS::Lambda::Permission (or AddPermission) "
            f"lets {principal} call lambda:InvokeFunction on it"
            + (f" from {source_arn}" if source_arn else "")
        )
        unmet = self.policies.unmet(function, principal, source_arn=source_arn)
        if unmet:  # a permission names the service, its SourceArn (or other Condition) not this
            found += f" ({', '.join(unmet)} names {principal}, but its Condition does not hold)"
        return found

    def update_graph(self, graph: AppGraph) -> None:
        self.graph = graph
        self.policies.graph = graph
        self.policies.load(graph.permissions)

    def _secrets(self, key: str) -> tuple[str, str | None, str | None] | None:
        if key in ROOT_KEYS:
            return ROOT_KEYS[key], None, None
        from samrun.runtime.environment import LOCAL_CREDENTIALS

        if key == LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"]:
            return LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"], None, None
        sessions = self.enforcement.credentials if self.enforcement else {}
        for function, found in sessions.items():
            if found["AWS_ACCESS_KEY_ID"] == key:
                return found["AWS_SECRET_ACCESS_KEY"], found["AWS_SESSION_TOKEN"], function
        return None

    def url_guard(self, route: Route, request: Any) -> tuple[int, str] | None:
        """An AWS_IAM function URL's check: SigV4, then lambda:InvokeFunctionUrl."""
        if route.auth != "AWS_IAM":
            return None
        url = f"http://{request.header('host') or request.host}{request.raw_path}"
        url += f"?{request.query}" if request.query else ""
        headers = {k: v for k, v in request.headers}
        found = verify(request.method, url, headers, request.body, self._secrets)
        if not isinstance(found, Caller):
            logger.error(
                "function URL of %s (AWS_IAM) refused %s %s: %s",
                route.function,
                request.method,
                request.raw_path,
                "unsigned" if found == FORBIDDEN else found[1],
            )
            return found
        if found.function is None:  # the account's own keys
            return None
        caller = self.graph.function(found.function)
        target = self.graph.function(route.function)
        role = role_of(self.graph, caller) if caller else None
        arn = target.arn if target else route.function
        if role is not None:
            documents = [d for _, d in role_documents(role)]
            context = role_context(role.arn, self.graph.account_id, self.graph.region)
            context["lambda:functionurlauthtype"] = "AWS_IAM"
            if evaluate(documents, "lambda:InvokeFunctionUrl", arn, context).allowed:
                return None
            invoked = route.function + (f":{route.qualifier}" if route.qualifier else "")
            if self.policies.allows(
                invoked, role.arn, action="lambda:InvokeFunctionUrl", url_auth_type="AWS_IAM"
            ):
                return None
        logger.error(
            "IAM: %s was denied lambda:InvokeFunctionUrl on %s; it needs a statement allowing "
            "it in its role or the function's resource policy",
            found.function,
            arn,
        )
        return FORBIDDEN

    def state(self) -> dict[str, Any]:
        """/_samrun/state["iam"]."""
        functions = {}
        for function in self.graph.functions:
            arn, lines = role_lines(self.graph, function)
            functions[function.name] = {
                "role": arn,
                "statements": lines,
                "checked": bool(self.enforcement and function.name in self.enforcement.credentials),
            }
        return {
            "enforced": self.enforcement is not None,
            "functions": functions,
            "resource_policies": self.policies.state(),
        }
