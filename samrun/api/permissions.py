"""The Lambda API's resource-based policy operations: AddPermission, RemovePermission,
GetPolicy (botocore's lambda service-2.json shapes). Always available; they matter to
invocations only with --enforce-iam (samrun.iam.resource_policy)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from samrun.api.request import json_body, name_of
from samrun.errors import InvalidParameterValue
from samrun.iam.resource_policy import PreconditionFailed, ResourcePolicies
from samrun.invoke.resolve import FunctionDirectory
from samrun.model import LATEST

POLICY = "/2015-03-31/functions/{name}/policy"
TEXT_MEMBERS = (
    "StatementId",
    "Action",
    "Principal",
    "SourceArn",
    "SourceAccount",
    "EventSourceToken",
    "RevisionId",
    "PrincipalOrgID",
    "FunctionUrlAuthType",
)
URL_AUTH_TYPES = ("NONE", "AWS_IAM")


def checked(body: dict[str, Any]) -> dict[str, Any]:
    """AddPermission's members of the wrong type are refused here, not read as missing or
    stored as given (boto3 checks this client-side; curl and other SDKs do not)."""
    for key in TEXT_MEMBERS:
        value = body.get(key)
        if value is not None and not isinstance(value, str):
            raise InvalidParameterValue(
                f"1 validation error detected: Value {json.dumps(value)[:100]} at "
                f"'{key[0].lower() + key[1:]}' failed to satisfy constraint: "
                "Member must be a string"
            )
    auth = body.get("FunctionUrlAuthType")
    if auth is not None and auth not in URL_AUTH_TYPES:
        raise InvalidParameterValue(
            f"1 validation error detected: Value '{auth[:100]}' at 'functionUrlAuthType' failed "
            "to satisfy constraint: Member must satisfy enum value set: [NONE, AWS_IAM]"
        )
    return body


def add_routes(
    app: web.Application, policies: ResourcePolicies, directory: FunctionDirectory
) -> None:
    def policy_of(request: web.Request) -> tuple[str, str | None]:
        """(function, qualifier) whose policy the request names: `?Qualifier=` or `Fn:live`
        (ValidationException, or ResourceNotFound for an unknown version or alias)."""
        target = directory.resolve(name_of(request), request.query.get("Qualifier"))
        qualifier = None if target.qualifier == LATEST else target.qualifier
        return target.function.name, qualifier

    async def add_permission(request: web.Request) -> web.Response:
        function, qualifier = policy_of(request)
        found = policies.add(function, checked(await json_body(request)), qualifier)
        return web.json_response({"Statement": json.dumps(found)}, status=201)

    async def remove_permission(request: web.Request) -> web.Response:
        function, qualifier = policy_of(request)
        revision = request.query.get("RevisionId")
        if revision is not None and revision != policies.policy(function, qualifier)["RevisionId"]:
            raise PreconditionFailed(
                "The Revision Id provided does not match the latest Revision Id. Call the "
                "GetPolicy API to retrieve the latest Revision Id"
            )
        policies.remove(function, request.match_info["sid"], qualifier)
        return web.Response(status=204)

    async def get_policy(request: web.Request) -> web.Response:
        return web.json_response(policies.policy(*policy_of(request)))

    app.router.add_post(POLICY, add_permission)
    app.router.add_get(POLICY, get_policy)
    app.router.add_delete(POLICY + "/{sid}", remove_permission)
