"""Triggers: the app's push sources (S3, SNS, EventBridge rules) and schedules, realised.

Owned by the orchestrator (start, stop, reconcile on reload, state). Each push source gets a relay
queue on the endpoint, wired additively and undone on stop and reload (`sources.relays`), on the
embedded endpoint, another one, or real AWS; each schedule a runner on the scaled clock
(`sources.schedules`). Every event becomes an asynchronous invocation, accepted
durably by the async queue before the relayed message is deleted. What samrun does not run
(IoT rules, Cognito triggers, log subscriptions, an invalid expression) is named, not dropped.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from samrun.aws.endpoint import AwsEndpoint
from samrun.errors import SamrunError
from samrun.invoke.models import InvocationType, InvokeRequest, InvokeResult
from samrun.model import AppGraph, PushSource, Schedule
from samrun.sources import eventbridge, executions, s3, samples, sns
from samrun.sources.relays import PushTrigger, Relays, push_key
from samrun.sources.schedules import ScaledClock, ScheduleRunner, iso
from samrun.sources.schedules import payload as schedule_payload

logger = logging.getLogger(__name__)

CHECKED_AT_DELIVERY = ("sns", "eventbridge")  # S3 checks the permission when configured
FAILED_METRICS = {"sns": "NumberOfNotificationsFailed", "eventbridge": "FailedInvocations"}

Invoke = Callable[[InvokeRequest], Awaitable[InvokeResult]]


def schedule_key(schedule: Schedule) -> str:
    return f"{schedule.logical_id or schedule.name}->{schedule.function}"


class Triggers:
    def __init__(
        self,
        aws: AwsEndpoint,
        invoke: Invoke,
        *,
        region: str,
        account_id: str,
        time_scale: float = 1.0,
        state_dir: Path | None = None,
    ) -> None:
        self.aws = aws
        self.invoke = invoke
        self.region = region
        self.account_id = account_id
        self.clock = ScaledClock(time_scale)
        self.pushes: dict[str, PushTrigger] = {}
        self.schedules: dict[str, ScheduleRunner] = {}
        self._executor = ThreadPoolExecutor(max_workers=32, thread_name_prefix="samrun-relay")
        self._started = False
        self.relays = Relays(aws, self._executor, self._relayed, state_dir)
        self.relays.heir = self.pushes.get  # a retiring relay's fallback: the running trigger
        # --enforce-iam: the missing permission of a source service (a push source, an
        # EventBridge rule's schedule) to invoke its function, or None. S3 checks it when the
        # notification is configured (the trigger is refused); SNS and EventBridge accept the
        # subscription or target and fail each delivery while the permission is missing.
        self.refuse: Callable[[PushSource], str | None] | None = None
        self.refuse_schedule: Callable[[Schedule], str | None] | None = None

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self, graph: AppGraph) -> None:
        self._started = True
        left = self.relays.ledger.load()  # what a run that died left on the endpoint
        await self.reconcile(graph)
        running = {t.relay.name for t in self.pushes.values() if t.relay}
        await self.relays.clean(left, running, {f.name for f in graph.functions})
        self.relays.announce(self.pushes.values())

    async def stop(self) -> None:
        for runner in self.schedules.values():
            await runner.stop()
        await self.relays.stop(list(self.pushes.values()))
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def reconcile(self, graph: AppGraph) -> list[str]:
        """Bring the running triggers in line with `graph`; one line per change."""
        lines: list[str] = []
        if not self._started:
            return lines
        wanted_s = {schedule_key(s): s for s in graph.schedules}
        for key in [k for k in self.schedules if wanted_s.get(k) != self.schedules[k].schedule]:
            await self.schedules.pop(key).stop()
            lines.append(f"schedule {key}: stopped")
        for key, schedule in wanted_s.items():
            if key not in self.schedules:
                runner = ScheduleRunner(
                    schedule,
                    self.clock,
                    self._fire_schedule,
                    region=self.region,
                    account_id=self.account_id,
                )
                self.schedules[key] = runner
                runner.start()
                if runner.error:
                    logger.warning("schedule %s: %s (not run)", key, runner.error)
                problem = self._schedule_denied(schedule)
                if problem and runner.active:
                    logger.warning(
                        "schedule %s: each firing will fail until the permission is added: %s",
                        key,
                        problem,
                    )
                lines.append(f"schedule {key}: {runner.describe()}")
        wanted_p = {push_key(p): p for p in graph.push_sources}
        stale = [
            (k, self.pushes.pop(k))
            for k in list(self.pushes)
            if wanted_p.get(k) != self.pushes[k].push
        ]
        for key, push in wanted_p.items():  # the new wiring first, so that no event falls
            if key not in self.pushes:  # between the old and the new (an overlap may repeat)
                lines.append(await self._wire(key, push))
        for key, old in stale:
            await self.relays.remove(old)
            if key not in wanted_p:
                lines.append(f"trigger {key}: removed")
        return lines

    async def _wire(self, key: str, push: PushSource) -> str:
        """A new push trigger wired (unless its service refuses it); its line."""
        trigger = PushTrigger(push)
        self.pushes[key] = trigger
        problem = self.refuse(push) if self.refuse else None
        if push.type not in CHECKED_AT_DELIVERY:
            trigger.error = problem
        elif problem:
            logger.warning(
                "trigger %s (%s): accepted, but each delivery will fail until the permission "
                "is added: %s",
                key,
                push.type,
                problem,
            )
        if trigger.error is None:  # refused: the source would not accept the wiring
            await self.relays.add(trigger)
        if trigger.status != "running":
            logger.warning("trigger %s (%s): %s", key, push.type, trigger.status)
        return f"trigger {key}: {trigger.status}"

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    # --- events ------------------------------------------------------------------------

    async def _relayed(self, trigger: PushTrigger, message: dict[str, Any]) -> None:
        push, body = trigger.push, message.get("Body", "")
        trace = (message.get("Attributes") or {}).get("AWSTraceHeader")
        try:
            payloads = self._payloads(trigger, body)
        except (ValueError, TypeError, AttributeError) as exc:  # not what the service sends
            logger.warning("trigger %s: dropped a message it cannot read: %s", push_key(push), exc)
            payloads = []
        if not payloads:
            trigger.filtered += 1
        for payload in payloads:
            if push.state_machine:
                await self._start(push.state_machine, payload)
            elif await self._delivery_failed(trigger, payload):
                continue
            else:
                await self._invoke(push.function, push.qualifier, payload, trace, push.type)
            trigger.invoked += 1

    def _denied(self, push: PushSource) -> str | None:
        """The missing permission that fails this delivery (judged at each one, so that an
        AddPermission lets the next one through), or None."""
        if self.refuse is None or push.type not in CHECKED_AT_DELIVERY or push.state_machine:
            return None
        return self.refuse(push)

    def _schedule_denied(self, schedule: Schedule) -> str | None:
        if self.refuse_schedule is None or schedule.kind != "events" or schedule.state_machine:
            return None  # (EventBridge Scheduler invokes with its own role, not a permission)
        return self.refuse_schedule(schedule)

    async def _delivery_failed(self, trigger: PushTrigger, payload: bytes) -> bool:
        """SNS and EventBridge fail a delivery whose permission is missing, without retrying
        it: SNS logs the failure (NumberOfNotificationsFailed); EventBridge counts
        FailedInvocations and sends the event to the target's DeadLetterConfig queue."""
        push = trigger.push
        problem = self._denied(push)
        if problem is None:
            return False
        trigger.failed += 1
        if push.type == "sns":
            logger.error(
                "SNS delivery to %s failed (subscription %s of %s, not retried): %s",
                push.function,
                push.logical_id,
                push.source,
                problem,
            )
            return True
        rule = eventbridge.rule_arn(push, self.region, self.account_id)
        config = push.details.get("deadLetterConfig")
        queue = config.get("Arn") if isinstance(config, Mapping) else None
        await self._event_failed(rule, push.function, payload, problem, queue)
        return True

    async def _event_failed(
        self, rule: str, function: str, payload: bytes, problem: str, queue: Any
    ) -> None:
        target = f"arn:aws:lambda:{self.region}:{self.account_id}:function:{function}"
        logger.error(
            "EventBridge rule %s: FailedInvocations: target %s not invoked (NO_PERMISSIONS, not "
            "retried%s): %s",
            rule,
            function,
            f"; sent to its dead-letter queue {queue}" if isinstance(queue, str) else "",
            problem,
        )
        if isinstance(queue, str):
            attributes = {
                "RULE_ARN": rule,
                "TARGET_ARN": target,
                "ERROR_CODE": "NO_PERMISSIONS",
                "ERROR_MESSAGE": problem,
            }
            try:
                await self._call(eventbridge.dead_letter, self.aws, queue, payload, attributes)
            except Exception as exc:  # botocore's errors: InvocationsFailedToBeSentToDLQ
                logger.error("EventBridge rule %s: the dead-letter queue refused: %s", rule, exc)

    def _payloads(self, trigger: PushTrigger, body: str) -> list[bytes]:
        """What the function gets for one relayed message: none when filtered out."""
        push = trigger.push
        if push.type == "eventbridge":
            event = eventbridge.event_of(body, self.account_id)
            rule = eventbridge.rule_arn(push, self.region, self.account_id)
            found = eventbridge.target_input(push, event, rule)
            return [found] if found is not None else []
        if push.type == "sns":
            envelope = json.loads(body)
            if envelope.get("Type", "Notification") != "Notification" or not sns.passes(
                push, envelope
            ):
                return []
            return [json.dumps(sns.lambda_event(envelope, trigger.subscription)).encode()]
        return [json.dumps({"Records": [r]}).encode() for r in s3.records(push, body)]

    async def _invoke(
        self,
        function: str,
        qualifier: str | None,
        payload: bytes,
        trace: str | None = None,
        source: str = "",
    ) -> None:
        """`source`: what sent the event (schedule, sns, s3...): the dashboard's trigger."""
        await self.invoke(
            InvokeRequest(
                function=function,
                qualifier=qualifier,
                payload=payload,
                invocation_type=InvocationType.EVENT,
                trace_id=trace,
                source=source,
            )
        )

    async def _start(self, state_machine: str, payload: bytes) -> None:
        """StartExecution with the event as input (an error raises: the event is not lost)."""
        try:
            execution = await self._call(executions.start, self.aws, state_machine, payload)
        except Exception as exc:  # botocore's errors (the machine is gone, the endpoint is down)
            raise SamrunError(f"StartExecution of {state_machine}: {exc}") from None
        logger.info("started %s", execution)

    async def _fire_schedule(self, schedule: Schedule, payload: bytes) -> None:
        problem = self._schedule_denied(schedule)
        if schedule.state_machine:
            await self._start(schedule.state_machine, payload)
        elif problem:
            runner = self.schedules.get(schedule_key(schedule))
            if runner is not None:
                runner.failed += 1
            name = schedule.name or schedule.logical_id
            rule = f"arn:aws:events:{self.region}:{self.account_id}:rule/{name}"
            await self._event_failed(
                rule, schedule.function, payload, problem, schedule.dead_letter
            )
        else:
            await self._invoke(schedule.function, schedule.qualifier, payload, source="schedule")

    # --- `samrun trigger`, startup table, /_samrun/state ---------------------------------

    def _items(self, graph: AppGraph | None) -> list[tuple[str, ScheduleRunner | PushTrigger]]:
        if graph is None:
            return [*self.schedules.items(), *self.pushes.items()]
        return [
            *(
                (
                    schedule_key(s),
                    ScheduleRunner(
                        s,
                        self.clock,
                        self._fire_schedule,
                        region=self.region,
                        account_id=self.account_id,
                    ),
                )
                for s in graph.schedules
            ),
            *((push_key(p), PushTrigger(p)) for p in graph.push_sources),
        ]

    def find(self, name: str, graph: AppGraph | None = None) -> ScheduleRunner | PushTrigger:
        """A schedule or trigger by logical id, rule/schedule name, or SAM event name (from
        the running ones, or from `graph` without starting anything)."""
        items = self._items(graph)
        exact = [(k, i) for k, i in items if name in (k, k.split("->")[0], _name_of(i))]
        found = exact or [(k, i) for k, i in items if k.split("->")[0].endswith(name)]
        if len(found) == 1 or (found and len({_function_of(i) for _, i in found}) == 1):
            return found[0][1]  # one, or one function's configurations (a bucket's events)
        known = ", ".join(sorted({k.split("->")[0] for k, _ in items})) or "none"
        if not found:
            raise SamrunError(f"no schedule or trigger named {name!r} (known: {known})")
        raise SamrunError(f"{name!r} names several triggers: {', '.join(k for k, _ in found)}")

    def event_for(self, name: str, graph: AppGraph | None = None) -> tuple[str, str | None, bytes]:
        """What firing `name` now sends: (function, qualifier, payload) — a schedule's event,
        or a sample event of a trigger's service."""
        item = self.find(name, graph)
        if isinstance(item, ScheduleRunner):
            body = schedule_payload(item.schedule, self.clock.now(), self.region, self.account_id)
            return item.schedule.function, item.schedule.qualifier, body
        push = item.push
        return push.function, push.qualifier, samples.for_push(push, self.region, self.account_id)

    async def fire(self, name: str) -> str:
        """Fire a running schedule or trigger now, asynchronously; the function's name."""
        item = self.find(name)
        function, qualifier, body = self.event_for(name)
        machine = state_machine_of(item)
        if isinstance(item, ScheduleRunner):
            await self._fire_schedule(item.schedule, body)
            item.fired += 1
        elif machine:
            await self._start(machine, body)
            item.invoked += 1
        elif not await self._delivery_failed(item, body):
            await self._invoke(function, qualifier, body, source=item.push.type)
            item.invoked += 1
        return function

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(FUNCTION, TRIGGER, SOURCE, STATUS) for the startup table."""
        rows = [
            (_target(t), _trigger(t.push), _source(t.push), t.status) for t in self.pushes.values()
        ]
        rows += [
            (
                _target(r),
                f"schedule {r.schedule.logical_id}",
                _expression(r.schedule),
                r.describe(),
            )
            for r in self.schedules.values()
        ]
        return rows

    def state(self) -> dict[str, object]:
        return {
            "triggers": [
                {
                    "name": t.push.logical_id,
                    "type": t.push.type,
                    "function": t.push.function,
                    "state_machine": t.push.state_machine,
                    "source": t.push.source,
                    "status": t.status,
                    "received": t.relay.received if t.relay else 0,
                    "invoked": t.invoked,
                    "filtered": t.filtered,
                    # deliveries failed for a missing permission (--enforce-iam), under the
                    # service's own CloudWatch metric name
                    "failed": t.failed,
                    **(
                        {FAILED_METRICS[t.push.type]: t.failed}
                        if t.push.type in FAILED_METRICS
                        else {}
                    ),
                }
                for t in self.pushes.values()
            ],
            "kept_relays": self.relays.kept,
            "schedules": [
                {
                    "name": r.schedule.logical_id,
                    "function": r.schedule.function,
                    "state_machine": r.schedule.state_machine,
                    "expression": r.schedule.expression,
                    "timezone": r.schedule.timezone,
                    "enabled": r.schedule.enabled,
                    "status": r.describe(),
                    "fired": r.fired,
                    "failed": r.failed,  # EventBridge's FailedInvocations
                    "next_firing": iso(r.next_firing) if r.next_firing and r.active else None,
                }
                for r in self.schedules.values()
            ],
        }


def state_machine_of(item: ScheduleRunner | PushTrigger) -> str | None:
    return (
        item.schedule.state_machine if isinstance(item, ScheduleRunner) else item.push.state_machine
    )


def _target(item: ScheduleRunner | PushTrigger) -> str:
    """The FUNCTION column: a function, or the state machine whose executions it starts."""
    name = _function_of(item)
    return f"state machine {name}" if state_machine_of(item) else name


def _function_of(item: ScheduleRunner | PushTrigger) -> str:
    return item.schedule.function if isinstance(item, ScheduleRunner) else item.push.function


def _name_of(item: ScheduleRunner | PushTrigger) -> str | None:
    if isinstance(item, ScheduleRunner):
        return item.schedule.name
    return str(item.push.details.get("rule") or "") or None


def _trigger(push: PushSource) -> str:
    if push.type == "s3":
        return f"s3 {push.logical_id} {','.join(s3.events_of(push))}"
    return f"{push.type} {push.logical_id}"


def _source(push: PushSource) -> str:
    if push.type == "eventbridge":
        return f"bus {push.source}"
    return push.source


def _expression(schedule: Schedule) -> str:
    tz = f" {schedule.timezone}" if schedule.timezone else ""
    return f"{schedule.expression}{tz}"
