"""The push triggers' relays on the endpoint: made, unmade, drained, and left-overs undone.

Each push trigger gets a relay queue (`sources.relay`) connected to its bucket, topic or bus
(`sources.wiring`, additive only). On an endpoint that outlives samrun (`--aws-profile`,
`--aws-endpoint`) all of it is written in the ledger first (`sources.relay_ledger`), undone on
stop and on reload, and what a run that died left is undone at the next start. A relay is deleted
only once drained into the durable async queue: one whose drain gives up is kept and named, tried
again while samrun runs, and (on an endpoint that outlives samrun) at the next start.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from samrun.aws.endpoint import AwsEndpoint
from samrun.model import RELAYED_PUSH_TYPES, PushSource
from samrun.sources import s3
from samrun.sources.patterns import check_pattern
from samrun.sources.relay import Relay, count, relay_name
from samrun.sources.relay_ledger import RelayLedger, Wiring
from samrun.sources.wiring import connect, disconnect, prepare, queue_url

logger = logging.getLogger(__name__)

RELAYED = RELAYED_PUSH_TYPES
STOP_S = 10.0  # stopping: unwiring and draining every relay, at most this long
KEEP_RETRY_S = 10.0  # a relay not drained yet: tried again this often (its visibility timeout)


def push_key(push: PushSource) -> str:
    key = f"{push.logical_id or push.source}->{push.function}"
    if push.type == "s3":  # a bucket has one configuration per event type and filter
        key += f"#{s3.config_hash(push)}"
    return key


@dataclass
class PushTrigger:
    push: PushSource
    relay: Relay | None = None
    subscription: str = ""  # SNS: the relay's subscription ARN
    wiring: Wiring | None = None
    error: str | None = None
    invoked: int = 0
    filtered: int = 0
    failed: int = 0  # deliveries failed for a missing permission (--enforce-iam)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        if self.error:
            return f"error: {self.error}"
        if self.push.type not in RELAYED:
            return "not run (samrun does not emulate this source)"
        if not self.push.details.get("enabled", True):
            return "disabled"
        return "running"


Handle = Callable[[PushTrigger, dict[str, Any]], Awaitable[None]]


class Relays:
    def __init__(
        self,
        aws: AwsEndpoint,
        executor: ThreadPoolExecutor,
        handle: Handle,
        state_dir: Path | None = None,
    ) -> None:
        self.aws = aws
        self._executor = executor
        self._handle = handle  # one relayed message of a trigger, onto the async queue
        outlives = not aws.embedded and state_dir is not None  # the endpoint outlives samrun
        self.ledger = RelayLedger(state_dir / "relays.json" if outlives and state_dir else None)
        self._kept: dict[str, asyncio.Task[None]] = {}  # relays whose drain gave up
        self.heir: Callable[[str], PushTrigger | None] | None = None  # running trigger by key
        self._still_wired: list[Relay] = []  # removed triggers whose unwiring failed: drained
        self._stopping = False

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    @property
    def kept(self) -> list[str]:
        """The relays kept because they still hold messages (tried again in the background)."""
        return sorted(self._kept)

    def announce(self, triggers: Iterable[PushTrigger]) -> None:
        """The startup line: what samrun added to the account or endpoint."""
        wired = [t.wiring.describe() for t in triggers if t.wiring]
        if wired and self.aws.profile:
            logger.warning(
                "wired on the real AWS account (profile %s), undone on stop: %s",
                self.aws.profile,
                "; ".join(wired),
            )
        elif wired and self.ledger.path:
            logger.info("wired on %s, undone on stop: %s", self.aws.url, "; ".join(wired))

    async def stop(self, triggers: Iterable[PushTrigger]) -> None:
        self._stopping = True
        for relay in self._still_wired:
            await relay.stop()
        if self.ledger.path is None:  # the embedded endpoint: everything goes with it
            for trigger in triggers:
                if trigger.relay:
                    await trigger.relay.stop()
        else:  # unwired, and each relay drained into the durable async queue, then deleted
            try:
                async with asyncio.timeout(STOP_S):
                    await asyncio.gather(*(self.remove(t) for t in triggers))
            except TimeoutError:
                logger.warning(
                    "stopping the triggers took over %.0f s: what is left on %s is undone on "
                    "the next start (%s)",
                    STOP_S,
                    self.aws.describe(),
                    ", ".join(self.ledger.entries) or "nothing",
                )
        for name, task in self._kept.items():
            task.cancel()
            where = "the next start delivers them" if self.ledger.path else "lost with the endpoint"
            logger.warning("relay %s still holds messages: %s", name, where)

    async def add(self, trigger: PushTrigger) -> None:
        push = trigger.push
        if push.type not in RELAYED or not push.details.get("enabled", True):
            return
        problem = invalid_filter(push)
        if problem:
            trigger.error = problem
            return
        settings = json.dumps(
            [push.details, push.qualifier, push.state_machine], sort_keys=True, default=str
        )
        name = relay_name(push.type, push.source, push_key(push), settings)  # new when changed
        relay = Relay(self.aws, name, self._executor)
        wiring = Wiring(relay=name, push=push)
        prepare(wiring)
        self.ledger.put(wiring)  # before anything is made: a crash from here on is undone
        try:
            relay = await self._create(wiring)
            await self._call(connect, self.aws, wiring, relay.url, relay.arn)
        except Exception as exc:  # botocore's errors: name it, undo what was made, keep going
            trigger.error = str(exc)
            try:
                await self._call(disconnect, self.aws, wiring)
                await relay.delete()
                self.ledger.forget(wiring.relay)
            except Exception as again:  # as above: the ledger keeps it for the next start
                logger.debug("trigger %s: %s", push_key(push), again)
            return
        self.ledger.put(wiring)  # with its subscription
        trigger.relay, trigger.wiring, trigger.subscription = relay, wiring, wiring.subscription
        relay.start(lambda message: self._handle(trigger, message))

    async def _create(self, wiring: Wiring) -> Relay:
        """The relay's queue. SQS refuses a name deleted less than 60 s ago
        (QueueDeletedRecently: a stop and a start within a minute, on real AWS): the relay then
        gets a fresh name (the ledger, not the name, finds it again after a crash)."""
        relay = Relay(self.aws, wiring.relay, self._executor)
        try:
            await relay.create()
        except Exception as exc:  # botocore's errors: only that one is answered here
            if "QueueDeletedRecently" not in f"{exc} {getattr(exc, 'response', '')}":
                raise
            self.ledger.forget(wiring.relay)
            wiring.relay = f"{wiring.relay}-{secrets.token_hex(3)}"
            prepare(wiring)  # an EventBridge rule is named after its relay
            self.ledger.put(wiring)
            relay = Relay(self.aws, wiring.relay, self._executor)
            await relay.create()
        return relay

    async def remove(self, trigger: PushTrigger) -> None:
        relay, wiring = trigger.relay, trigger.wiring
        if relay is None or wiring is None:
            return
        try:  # unwired first, so that nothing more arrives while its relay drains
            await self._call(disconnect, self.aws, wiring)
        except Exception as exc:  # botocore's errors: still wired, so the queue stays
            if self._stopping:
                await relay.stop()
            else:  # what still arrives is still delivered, with the old settings
                self._still_wired.append(relay)
            logger.warning(
                "trigger %s: could not undo %s: %s (relay %s kept%s; the next start tries again)",
                push_key(trigger.push),
                wiring.describe(),
                exc,
                relay.name,
                "" if self._stopping else ", and drained while samrun runs",
            )
            return
        await self._retire(trigger, relay)

    async def _retire(self, trigger: PushTrigger, relay: Relay) -> None:
        """Drain an unwired relay into the async queue and delete it; if that gives up, the
        relay is kept (named, tried again every KEEP_RETRY_S, and at the next start)."""
        try:
            done = await relay.retire(self._handover(trigger))
        except Exception as exc:  # botocore's errors: the queue stays for a later try
            logger.warning("trigger %s: relay %s: %s", push_key(trigger.push), relay.name, exc)
            done = False
        if done:
            self.ledger.forget(relay.name)
            return
        if relay.name not in self._kept:
            self._kept[relay.name] = asyncio.create_task(self._retry(trigger, relay))

    def _handover(self, trigger: PushTrigger) -> Callable[[dict[str, Any]], Awaitable[None]]:
        """A retiring relay's message, handled with its own trigger's settings; if that fails
        (its state machine or function went with the edit), by the running trigger of the same
        source and function (the new relay's), rather than left stuck."""
        heir = self.heir(push_key(trigger.push)) if self.heir else None

        async def handle(message: dict[str, Any]) -> None:
            try:
                await self._handle(trigger, message)
            except Exception as exc:  # raised again below when there is no one else to ask
                if heir is None or heir is trigger or heir.relay is None:
                    raise
                logger.warning(
                    "trigger %s: a retiring relay's message (%s) handed to the running one",
                    push_key(trigger.push),
                    exc,
                )
                await self._handle(heir, message)

        return handle

    async def _retry(self, trigger: PushTrigger, relay: Relay) -> None:
        while True:
            try:
                left = await self._call(count, self.aws, relay.url)
            except Exception:  # botocore's errors: the endpoint hiccupped, say so next time
                left = -1
            logger.warning(
                "relay %s of trigger %s kept: it holds %s message(s) not handed over yet "
                "(in flight, or failing); trying again in %.0f s",
                relay.name,
                push_key(trigger.push),
                left if left >= 0 else "some",
                KEEP_RETRY_S,
            )
            await asyncio.sleep(KEEP_RETRY_S)
            try:
                if await relay.retire(self._handover(trigger)):
                    self.ledger.forget(relay.name)
                    self._kept.pop(relay.name, None)
                    return
            except Exception as exc:  # as in _retire
                logger.debug("relay %s: %s", relay.name, exc)

    async def clean(self, left: dict[str, Wiring], running: set[str], functions: set[str]) -> None:
        """Undo what a run that died left on the endpoint (relays this run uses again stay):
        unwired, then drained into the async queue with the old trigger's settings (dropped,
        and counted, when its function is gone from the template), then deleted."""
        for name, wiring in left.items():
            if name in running:
                continue
            try:
                await self._call(disconnect, self.aws, wiring)
                url = await self._call(queue_url, self.aws, name)
            except Exception as exc:  # botocore's errors: tried again at the next start
                logger.warning("could not undo %s (a previous run's): %s", wiring.describe(), exc)
                continue
            logger.info("undone what a previous run left: %s", wiring.describe())
            if url is None:
                self.ledger.forget(name)
                continue
            relay = Relay(self.aws, name, self._executor)
            relay.url = url
            push = wiring.push
            if push.function in functions or push.state_machine:
                await self._retire(PushTrigger(push), relay)
                continue
            dropped = await self._call(count, self.aws, url)
            if dropped:
                logger.warning(
                    "relay %s: %d event(s) for %s, no longer in the template, dropped",
                    name,
                    dropped,
                    push.function,
                )
            await relay.delete()
            self.ledger.forget(name)


def invalid_filter(push: PushSource) -> str | None:
    """What is wrong with the rule's EventPattern or the subscription's FilterPolicy, if any."""
    key = {"eventbridge": "pattern", "sns": "FilterPolicy"}.get(push.type)
    value = push.details.get(key) if key else None
    if value is None:
        return None
    try:
        check_pattern(json.loads(value) if isinstance(value, str) else value)
    except ValueError as exc:
        return f"invalid {'EventPattern' if key == 'pattern' else 'FilterPolicy'}: {exc}"
    return None
