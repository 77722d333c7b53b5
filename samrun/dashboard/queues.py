"""How many messages wait in the app's SQS queues: the graph's backlog badges.

Asked of the local AWS endpoint (embedded moto or --aws-endpoint, never real AWS), off the event
loop, at most once every REFRESH_S and only while a page asks (its live feed's state messages).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from samrun.aws.endpoint import AwsEndpoint
from samrun.model import AppGraph

REFRESH_S = 2.0


class QueueDepths:
    def __init__(self, aws: AwsEndpoint, graph: Callable[[], AppGraph]) -> None:
        self.aws = aws
        self.graph = graph
        self.depths: dict[str, int] = {}  # queue logical id -> visible messages
        self._urls: dict[str, str] = {}
        self._asked = 0.0
        self._task: asyncio.Future[None] | None = None

    def current(self) -> dict[str, int]:
        """The depths last read; a new read starts in the background when they are old."""
        if self.aws.profile or self.aws.url is None:
            return {}
        now = time.monotonic()
        if now - self._asked >= REFRESH_S and (self._task is None or self._task.done()):
            self._asked = now
            self._task = asyncio.ensure_future(asyncio.to_thread(self._read))
        return dict(self.depths)

    def _read(self) -> None:
        client = self.aws.client("sqs")
        found: dict[str, int] = {}
        for queue in self.graph().resources:
            if queue.type != "sqs":
                continue
            with contextlib.suppress(Exception):  # gone, or the endpoint restarting: no badge
                url = self._urls.get(queue.logical_id)
                if url is None:
                    url = self._urls[queue.logical_id] = client.get_queue_url(QueueName=queue.name)[
                        "QueueUrl"
                    ]
                attributes = client.get_queue_attributes(
                    QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
                )["Attributes"]
                found[queue.logical_id] = int(attributes["ApproximateNumberOfMessages"])
        self.depths = found
