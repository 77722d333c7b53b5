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
    await stop_debugged(app)
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


async def stop_debugged(app: App) -> None:
    """A debugged function's invocation has no timeout, and a debugger may hold it for ever:
    stopping does not wait for it (its caller gets Lambda's error for an ended runtime)."""
    held = [pool for pool in app.pools.pools.values() if pool.launcher.debug and pool.busy]
    if held:
        names = ", ".join(sorted(pool.launcher.function_name for pool in held))
        logger.info("stopping: %s, held by a debugger, stopped now", names)
        await asyncio.gather(*(pool.close() for pool in held))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
