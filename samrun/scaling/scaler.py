"""The auto scaler: target tracking and scheduled actions on provisioned concurrency.

Each metrics period (Lambda's minute divided by --time-scale) it reads the targets from the AWS
endpoint (registry.py; the template's alone with --aws-profile: samrun never scales real AWS),
keeps each within its min and max, evaluates each target tracking policy on the period's
datapoints (tracking.py) with its cooldowns, and fires the scheduled actions whose time has come
on the scaled clock schedules keep. A change goes through provisioned concurrency as
PutProvisionedConcurrencyConfig would (instances start or stop; GetProvisionedConcurrencyConfig
shows it), is logged, kept as a scaling activity (DescribeScalingActivities on the embedded
endpoint) and shown under `autoscaling` in /_samrun/state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from samrun.aws.endpoint import AwsEndpoint
from samrun.errors import SamrunError
from samrun.invoke.provisioned import ProvisionedConcurrency
from samrun.model import AppGraph, ScalableTarget, ScalingPolicy, ScheduledAction
from samrun.observe.metrics import MetricStore, Period
from samrun.scaling import registry, tracking
from samrun.sources.cron import ScheduleExpression, parse
from samrun.sources.schedules import ScaledClock
from samrun.template.build_scaling import DIMENSION

logger = logging.getLogger(__name__)

KEEP_ACTIVITIES = 200
TICKS_PER_PERIOD = 4  # how often scheduled actions are looked at, per metrics period


@dataclass(slots=True)
class TargetState:
    """What the scaler remembers of one target between periods."""

    last_out: float = float("-inf")  # scaled seconds (the clock's), of the last scale-out
    last_in: float = float("-inf")
    alarms: dict[str, str] = field(default_factory=dict)  # alarm name -> OK | ALARM
    next_actions: dict[str, datetime | None] = field(default_factory=dict)  # action -> due
    planned: dict[str, ScheduledAction] = field(default_factory=dict)  # what `due` is of
    expressions: dict[str, ScheduleExpression] = field(default_factory=dict)


class AutoScaler:
    def __init__(
        self,
        graph: AppGraph,
        aws: AwsEndpoint,
        provisioned: ProvisionedConcurrency,
        store: MetricStore,
        clock: ScaledClock,
    ) -> None:
        self.graph = graph
        self.aws = aws
        self.provisioned = provisioned
        self.store = store
        self.clock = clock
        self.targets: tuple[ScalableTarget, ...] = graph.scaling_targets
        self.problems: list[str] = []
        self.alarm_names: registry.Alarms = {}  # each policy's two alarms, as the endpoint names
        self.states: dict[str, TargetState] = {}
        self.activities: deque[dict[str, Any]] = deque(maxlen=KEEP_ACTIVITIES)
        self._task: asyncio.Task[None] | None = None
        self._changes: set[asyncio.Task[None]] = set()
        self._seen: Period | None = None

    @property
    def on_endpoint(self) -> bool:
        """Targets live on the endpoint (embedded moto, --aws-endpoint), not real AWS."""
        return self.aws.url is not None and not self.aws.profile

    async def start(self) -> None:
        if self.on_endpoint and self.graph.scaling_targets:
            try:
                await asyncio.to_thread(registry.register, self.aws, self.graph.scaling_targets)
            except Exception as exc:  # botocore's errors: say so, scale the template's
                logger.warning("Application Auto Scaling: could not register targets: %s", exc)
        await self.refresh()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in list(self._changes):
            task.cancel()
        await asyncio.gather(*self._changes, return_exceptions=True)

    async def replace_graph(self, graph: AppGraph) -> None:
        """A reload (--watch): the endpoint follows the template's targets, policies and
        scheduled actions as a stack update would (registry.reconcile); those made at run time
        stay. The next period scales with them."""
        old = self.graph.scaling_targets
        self.graph = graph
        if graph.scaling_targets == old:
            return
        if self.on_endpoint:
            try:
                lines = await asyncio.to_thread(
                    registry.reconcile, self.aws, old, graph.scaling_targets
                )
            except Exception as exc:  # botocore's errors: say so, keep serving
                logger.warning("Application Auto Scaling: could not apply the edit: %s", exc)
                lines = []
            for line in lines:
                logger.info("Application Auto Scaling: %s", line)
        kept = {t.resource_id for t in graph.scaling_targets}
        for target in old:
            if target.resource_id not in kept:
                self.states.pop(target.resource_id, None)
        await self.refresh()

    async def refresh(self) -> None:
        """The targets as the endpoint has them now (the template's alone, with real AWS)."""
        if not self.on_endpoint:
            self.targets = self.graph.scaling_targets
            return
        try:
            self.targets, problems, self.alarm_names = await asyncio.to_thread(
                registry.read, self.aws
            )
        except Exception as exc:  # the endpoint restarting: keep the last ones
            logger.debug("Application Auto Scaling: describe failed: %s", exc)
            return
        for problem in problems:
            if problem not in self.problems:
                logger.warning("Application Auto Scaling: %s", problem)
                self.problems.append(problem)

    async def _run(self) -> None:
        period_s = self.store.period_s
        ticks = 0
        while True:
            await asyncio.sleep(period_s / TICKS_PER_PERIOD)
            ticks += 1
            if ticks % TICKS_PER_PERIOD == 0:
                await self.refresh()
            try:
                await self.step()
            except SamrunError as exc:
                logger.warning("Application Auto Scaling: %s", exc)

    async def step(self) -> None:
        """Scheduled actions that are due; then, once per closed metrics period, min/max and
        target tracking."""
        for target in self.targets:
            await self._scheduled(target)
        latest = self.store.periods[-1] if self.store.periods else None
        if latest is None or latest is self._seen:
            return
        self._seen = latest
        for target in self.targets:
            self._track(target)

    def _state(self, target: ScalableTarget) -> TargetState:
        return self.states.setdefault(target.resource_id, TargetState())

    def _current(self, target: ScalableTarget) -> int | None:
        config = self.provisioned.configs.get((target.function, target.qualifier))
        return config.requested if config else None

    async def _scheduled(self, target: ScalableTarget) -> None:
        state = self._state(target)
        now = self.clock.now()
        for action in target.scheduled_actions:
            due = self._due(state, action, now)
            if due is None or due > now:
                continue
            expression = state.expressions[action.schedule]
            state.next_actions[action.name] = expression.next_after(due, None)
            if target.suspended.get("ScheduledScalingSuspended"):
                continue
            await self._apply_action(target, action)

    def _due(self, state: TargetState, action: ScheduledAction, now: datetime) -> datetime | None:
        """When `action` fires next (on the scaled clock), computed once it is first seen."""
        if action.schedule not in state.expressions:
            try:
                state.expressions[action.schedule] = parse(action.schedule, action.timezone)
            except ValueError as exc:
                state.next_actions[action.name] = None
                problem = f"scheduled action {action.name}: {exc}"
                if problem not in self.problems:
                    logger.warning("Application Auto Scaling: %s", problem)
                    self.problems.append(problem)
                return None
        if state.planned.get(action.name) != action:  # new, or changed (a reload, boto3)
            state.next_actions.pop(action.name, None)
            state.planned[action.name] = action
        if action.name not in state.next_actions:
            start = _date(action.start_time)
            after = max(now, start) if start else now
            state.next_actions[action.name] = state.expressions[action.schedule].next_after(
                after, start or now
            )
        due = state.next_actions[action.name]
        end = _date(action.end_time)
        return None if due is None or (end is not None and due > end) else due

    async def _apply_action(self, target: ScalableTarget, action: ScheduledAction) -> None:
        low = target.min_capacity if action.min_capacity is None else action.min_capacity
        high = target.max_capacity if action.max_capacity is None else action.max_capacity
        high = max(high, low)
        logger.info(
            "Application Auto Scaling: scheduled action %s on %s: min %d, max %d",
            action.name,
            target.resource_id,
            low,
            high,
        )
        if self.on_endpoint:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(registry.set_bounds, self.aws, target, low, high)
        updated = replace(target, min_capacity=low, max_capacity=high)
        self.targets = tuple(updated if t is target else t for t in self.targets)
        current = self._current(target) or 0
        desired = max(low, min(high, current))
        if desired != current:
            cause = (
                f"scheduled action name {action.name} was triggered: minimum capacity {low}, "
                f"maximum capacity {high}"
            )
            self._change(updated, current, desired, cause)

    def _track(self, target: ScalableTarget) -> None:
        current = self._current(target)
        if current is None and target.min_capacity < 1:
            return
        current = current or 0
        bounded = max(target.min_capacity, min(target.max_capacity, current))
        if bounded != current:  # registered (or changed) with bounds the capacity is outside
            cause = (
                f"the capacity {current} is outside the scalable target's minimum "
                f"{target.min_capacity} and maximum {target.max_capacity}"
            )
            self._change(target, current, bounded, cause)
            return
        state = self._state(target)
        state.alarms.clear()  # the current policies' alarms only (a policy replaced: new names)
        decisions = []
        for policy in target.policies:
            namespace, metric, dims = tracking.metric_key(policy, target)
            values = [
                _statistic(
                    self.store.window((metric, dims), 1, offset=n, namespace=namespace),
                    policy.statistic,
                )
                for n in range(tracking.LOW_DATAPOINTS)
            ]
            high, low = tracking.alarm_states(policy, values)
            state.alarms[self._alarm(target, policy.name, "AlarmHigh")] = "ALARM" if high else "OK"
            state.alarms[self._alarm(target, policy.name, "AlarmLow")] = "ALARM" if low else "OK"
            decision = tracking.decide(policy, values, current, target)
            if decision is not None and self._held(target, state, decision, policy):
                decision = None
            decisions.append(decision)
        chosen = tracking.combine(decisions, len(target.policies))
        if chosen is None:
            return
        now = self.clock.now().timestamp()
        if chosen.direction == tracking.OUT:
            state.last_out = now
        else:
            state.last_in = now
        alarm = self._alarm(target, chosen.policy, chosen.alarm)
        cause = (
            f"monitor alarm {alarm} in state ALARM triggered policy "
            f"{chosen.policy} (utilisation {chosen.value:.3g})"
        )
        self._change(target, current, chosen.desired, cause)

    def _alarm(self, target: ScalableTarget, policy: str, kind: str) -> str:
        """The alarm's name on the endpoint (AWS's `TargetTracking-RESOURCE-AlarmHigh-<uuid>`),
        else (the template's, with real AWS) one of that shape without the uuid."""
        names = self.alarm_names.get((target.resource_id, policy)) or {}
        return names.get(kind) or f"TargetTracking-{target.resource_id}-{policy}-{kind}"

    def _held(
        self,
        target: ScalableTarget,
        state: TargetState,
        decision: tracking.Decision,
        policy: ScalingPolicy,
    ) -> bool:
        """A decision its direction's suspension or cooldown holds back."""
        now = self.clock.now().timestamp()
        if decision.direction == tracking.OUT:
            since, cooldown = now - state.last_out, policy.scale_out_cooldown_s
            return bool(target.suspended.get("DynamicScalingOutSuspended")) or since < cooldown
        since, cooldown = now - state.last_in, policy.scale_in_cooldown_s
        return bool(target.suspended.get("DynamicScalingInSuspended")) or since < cooldown

    def _change(self, target: ScalableTarget, current: int, desired: int, cause: str) -> None:
        """Set the provisioned concurrency to `desired`, as a scaling activity."""
        activity: dict[str, Any] = {
            "ActivityId": str(uuid.uuid4()),
            "ServiceNamespace": "lambda",
            "ResourceId": target.resource_id,
            "ScalableDimension": DIMENSION,
            "Description": f"Setting desired concurrency to {desired}.",
            "Cause": cause,
            "StartTime": time.time(),
            "StatusCode": "InProgress",
            "StatusMessage": "",
            "Details": f"from {current} to {desired}",
        }
        logger.info(
            "Application Auto Scaling: %s provisioned concurrency %d -> %d (%s)",
            target.resource_id,
            current,
            desired,
            cause,
        )
        try:
            if desired >= 1:
                self.provisioned.put(target.function, target.qualifier, desired)
        except SamrunError as exc:
            self._finish(activity, "Failed", str(exc))
            logger.warning("Application Auto Scaling: %s: %s", target.resource_id, exc)
            return
        self._publish(activity)
        task = asyncio.get_running_loop().create_task(self._settle(target, desired, activity))
        self._changes.add(task)
        task.add_done_callback(self._changes.discard)

    async def _settle(self, target: ScalableTarget, desired: int, activity: dict[str, Any]) -> None:
        key = (target.function, target.qualifier)
        if desired < 1:
            await self.provisioned.delete(*key)
            self._finish(activity, "Successful", "")
            return
        allocation = self.provisioned.allocations.get(key)
        if allocation is not None:
            await asyncio.gather(allocation, return_exceptions=True)
        config = self.provisioned.configs.get(key)
        if config is None or config.requested != desired:
            self._finish(activity, "Overridden", "a later change replaced it")
        elif config.status == "FAILED":
            self._finish(activity, "Failed", config.status_reason)
        else:
            self._finish(activity, "Successful", "")

    def _finish(self, activity: dict[str, Any], status: str, message: str) -> None:
        activity.update(StatusCode=status, StatusMessage=message, EndTime=time.time())
        self._publish(activity)

    def _publish(self, activity: dict[str, Any]) -> None:
        """Into the state (once per ActivityId) and, on the embedded endpoint, moto."""
        if not any(a is activity for a in self.activities):
            self.activities.append(activity)
        if self.aws.embedded and self.aws.url:
            copy = dict(activity)
            task = asyncio.get_running_loop().create_task(self._send(copy))
            self._changes.add(task)
            task.add_done_callback(self._changes.discard)

    async def _send(self, activity: dict[str, Any]) -> None:
        try:
            await asyncio.to_thread(
                registry.record_activity,
                self.aws,
                self.graph.account_id,
                self.aws.region,
                activity,
            )
        except OSError as exc:
            logger.debug("Application Auto Scaling: activity not recorded: %s", exc)

    def state(self) -> dict[str, object]:
        """/_samrun/state's `autoscaling`: targets, their capacity, alarms, activities."""
        targets = []
        for target in self.targets:
            config = self.provisioned.configs.get((target.function, target.qualifier))
            state = self.states.get(target.resource_id) or TargetState()
            targets.append(
                {
                    "resource_id": target.resource_id,
                    "min": target.min_capacity,
                    "max": target.max_capacity,
                    "requested": config.requested if config else 0,
                    "allocated": config.allocated if config else 0,
                    "policies": [
                        {"name": p.name, "target_value": p.target_value, "metric": p.metric}
                        for p in target.policies
                    ],
                    "scheduled_actions": [
                        {
                            "name": a.name,
                            "schedule": a.schedule,
                            "next": _iso(state.next_actions.get(a.name)),
                        }
                        for a in target.scheduled_actions
                    ],
                    "alarms": dict(state.alarms),
                }
            )
        return {
            "autoscaling": {
                "clock": _iso(self.clock.now()),
                "period_s": self.store.period_s,
                "targets": targets,
                "activities": list(self.activities)[::-1],
                "problems": list(self.problems),
            }
        }


def _statistic(stat: Any, name: str) -> float | None:
    return None if stat is None else float(stat.statistic(name))


def _date(text: str | None) -> datetime | None:
    if not text:
        return None
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None
