"""CloudWatch's embedded metric format (EMF): the metrics a log line carries, extracted as
CloudWatch Logs extracts them from a Lambda function's log group.

A line is an EMF document when it is one JSON object (after Lambda's own tab-separated prefix,
timestamp, request id and level, if the runtime's logging added one) with an `_aws` member. Its
`CloudWatchMetrics` directives each name a namespace, dimension sets and metric definitions
whose values (a number, or an array of at most 100) and dimension values (strings) are members
of the document's root. Each (directive, dimension set, metric) is one datum. A document that
breaks a rule of the specification gives no metric at all; the line stays a log line, as
CloudWatch keeps the log event (it counts it in its EMFValidationErrors).

With LogFormat JSON a `logging` record is `{"timestamp", "level", "message", ...}`: its root has
no `_aws`, so an EMF document logged through `logging` is not extracted there, as on Lambda
(print and the EMF libraries write to stdout, which stays as written).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import Any

MAX_DIRECTIVE_METRICS = 100
MAX_DIMENSIONS = 30
MAX_VALUES = 100
MAX_NAME = 255
MAX_DIMENSION_VALUE = 1024
LARGEST = 2.0**360  # PutMetricData's range of values
MAX_DOCUMENT = 256 * 1024  # a CloudWatch Logs event
PAST_S = 14 * 24 * 3600  # PutMetricData takes two weeks back...
FUTURE_S = 2 * 3600  # ...and two hours ahead
PREFIX_FIELDS = 3  # Lambda's text prefix: `[LEVEL]\ttime\trequest id\t` or `time\tid\tLEVEL\t`
UNITS = frozenset(
    {
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    }
)


class InvalidEmf(ValueError):
    """A document with `_aws` that the specification does not accept: no metric from it."""


@dataclass(frozen=True, slots=True)
class Datum:
    """One metric datum: a directive's metric under one of its dimension sets."""

    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]  # in the dimension set's order
    values: tuple[float, ...]
    unit: str
    timestamp_ms: int
    storage_resolution: int  # 1 (high resolution) or 60


def extract(line: str, now: float | None = None) -> list[Datum]:
    """The data of an EMF line; [] for any other line. Raises InvalidEmf for a document that
    claims to be EMF (a JSON object with `_aws`) and breaks the specification."""
    text = document_text(line)
    if text is None:
        return []
    try:
        root = json.loads(text, parse_constant=_not_json)
    except (ValueError, RecursionError):
        if '"_aws"' in text:
            raise InvalidEmf("not one valid JSON object") from None
        return []
    if not isinstance(root, dict) or "_aws" not in root:
        return []
    if len(text.encode()) > MAX_DOCUMENT:
        raise InvalidEmf("larger than a log event's 256 KB")
    aws = root["_aws"]
    if not isinstance(aws, dict):
        raise InvalidEmf("_aws is not an object")
    timestamp = _timestamp(aws.get("Timestamp"), time.time() if now is None else now)
    directives = aws.get("CloudWatchMetrics")
    if not isinstance(directives, list):
        raise InvalidEmf("_aws.CloudWatchMetrics is not an array of metric directives")
    found: list[Datum] = []
    for n, directive in enumerate(directives):
        found += _directive(root, directive, timestamp, f"CloudWatchMetrics[{n}]")
    return found


def document_text(line: str) -> str | None:
    """The JSON object text of the line: the whole line, or what follows Lambda's prefix."""
    text = line.strip()
    if text.startswith("{"):
        return text
    at = text.find("\t{")
    if at < 0 or "{" in text[:at] or text.count("\t", 0, at) >= PREFIX_FIELDS:
        return None
    return text[at + 1 :]


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def _timestamp(value: object, now: float) -> int:
    if not _is_number(value):
        raise InvalidEmf("_aws.Timestamp is not a number of milliseconds since the epoch")
    assert isinstance(value, int | float)
    if not now - PAST_S <= value / 1000 <= now + FUTURE_S:
        raise InvalidEmf("_aws.Timestamp is more than two weeks ago or two hours ahead")
    return int(value)


def _directive(root: dict[str, Any], directive: object, timestamp: int, where: str) -> list[Datum]:
    if not isinstance(directive, dict):
        raise InvalidEmf(f"{where} is not an object")
    namespace = directive.get("Namespace")
    if not _is_name(namespace):
        raise InvalidEmf(f"{where}.Namespace is not a string of 1-255 characters")
    assert isinstance(namespace, str)
    if namespace.startswith("AWS/"):
        raise InvalidEmf(f"{where}.Namespace {namespace}: namespaces under AWS/ are reserved")
    dimension_sets = _dimension_sets(root, directive.get("Dimensions"), where)
    metrics = directive.get("Metrics")
    if not isinstance(metrics, list) or len(metrics) > MAX_DIRECTIVE_METRICS:
        raise InvalidEmf(f"{where}.Metrics is not an array of at most 100 metric definitions")
    definitions = [_metric(root, m, f"{where}.Metrics[{n}]") for n, m in enumerate(metrics)]
    return [
        Datum(namespace, name, dims, values, unit, timestamp, resolution)
        for dims in dimension_sets
        for name, values, unit, resolution in definitions
    ]


def _dimension_sets(
    root: dict[str, Any], sets: object, where: str
) -> list[tuple[tuple[str, str], ...]]:
    if not isinstance(sets, list) or not sets:
        raise InvalidEmf(f"{where}.Dimensions is not a non-empty array of dimension sets")
    found = []
    for n, keys in enumerate(sets):
        if not isinstance(keys, list) or len(keys) > MAX_DIMENSIONS:
            raise InvalidEmf(f"{where}.Dimensions[{n}] is not an array of at most 30 names")
        dims: list[tuple[str, str]] = []
        for key in keys:
            if not _is_name(key) or any(key == k for k, _ in dims):
                raise InvalidEmf(f"{where}.Dimensions[{n}]: {key!r} is not a dimension name")
            value = root.get(key)
            if not isinstance(value, str) or not 0 < len(value) <= MAX_DIMENSION_VALUE:
                raise InvalidEmf(
                    f"dimension {key}: the root has no string of 1-1024 characters for it"
                )
            dims.append((key, value))
        found.append(tuple(dims))
    return found


def _metric(
    root: dict[str, Any], definition: object, where: str
) -> tuple[str, tuple[float, ...], str, int]:
    if not isinstance(definition, dict) or not _is_name(definition.get("Name")):
        raise InvalidEmf(f"{where} has no Name of 1-255 characters")
    name = str(definition["Name"])
    unit = definition.get("Unit", "None")
    if not isinstance(unit, str) or unit not in UNITS:
        raise InvalidEmf(f"metric {name}: Unit {unit!r} is not a CloudWatch unit")
    resolution = definition.get("StorageResolution", 60)
    if resolution not in (1, 60) or isinstance(resolution, bool):
        raise InvalidEmf(f"metric {name}: StorageResolution is neither 1 nor 60")
    value = root.get(name)
    values: list[Any] = value if isinstance(value, list) else [value]
    if not 0 < len(values) <= MAX_VALUES or not all(_is_number(v) for v in values):
        raise InvalidEmf(f"metric {name}: the root has no number or array of 1-100 numbers for it")
    return name, tuple(float(v) for v in values), unit, int(resolution)


def _is_number(value: object) -> bool:
    """A JSON number CloudWatch takes: finite, within its range of +-2^360."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value) and abs(value) <= LARGEST
    except OverflowError:  # an integer too large for a float
        return False


def _is_name(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_NAME
