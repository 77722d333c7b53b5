"""Identity-based policy evaluation as IAM does it for one principal: an explicit Deny wins, then
any Allow, else the implicit deny. Action/NotAction and Resource/NotResource with IAM's `*` and
`?` wildcards (actions case-insensitive); Condition blocks against the request's context
(samrun.iam.conditions).

AWS managed policies (`arn:aws:iam::aws:policy/...`) resolve to the documents moto ships.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from samrun.iam.conditions import Context, evaluate_condition
from samrun.model import ExecutionRole

Document = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    denied_by: Mapping[str, Any] | None = None  # the explicit Deny statement, if one matched


@functools.lru_cache(maxsize=4096)
def _pattern(text: str, fold: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)
    return re.compile(f"^{body}$", re.IGNORECASE | re.DOTALL if fold else re.DOTALL)


def _listed(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [str(v) for v in items if v is not None]


def _matches(patterns: Any, value: str, *, fold: bool) -> bool:
    return any(_pattern(p, fold).match(value) for p in _listed(patterns))


def statements(document: Document) -> list[Mapping[str, Any]]:
    found = document.get("Statement") or []
    items = found if isinstance(found, list) else [found]
    return [s for s in items if isinstance(s, Mapping)]


def _applies(statement: Mapping[str, Any], action: str, resource: str) -> bool:
    if "NotAction" in statement:
        if _matches(statement["NotAction"], action, fold=True):
            return False
    elif not _matches(statement.get("Action"), action, fold=True):
        return False
    if "NotResource" in statement:
        return not _matches(statement["NotResource"], resource, fold=False)
    return _matches(statement.get("Resource", "*"), resource, fold=False)


def evaluate(
    documents: Iterable[Document], action: str, resource: str, context: Context | None = None
) -> Decision:
    """`context`: the request's condition keys, lower case (conditions.role_context); none
    given, every condition key is absent from the request."""
    context = context or {}
    allowed = False
    for document in documents:
        for statement in statements(document):
            if not _applies(statement, action, resource):
                continue
            effect = str(statement.get("Effect"))
            if not evaluate_condition(statement.get("Condition"), context).applies(effect):
                continue
            if effect == "Deny":
                return Decision(False, statement)
            allowed = allowed or effect == "Allow"
    return Decision(allowed)


@functools.lru_cache(maxsize=1)
def _managed() -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    loaded: dict[str, Any] = json.loads(aws_managed_policies_data)
    return loaded


def managed_document(arn: str) -> Document | None:
    """An AWS managed policy's document, by ARN; None for a customer one or an unknown name."""
    if ":iam::aws:policy/" not in arn:
        return None
    found = _managed().get(arn.rsplit("/", 1)[-1])
    document = found.get("Document") if isinstance(found, dict) else None
    return document if isinstance(document, Mapping) else None


def role_documents(role: ExecutionRole) -> list[tuple[str, Document]]:
    """Every policy of `role`: inline ones, then managed ones (by ARN) that resolve."""
    found = list(role.policies)
    for arn in role.managed_arns:
        document = managed_document(arn)
        if document is not None:
            found.append((arn, document))
    return found


def unresolved_managed(role: ExecutionRole) -> list[str]:
    return [arn for arn in role.managed_arns if managed_document(arn) is None]


def needed(action: str, resource: str) -> str:
    """The statement that would allow the call, as one line of JSON."""
    return json.dumps({"Effect": "Allow", "Action": action, "Resource": resource})


def summarise(role: ExecutionRole, limit: int = 6) -> list[str]:
    """One line per statement: `Allow dynamodb:GetItem,dynamodb:Query on arn:...` (at most
    `limit` actions and resources shown, then `+N`)."""
    lines = []
    for name, document in role_documents(role):
        for statement in statements(document):
            verb = "Action" if "Action" in statement else "NotAction"
            noun = "NotResource" if "NotResource" in statement else "Resource"
            actions = _shown(_listed(statement.get(verb)), limit)
            resources = _shown(_listed(statement.get(noun, "*")), limit)
            effect = str(statement.get("Effect", "?"))
            not_a = "all but " if verb == "NotAction" else ""
            not_r = "all but " if noun == "NotResource" else ""
            source = f" ({name.rsplit('/', 1)[-1]})" if name.startswith("arn:") else ""
            block = statement.get("Condition")
            tests = block.values() if isinstance(block, Mapping) else []
            keys = sorted({str(k) for t in tests if isinstance(t, Mapping) for k in t})
            when = f" if {','.join(keys)}" if keys else ""
            lines.append(f"{effect} {not_a}{actions} on {not_r}{resources}{when}{source}")
    for arn in unresolved_managed(role):
        lines.append(f"? {arn} (not an AWS managed policy samrun knows: not applied)")
    return lines


def _shown(items: list[str], limit: int) -> str:
    more = f" +{len(items) - limit}" if len(items) > limit else ""
    return ",".join(items[:limit]) + more
