"""Calling a function from a front door: the integration timeout, and errors as outcomes.

On timeout the caller gets `IntegrationTimeout` while the invocation runs on to its end (as in
AWS, where the function keeps running), so its instance is released cleanly.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from samrun.invoke.invoker import Invoker
from samrun.invoke.models import InvokeRequest, InvokeResult


class IntegrationTimeout(Exception):
    """The integration did not answer within its timeout; API Gateway answers 504."""


_background: set[asyncio.Task[InvokeResult]] = set()


async def call(
    invoker: Invoker,
    function: str,
    qualifier: str | None,
    event: Any,
    timeout_s: float,
    trace_id: str | None = None,
) -> InvokeResult:
    """Invoke `function` with `event` (JSON-encoded here), waiting at most `timeout_s`."""
    payload = event if isinstance(event, bytes) else json.dumps(event).encode()
    request = InvokeRequest(
        function=function, qualifier=qualifier, payload=payload, trace_id=trace_id, source="route"
    )
    task = asyncio.create_task(invoker.invoke(request))
    if function in invoker.debugged:  # a debugger may hold it for as long as it likes
        return await task
    try:
        return await asyncio.wait_for(asyncio.shield(task), timeout_s)
    except TimeoutError:
        _background.add(task)  # keep a reference until the invocation ends
        task.add_done_callback(_finished)
        raise IntegrationTimeout(f"{function} did not answer within {timeout_s:g} s") from None


def _finished(task: asyncio.Task[InvokeResult]) -> None:
    _background.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log it as never retrieved
