"""The "not run locally" list: what a template declares and samrun does not realise, as
`plan --json`, /_samrun/state and the startup lines show it."""

from __future__ import annotations

from samrun.model import AppGraph, NotRun


def not_run_document(graph: AppGraph) -> list[dict[str, str]]:
    """What the template declares and samrun does not realise (plan, startup, /_samrun/state)."""
    return [
        {
            "what": n.what,
            "name": n.name,
            "type": n.type,
            "reason": n.reason,
            **({"location": n.location} if n.location else {}),
        }
        for n in graph.not_run
    ]


def not_run_lines(graph: AppGraph) -> list[str]:
    """The "not run locally" list as startup prints it: a title, then one line each."""
    if not graph.not_run:
        return []
    return [
        f"not run locally ({len(graph.not_run)}):",
        *(f"  {n.what} {n.name} ({n.type}): {located(n)}" for n in graph.not_run),
    ]


def located(entry: NotRun) -> str:
    """The reason, after the template location of the error that keeps it out, if any."""
    return f"{entry.location}: {entry.reason}" if entry.location else entry.reason
