"""FilterCriteria: a mapping's event patterns, compiled once into one predicate over records.

A record is kept when any filter matches it (Lambda ORs the filters); a mapping without filters
keeps everything. Records are matched as `records.filter_view` shows them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from samrun.sources.base import Keep
from samrun.sources.patterns import check_pattern, matches

MAX_FILTERS = 5


def compile_filters(filters: Iterable[Mapping[str, Any]]) -> Keep:
    """The predicate of a FilterCriteria `Filters` list; ValueError when a pattern is invalid."""
    patterns = [_pattern(f) for f in filters]
    if len(patterns) > MAX_FILTERS:
        raise ValueError(f"FilterCriteria holds {len(patterns)} filters; at most {MAX_FILTERS}")
    if not patterns:
        return lambda record: True
    return lambda record: any(matches(p, record) for p in patterns)


def _pattern(item: Mapping[str, Any]) -> Mapping[str, Any]:
    raw = item.get("Pattern")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise ValueError(f"filter pattern is not JSON: {exc}") from None
    if not isinstance(raw, Mapping):
        raise ValueError("a filter's Pattern must be a JSON object")
    check_pattern(raw)
    return raw
