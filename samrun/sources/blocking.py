"""boto3 calls off the event loop, on daemon threads of their own.

A poller's SQS long poll blocks its thread for up to 20 s; on the loop's default executor (a
handful of threads on 2 cores) a few of them would starve every other `to_thread` user, and its
threads are joined at interpreter exit, which would hold `samrun` open for a long poll. A daemon
thread per call costs ~50 µs and neither blocks the others nor the exit.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def start(fn: Callable[[], T]) -> concurrent.futures.Future[T]:
    """Run `fn` on a new daemon thread; its result (or exception) lands in the future."""
    future: concurrent.futures.Future[T] = concurrent.futures.Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(fn())
        except BaseException as exc:  # delivered to the awaiting coroutine
            future.set_exception(exc)

    threading.Thread(target=run, name="samrun-source-call", daemon=True).start()
    return future


async def call(fn: Callable[[], T]) -> T:
    """Await `fn()` run on a daemon thread."""
    return await asyncio.wrap_future(start(fn))
