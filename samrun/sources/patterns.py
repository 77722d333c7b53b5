"""EventBridge event patterns (content filtering), as a pure matcher.

One matcher serves EventBridge rules, Lambda `FilterCriteria` and SNS filter policies (the SNS
module turns typed message attributes into plain JSON values first). The semantics follow AWS's
"Content filtering in Amazon EventBridge event patterns": a pattern is an object whose leaves are
arrays of alternatives (OR); keys are ANDed; an event array matches when any element does;
`$or` takes a list of sub-patterns; `exists`, `anything-but` and friends are one-key objects.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

__all__ = ["check_pattern", "matches"]

_MISSING: Any = object()
_NUMERIC_OPS = {"=", "<", "<=", ">", ">="}
_MATCHERS = {
    "prefix",
    "suffix",
    "anything-but",
    "numeric",
    "exists",
    "equals-ignore-case",
    "wildcard",
    "cidr",
}


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """True when `event` matches `pattern` (assumed valid: see `check_pattern`)."""
    for key, rule in pattern.items():
        if key == "$or":
            if not any(matches(sub, event) for sub in rule):
                return False
            continue
        value = event.get(key, _MISSING) if isinstance(event, Mapping) else _MISSING
        if isinstance(rule, Mapping):
            if not _match_object(rule, value):
                return False
        elif not _match_leaf(rule, value):
            return False
    return True


def _match_object(rule: Mapping[str, Any], value: Any) -> bool:
    """A nested pattern: the event value is an object, or an array holding one that matches."""
    if isinstance(value, Mapping):
        return matches(rule, value)
    if isinstance(value, list):
        return any(_match_object(rule, item) for item in value)
    # A missing object still matches a sub-pattern made only of `exists: false` leaves.
    return matches(rule, {})


def _leaves(value: Any) -> list[Any]:
    """The scalar values an event field holds: itself, or the scalars of an array (flattened)."""
    if value is _MISSING or isinstance(value, Mapping):
        return []
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def _match_leaf(alternatives: Sequence[Any], value: Any) -> bool:
    leaves = _leaves(value)
    for alt in alternatives:
        if isinstance(alt, Mapping):
            if _match_operator(alt, leaves):
                return True
        elif any(_equal(alt, leaf) for leaf in leaves):
            return True
    return False


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equal(expected: Any, actual: Any) -> bool:
    """JSON equality: numbers by value, never a boolean for a number, strings exactly."""
    if _is_number(expected) or _is_number(actual):
        return _is_number(expected) and _is_number(actual) and float(expected) == float(actual)
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    return bool(type(expected) is type(actual) and expected == actual)


def _match_operator(op: Mapping[str, Any], leaves: list[Any]) -> bool:
    ((name, arg),) = op.items()
    if name == "exists":
        return bool(leaves) is bool(arg)
    if name == "anything-but":
        return any(not _match_one(_negated(arg), leaf) for leaf in leaves)
    return any(_match_one(op, leaf) for leaf in leaves)


def _negated(arg: Any) -> Mapping[str, Any]:
    """The positive operator an `anything-but` excludes, as a one-key operator object."""
    if isinstance(arg, Mapping):
        return arg
    return {"$in": arg if isinstance(arg, list) else [arg]}


def _match_one(op: Mapping[str, Any], leaf: Any) -> bool:
    ((name, arg),) = op.items()
    if name == "$in":
        return any(_equal(item, leaf) for item in arg)
    if name == "numeric":
        return _is_number(leaf) and _in_range(arg, float(leaf))
    if not isinstance(leaf, str):
        return False
    if name in ("prefix", "suffix"):
        fold = isinstance(arg, Mapping)
        text = arg["equals-ignore-case"] if fold else arg
        subject, text = (leaf.casefold(), text.casefold()) if fold else (leaf, text)
        return subject.startswith(text) if name == "prefix" else subject.endswith(text)
    if name == "equals-ignore-case":
        options = arg if isinstance(arg, list) else [arg]
        return any(leaf.casefold() == item.casefold() for item in options)
    if name == "wildcard":
        options = arg if isinstance(arg, list) else [arg]
        return any(_wildcard_regex(item).fullmatch(leaf) is not None for item in options)
    if name == "cidr":
        try:
            return ipaddress.ip_address(leaf) in ipaddress.ip_network(arg, strict=False)
        except ValueError:
            return False
    return False


def _in_range(arg: Sequence[Any], number: float) -> bool:
    for i in range(0, len(arg), 2):
        op, bound = arg[i], float(arg[i + 1])
        ok = {
            "=": number == bound,
            "<": number < bound,
            "<=": number <= bound,
            ">": number > bound,
            ">=": number >= bound,
        }[op]
        if not ok:
            return False
    return True


@lru_cache(maxsize=512)
def _wildcard_regex(text: str) -> re.Pattern[str]:
    """`*` is any run of characters; `\\*` a literal star and `\\\\` a literal backslash."""
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            out.append(re.escape(text[i + 1]))
            i += 2
            continue
        out.append(".*" if char == "*" else re.escape(char))
        i += 1
    return re.compile("".join(out), re.DOTALL)


# --- validation ---------------------------------------------------------------------------


def check_pattern(pattern: Mapping[str, Any]) -> None:
    """Raise ValueError, naming the offending path, when `pattern` is not a valid event pattern."""
    if not isinstance(pattern, Mapping):
        raise ValueError("event pattern must be a JSON object")
    if not pattern:
        raise ValueError("event pattern must not be empty")
    _check_object(pattern, "")


def _check_object(obj: Mapping[str, Any], path: str) -> None:
    for key, rule in obj.items():
        where = f"{path}.{key}" if path else key
        if not isinstance(key, str):
            raise ValueError(f"{where}: keys must be strings")
        if key == "$or":
            if not isinstance(rule, list) or len(rule) < 2:
                raise ValueError(f"{where}: $or takes a list of at least two patterns")
            for i, sub in enumerate(rule):
                if not isinstance(sub, Mapping) or not sub:
                    raise ValueError(f"{where}[{i}]: each $or alternative must be an object")
                _check_object(sub, where)
        elif isinstance(rule, Mapping):
            if not rule:
                raise ValueError(f"{where}: a nested pattern must not be empty")
            _check_object(rule, where)
        elif isinstance(rule, list):
            if not rule:
                raise ValueError(f"{where}: the list of values must not be empty")
            for i, alt in enumerate(rule):
                if isinstance(alt, Mapping):
                    _check_operator(alt, f"{where}[{i}]")
                elif isinstance(alt, list):
                    raise ValueError(f"{where}[{i}]: nested arrays are not allowed")
        else:
            raise ValueError(
                f"{where}: match values must be in an array, e.g. {{{key!r}: [{rule!r}]}}"
            )


def _check_operator(op: Mapping[str, Any], where: str) -> None:
    if len(op) != 1:
        raise ValueError(f"{where}: a filter object takes exactly one operator, got {list(op)}")
    ((name, arg),) = op.items()
    if name not in _MATCHERS:
        raise ValueError(
            f"{where}: unknown operator {name!r} (known: {', '.join(sorted(_MATCHERS))})"
        )
    where = f"{where}.{name}"
    if name == "exists":
        if not isinstance(arg, bool):
            raise ValueError(f"{where}: exists takes true or false")
    elif name in ("prefix", "suffix"):
        _check_affix(arg, where)
    elif name == "equals-ignore-case":
        _check_strings(arg, where, allow_list=False)
    elif name == "wildcard":
        _check_wildcard(arg, where)
    elif name == "cidr":
        _check_cidr(arg, where)
    elif name == "numeric":
        _check_numeric(arg, where)
    else:
        _check_anything_but(arg, where)


def _check_strings(arg: Any, where: str, *, allow_list: bool) -> None:
    items = arg if allow_list and isinstance(arg, list) else [arg]
    if not items or not all(isinstance(item, str) for item in items):
        kind = "a string or a list of strings" if allow_list else "a string"
        raise ValueError(f"{where}: takes {kind}")


def _check_affix(arg: Any, where: str) -> None:
    if isinstance(arg, Mapping):
        if list(arg) != ["equals-ignore-case"]:
            raise ValueError(f"{where}: takes a string or {{'equals-ignore-case': string}}")
        arg = arg["equals-ignore-case"]
    if not isinstance(arg, str):
        raise ValueError(f"{where}: takes a string")


def _check_wildcard(arg: Any, where: str) -> None:
    _check_strings(arg, where, allow_list=False)
    if "**" in arg.replace("\\*", ""):
        raise ValueError(f"{where}: consecutive wildcard characters are not allowed")


def _check_cidr(arg: Any, where: str) -> None:
    if not isinstance(arg, str) or "/" not in arg:
        raise ValueError(f"{where}: takes a CIDR block such as '10.0.0.0/24'")
    try:
        ipaddress.ip_network(arg, strict=False)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def _check_numeric(arg: Any, where: str) -> None:
    if not isinstance(arg, list) or not arg or len(arg) % 2 or len(arg) > 4:
        raise ValueError(f"{where}: takes [op, number] or [lower-op, n, upper-op, m]")
    ops = arg[0::2]
    for op, bound in zip(ops, arg[1::2], strict=True):
        if op not in _NUMERIC_OPS:
            raise ValueError(f"{where}: unknown comparison {op!r} (use =, <, <=, >, >=)")
        if not _is_number(bound) or not math.isfinite(float(bound)):
            raise ValueError(f"{where}: {op} needs a number, got {bound!r}")
        if abs(float(bound)) > 5e9:
            raise ValueError(f"{where}: numbers must lie between -5e9 and 5e9")
    if len(ops) == 2:
        lower, upper = ops
        if lower not in (">", ">=") or upper not in ("<", "<="):
            raise ValueError(f"{where}: a range is a lower bound (> or >=) then an upper (< or <=)")
        if float(arg[1]) > float(arg[3]):
            raise ValueError(f"{where}: the lower bound exceeds the upper bound")


def _check_anything_but(arg: Any, where: str) -> None:
    if isinstance(arg, Mapping):
        if len(arg) != 1:
            raise ValueError(f"{where}: takes one of prefix, suffix, wildcard, equals-ignore-case")
        ((name, inner),) = arg.items()
        if name in ("prefix", "suffix"):
            if not isinstance(inner, str):
                raise ValueError(f"{where}.{name}: takes a string")
        elif name == "wildcard":
            _check_strings(inner, f"{where}.wildcard", allow_list=True)
            for item in inner if isinstance(inner, list) else [inner]:
                _check_wildcard(item, f"{where}.wildcard")
        elif name == "equals-ignore-case":
            _check_strings(inner, f"{where}.{name}", allow_list=True)
        else:
            raise ValueError(f"{where}: {name!r} cannot be used inside anything-but")
        return
    items = arg if isinstance(arg, list) else [arg]
    if not items:
        raise ValueError(f"{where}: the list must not be empty")
    if all(isinstance(item, str) for item in items) or all(_is_number(item) for item in items):
        return
    raise ValueError(f"{where}: takes a string, a number, or a list of only strings or numbers")
