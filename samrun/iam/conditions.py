"""IAM `Condition` blocks, evaluated as IAM does against a request context.

Every operator of a block must hold, every key of an operator must hold, and a key holds when
the request's value matches any of the listed ones. A key missing from the context fails the
test, except under a negated operator (StringNotEquals, ArnNotLike...: true), `...IfExists`
(true) and `Null`. Operators: String*, Arn*, Bool, Null, each with `IfExists` and the
ForAnyValue:/ForAllValues: set qualifiers. Numeric, Date, IpAddress and Binary are not modelled.

samrun knows the keys in `KNOWN_KEYS`. A key outside it (or an operator samrun does not model)
is one samrun cannot judge: an Allow that depends on it does not apply (conservative: on AWS a
request without the key fails the test), a Deny is judged as if the key were absent.
`aws:SecureTransport` is true: on AWS the SDKs and function URLs use HTTPS, and the plain HTTP
of the local endpoint is samrun's, not the app's.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# the context keys samrun puts in a request's context (lower case: keys are case-insensitive)
KNOWN_KEYS = frozenset(
    {
        "aws:sourcearn",
        "aws:sourceaccount",
        "aws:principalarn",
        "aws:principalaccount",
        "aws:resourceaccount",
        "aws:principalservicename",
        "aws:securetransport",
        "aws:requestedregion",
        "lambda:functionurlauthtype",
    }
)
NOT_MODELLED = None  # a value samrun cannot compute (no source ARN given): every test holds

_NEGATED = {
    "StringNotEquals",
    "StringNotEqualsIgnoreCase",
    "StringNotLike",
    "ArnNotEquals",
    "ArnNotLike",
}
_OPERATORS = _NEGATED | {
    "StringEquals",
    "StringEqualsIgnoreCase",
    "StringLike",
    "ArnEquals",
    "ArnLike",
    "Bool",
    "Null",
}

Context = Mapping[str, str | list[str] | None]


@dataclass(frozen=True, slots=True)
class Outcome:
    holds: bool  # with what samrun cannot judge taken as absent from the request
    unjudged: frozenset[str] = field(default_factory=frozenset)  # keys or operators

    def applies(self, effect: str) -> bool:
        """Whether a statement with this condition applies: an Allow needs it proven."""
        if effect == "Allow":
            return self.holds and not self.unjudged
        return self.holds


def evaluate_condition(block: Any, request: Context) -> Outcome:
    """The outcome of a statement's `Condition` block against `request` (lower-case keys)."""
    if not block:
        return Outcome(True)
    if not isinstance(block, Mapping):
        return Outcome(False, frozenset({"Condition"}))
    holds, unjudged = True, set()
    for name, tests in block.items():
        operator = str(name)
        qualifier, _, base = operator.rpartition(":")
        if_exists = base.endswith("IfExists")
        base = base.removesuffix("IfExists")
        if base not in _OPERATORS or qualifier not in ("", "ForAnyValue", "ForAllValues"):
            unjudged.add(operator)
            holds = False
            continue
        if not isinstance(tests, Mapping):
            holds = False
            continue
        for key, wanted in tests.items():
            lowered = str(key).lower()
            if lowered not in KNOWN_KEYS:
                unjudged.add(str(key))
            present = lowered in request and lowered in KNOWN_KEYS
            value = request.get(lowered) if present else None
            if not _key_holds(base, qualifier, if_exists, present, value, _listed(wanted)):
                holds = False
    return Outcome(holds, frozenset(unjudged))


def _listed(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [_text(v) for v in items if v is not None]


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _key_holds(
    base: str,
    qualifier: str,
    if_exists: bool,
    present: bool,
    value: str | list[str] | None,
    wanted: list[str],
) -> bool:
    if base == "Null":  # "true": the key must be absent
        return any((v.lower() == "true") != present for v in wanted)
    if not present:
        if qualifier == "ForAllValues":
            return True  # (every one of no values matches)
        return if_exists or base in _NEGATED
    if value is NOT_MODELLED:
        return True
    values = value if isinstance(value, list) else [value]
    results = [_one_holds(base, v, wanted) for v in values]
    if qualifier == "ForAllValues":
        return all(results)
    return any(results)


def _one_holds(base: str, value: str, wanted: Iterable[str]) -> bool:
    negated = base in _NEGATED
    positive = base.replace("Not", "", 1) if negated else base
    if positive == "StringEquals":
        found = value in wanted
    elif positive == "StringEqualsIgnoreCase":
        found = value.lower() in {w.lower() for w in wanted}
    elif positive == "StringLike":
        found = any(_pattern(w).match(value) for w in wanted)
    elif positive in ("ArnEquals", "ArnLike"):
        found = any(_arn_matches(w, value) for w in wanted)
    else:  # Bool
        found = value.lower() in {w.lower() for w in wanted}
    return not found if negated else found


@functools.lru_cache(maxsize=1024)
def _pattern(text: str) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)
    return re.compile(f"^{body}$", re.DOTALL)


def _arn_matches(pattern: str, arn: str) -> bool:
    """ArnEquals / ArnLike: each of the six colon-separated parts matched on its own."""
    wanted, given = pattern.split(":", 5), arn.split(":", 5)
    if len(wanted) != 6 or len(given) != 6:
        return pattern == arn
    return all(_pattern(w).match(g) for w, g in zip(wanted, given, strict=True))


def condition_keys(statements: Iterable[Mapping[str, Any]]) -> set[str]:
    """The condition keys and operators of `statements` that samrun cannot judge."""
    found: set[str] = set()
    for statement in statements:
        block = statement.get("Condition")
        if isinstance(block, Mapping) and block:
            found |= evaluate_condition(block, {}).unjudged
    return found


def role_context(role_arn: str, account: str, region: str) -> dict[str, str | list[str] | None]:
    """The context of a call a function makes with its execution role's session."""
    return {
        "aws:principalarn": role_arn,  # (an assumed role's is the role's ARN)
        "aws:principalaccount": account,
        "aws:resourceaccount": account,  # every resource of the local endpoint is the app's
        "aws:requestedregion": region,
        "aws:securetransport": "true",
    }
