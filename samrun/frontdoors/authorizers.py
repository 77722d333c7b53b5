"""Lambda authorizers: TOKEN and REQUEST (REST), REQUEST with simple or policy responses (HTTP),
their identity sources and result cache, and API Gateway's 401/403/500 answers.

The cache keeps the authorizer's raw answer per identity for its TTL and evaluates the policy
against each request's ARN, as API Gateway does (a cached policy may allow one method and not
another). IAM, Cognito and JWT authorizers are not verified locally: the request passes.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from samrun.frontdoors.messages import HttpRequest, HttpResponse, json_response
from samrun.frontdoors.routes import RouteMatch
from samrun.model import RouteKind

logger = logging.getLogger(__name__)

UNAUTHORIZED = json_response(401, '{"message":"Unauthorized"}')
REST_DENY = json_response(
    403, '{"Message":"User is not authorized to access this resource with an explicit deny"}'
)
HTTP_DENY = json_response(403, '{"message":"Forbidden"}')
# an authorizer that raises (not "Unauthorized"), times out or answers no valid policy: API
# Gateway's AUTHORIZER_CONFIGURATION_ERROR (SAM CLI answers 502; samrun follows AWS)
REST_ERROR = json_response(
    500, '{"message": null}', ("x-amzn-ErrorType", "AuthorizerConfigurationException")
)
HTTP_ERROR = json_response(500, '{"message":"Internal Server Error"}')


@dataclass(frozen=True, slots=True)
class Decision:
    """Either a response that ends the request, or the context the function receives."""

    denied: HttpResponse | None = None
    context: dict[str, Any] | None = None


Invoke = Callable[[str, str | None, dict[str, Any]], Any]  # async (function, qualifier, event)


def identity_values(
    sources: list[str], request: HttpRequest, match: RouteMatch
) -> list[str] | None:
    """The identity source values, or None when one is missing (API Gateway then answers 401)."""
    values = []
    stage_vars = match.route.details.get("stage_variables") or {}
    query = dict(request.query_pairs())
    for source in sources:
        name = source.removeprefix("$").removeprefix("method.").removeprefix("request.")
        kind, _, key = name.partition(".")
        if kind == "header":
            value = request.header(key)
        elif kind == "querystring":
            value = query.get(key)
        elif kind == "stageVariables":
            value = stage_vars.get(key)
        else:
            value = "" if kind == "context" else None
        if not value and kind != "context":
            return None
        values.append(value or "")
    return values


def method_arn(match: RouteMatch, method: str, region: str, account_id: str, api_id: str) -> str:
    resource = f"{match.route.stage}/{method}/{match.path.lstrip('/')}"
    return f"arn:aws:execute-api:{region}:{account_id}:{api_id}/{resource}"


def _statement_matches(statement: dict[str, Any], arn: str) -> bool:
    resources = statement.get("Resource", [])
    resources = resources if isinstance(resources, list) else [resources]
    return any(fnmatch.fnmatchcase(arn, str(r)) for r in resources)


def evaluate_policy(answer: Any, arn: str) -> bool | None:
    """True allow, False deny, None malformed; an explicit Deny wins, as in IAM."""
    if not isinstance(answer, dict) or not isinstance(answer.get("policyDocument"), dict):
        return None
    statements = answer["policyDocument"].get("Statement") or []
    statements = statements if isinstance(statements, list) else [statements]
    effects = {
        str(s.get("Effect"))
        for s in statements
        if isinstance(s, dict) and _statement_matches(s, arn)
    }
    return "Deny" not in effects and "Allow" in effects


class AuthorizerCache:
    """Authorizer answers by (authorizer, identity), each kept for its TTL."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: dict[tuple[str, ...], tuple[float, Any]] = {}
        self._clock = clock
        self._warned: set[str] = set()

    def get(self, key: tuple[str, ...]) -> Any | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] < self._clock():
            self._entries.pop(key, None)
            return None
        return entry[1]

    def put(self, key: tuple[str, ...], ttl_s: int, answer: Any) -> None:
        if ttl_s > 0:
            self._entries[key] = (self._clock() + ttl_s, answer)

    def warn_once(self, name: str, kind: str) -> None:
        if name not in self._warned:
            self._warned.add(name)
            logger.warning("authorizer %s (%s) is not verified locally; requests pass", name, kind)


def _context_of(answer: Any, http: bool) -> dict[str, Any]:
    context = answer.get("context") if isinstance(answer, dict) else None
    context = dict(context) if isinstance(context, dict) else {}
    if http:
        return {"lambda": context}
    principal = answer.get("principalId") if isinstance(answer, dict) else None
    return {**context, "principalId": principal, "integrationLatency": 0}


def decide(config: dict[str, Any], answer: Any, arn: str, kind: RouteKind) -> Decision:
    """API Gateway's verdict on an authorizer's answer."""
    http = kind is not RouteKind.REST
    if config.get("simple_responses") and isinstance(answer, dict) and "isAuthorized" in answer:
        if answer["isAuthorized"] is True:
            return Decision(context=_context_of(answer, http))
        return Decision(denied=HTTP_DENY)
    allowed = evaluate_policy(answer, arn)
    if allowed is None:
        return Decision(denied=HTTP_ERROR if http else REST_ERROR)
    if not allowed:
        return Decision(denied=HTTP_DENY if http else REST_DENY)
    return Decision(context=_context_of(answer, http))


def parse_answer(payload: bytes, function_error: str | None) -> Any:
    """The authorizer's JSON answer; `"Unauthorized"` errors become the string "Unauthorized"."""
    if function_error:
        try:
            message = json.loads(payload).get("errorMessage")
        except (ValueError, AttributeError):
            message = None
        return "Unauthorized" if message == "Unauthorized" else None
    try:
        return json.loads(payload)
    except ValueError:
        return None
