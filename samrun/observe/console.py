"""Tables samrun prints for people."""

from __future__ import annotations

from collections.abc import Sequence

from samrun.model import AppGraph


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Left-aligned columns, two spaces apart."""
    cells = [
        [str(c) for c in headers],
        *[[("-" if c is None else str(c)) for c in r] for r in rows],
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )


def function_table(graph: AppGraph, lambda_endpoint: str) -> str:
    rows = [
        (
            f.name,
            f.config.runtime or "image",
            f.config.memory_mb,
            f.config.timeout_s,
            f"{lambda_endpoint}/2015-03-31/functions/{f.name}/invocations",
        )
        for f in graph.functions
    ]
    return table(("FUNCTION", "RUNTIME", "MEMORY", "TIMEOUT", "INVOKE"), rows)
