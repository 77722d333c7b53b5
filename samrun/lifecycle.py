"""What `up` does around serving: a warning when it listens on the network, and the graceful
drain on SIGTERM (stop accepting, let every call in flight finish, unless told again)."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from samrun.app import App

logger = logging.getLogger(__name__)


def warn_if_exposed(host: str) -> None:
    """The Runtime APIs stay on loopback; the Lambda API and the routes follow --host."""
    if not is_loopback(host):
        logger.warning(
            "--host %s: the Lambda API and the API routes are reachable from the network "
            "and unauthenticated: anyone who can reach this machine can invoke your "
            "functions (the Runtime APIs stay on loopback)",
            host,
        )


async def drain(app: App, interrupt: asyncio.Event) -> None:
    """Stop accepting, then let every call in flight finish (each up to its own timeout),
    unless a second SIGTERM or Ctrl-C says to stop now."""
    await app.stop_accepting()
    running = app.invoker.in_flight
    if not running:
        logger.info("stopping")
        return
    logger.info(
        "stopping: no new requests; waiting for %d invocation(s) in flight to finish "
        "(Ctrl-C again to stop now)",
        running,
    )
    drained = asyncio.create_task(app.invoker.drain())
    interrupted = asyncio.create_task(interrupt.wait())
    await asyncio.wait((drained, interrupted), return_when=asyncio.FIRST_COMPLETED)
    interrupted.cancel()
    if not drained.done():
        drained.cancel()
        logger.warning("stopping now: %d invocation(s) in flight cut short", app.invoker.in_flight)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
