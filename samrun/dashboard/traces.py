"""What the trace store tells the page: an invocation's waterfall, and the AWS calls functions
made (edges of the graph the template does not declare).

Read from samrun.observe.trace_store's file (bounded to its last segments), off the event loop.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from samrun.observe import trace_store
from samrun.observe.waterfall import render

RECENT_S = 3600.0  # the traces searched for an invocation, and for the AWS calls seen
FUNCTION = "AWS::Lambda::Function"
# the request parameters X-Ray SDKs record, which name the resource called
NAMES = ("queue_url", "table_name", "topic_arn", "bucket_name", "function_name", "stream_name")


def waterfall(state_dir: Path, request_id: str) -> list[str] | None:
    """The text waterfall of the trace of `request_id`'s invocation (the AWS::Lambda segment
    Lambda records names it), or None when it was not traced or is no longer kept."""
    for trace_id, documents in trace_store.read(state_dir, since_s=RECENT_S).items():
        if any((d.get("aws") or {}).get("request_id") == request_id for d in documents):
            return render(trace_id, documents)
    return None


def sdk_calls(traces: Iterable[list[dict[str, Any]]]) -> set[tuple[str, str]]:
    """(function, resource) for each AWS call a function's segment recorded: the resource as
    its SDK named it (a queue URL, a table name, a topic ARN...)."""
    found: set[tuple[str, str]] = set()
    for documents in traces:
        functions = {
            str(d.get("id")): str(d.get("name"))
            for d in documents
            if d.get("origin") == FUNCTION and d.get("name")
        }
        for doc in documents:
            owner = functions.get(str(doc.get("id"))) or functions.get(str(doc.get("parent_id")))
            if owner is None:
                continue
            for sub in _subsegments(doc):
                if sub.get("namespace") != "aws":
                    continue
                params = sub.get("aws") or {}
                for key in NAMES:
                    if isinstance(params.get(key), str):
                        found.add((owner, resource_name(params[key])))
    return found


def recent_sdk_calls(state_dir: Path) -> set[tuple[str, str]]:
    return sdk_calls(trace_store.read(state_dir, since_s=RECENT_S).values())


def resource_name(value: str) -> str:
    """A queue URL's, an ARN's or a name's last part: what the graph knows the resource by."""
    return value.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def _subsegments(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for sub in doc.get("subsegments") or ():
        if isinstance(sub, dict):
            yield sub
            yield from _subsegments(sub)
