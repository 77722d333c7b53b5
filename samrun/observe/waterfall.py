"""`samrun traces`: the trace store's traces as text waterfalls, as `sam traces` prints them.

Each trace: a title (its id, duration, marks), then every segment and subsegment as a tree (a
child under the segment or subsegment whose id is its `parent_id`), with its start offset, its
duration, a bar on the trace's time line, and X-Ray's marks: ERROR, FAULT, THROTTLE, COLD START.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from samrun.errors import SamrunError

BAR = 32
SINCE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
UNIT_S = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_since(text: str) -> float:
    """`30s`, `5m`, `2h`, `1d` (a bare number: seconds) as seconds."""
    match = SINCE.match(text)
    if not match:
        raise SamrunError(f"--since {text}: give a duration such as 30s, 5m, 2h or 1d")
    return float(match.group(1)) * UNIT_S[match.group(2)]


@dataclass
class Node:
    doc: dict[str, Any]
    children: list[Node] = field(default_factory=list)

    @property
    def start(self) -> float:
        return float(self.doc.get("start_time") or 0.0)

    @property
    def end(self) -> float:
        return float(self.doc.get("end_time") or self.start)


def tree(documents: Iterable[dict[str, Any]]) -> list[Node]:
    """The trace's roots: segments with no parent here; the rest under their parents."""
    nodes: dict[str, Node] = {}
    order: list[Node] = []

    def add(doc: dict[str, Any]) -> Node:
        node = Node(doc)
        order.append(node)
        if doc.get("id"):
            nodes.setdefault(str(doc["id"]), node)
        for sub in doc.get("subsegments") or ():
            node.children.append(add(sub))
        return node

    tops = [add(doc) for doc in documents]
    roots = []
    for node in tops:
        parent = nodes.get(str(node.doc.get("parent_id", "")))
        if parent is not None and parent is not node:
            parent.children.append(node)
        else:
            roots.append(node)
    for node in order:
        node.children.sort(key=lambda n: n.start)
    return sorted(roots, key=lambda n: n.start)


def marks(doc: dict[str, Any]) -> list[str]:
    found = [word.upper() for word in ("error", "fault", "throttle") if doc.get(word)]
    if (doc.get("aws") or {}).get("cold_start") or doc.get("name") == "Initialization":
        found.append("COLD START")
    return found


def render(trace_id: str, documents: list[dict[str, Any]]) -> list[str]:
    roots = tree(documents)
    if not roots:
        return []
    start = min(n.start for n in roots)
    end = max(n.end for n in roots)
    span = max(end - start, 1e-6)
    flagged = sorted({m for d in documents for m in marks(d) if m != "COLD START"})
    title = f"Trace {trace_id}  {(end - start) * 1000:.1f} ms  {len(documents)} documents"
    lines = [title + (f"  [{', '.join(flagged)}]" if flagged else "")]

    def walk(node: Node, depth: int) -> None:
        doc = node.doc
        begin = int((node.start - start) / span * BAR)
        width = max(1, int((node.end - node.start) / span * BAR))
        bar = " " * begin + "#" * min(width, BAR - begin)
        origin = doc.get("origin") or ("subsegment" if depth else "")
        label = f"{'  ' * depth}{doc.get('name', '?')}" + (f" ({origin})" if origin else "")
        tags = marks(doc)
        cause = (doc.get("cause") or {}).get("exceptions") or []
        if cause and isinstance(cause[0], dict) and cause[0].get("type"):
            tags.append(str(cause[0]["type"]))
        offset, took = (node.start - start) * 1000, (node.end - node.start) * 1000
        lines.append(
            f"  {label:<52} +{offset:8.1f} ms {took:8.1f} ms  |{bar:<{BAR}}|"
            + (f"  {' '.join(tags)}" if tags else "")
        )
        for child in node.children:
            walk(child, depth + 1)

    for root in roots:
        walk(root, 0)
    return lines


def involves(documents: list[dict[str, Any]], function: str) -> bool:
    """The trace has a Lambda segment of `function` (by name or ARN)."""
    for doc in documents:
        if str(doc.get("origin", "")).startswith("AWS::Lambda") and (
            doc.get("name") == function
            or str((doc.get("aws") or {}).get("function_arn", "")).split(":")[6:7] == [function]
        ):
            return True
    return False
