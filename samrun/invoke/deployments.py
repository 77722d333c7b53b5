"""DeploymentPreference: shift an AutoPublishAlias to a new version as CodeDeploy would.

PreTraffic hook, then the alias's weight moves to the new version in the preference's steps
(Canary10Percent5Minutes: 10 % for 5 minutes, then all; Linear10PercentEvery1Minute: +10 % each
minute; AllAtOnce), each wait divided by the time scale, then the PostTraffic hook. A failing hook,
or one of the preference's alarms going to ALARM during the shift, rolls the alias back. The
alarms are the template's AWS::CloudWatch::Alarm resources, evaluated by samrun.observe.alarms on
samrun's own metrics; without that evaluator (`alarms` unset), any function error of the new
version during the shift counts as an alarm.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from samrun.invoke.aliases import AliasBook
from samrun.invoke.invoker import Invoker
from samrun.invoke.models import InvokeRequest
from samrun.model import DeploymentPreference

logger = logging.getLogger(__name__)

HISTORY_SHOWN = 20
STEPPED = re.compile(r"^(Canary|Linear)(\d+)Percent(?:Every)?(\d+)Minutes?$")


@dataclass(frozen=True, slots=True)
class Step:
    weight: float  # share of traffic on the new version during the step
    minutes: float  # how long the step lasts (before the time scale)


def steps_of(kind: str) -> list[Step]:
    """The traffic steps of a predefined deployment type (AllAtOnce: none)."""
    if kind == "AllAtOnce":
        return []
    match = STEPPED.match(kind)
    if match is None:
        raise ValueError(f"unknown deployment preference type {kind!r}")
    style, percent, minutes = match.group(1), int(match.group(2)), int(match.group(3))
    if style == "Canary":
        return [Step(percent / 100, minutes)]
    return [Step(percent * k / 100, minutes) for k in range(1, 100 // percent) if percent * k < 100]


class AlarmWatch(Protocol):
    """What the deployer needs of the alarm evaluator (samrun.observe.alarms.Alarms)."""

    def find(self, name: str) -> object | None: ...

    async def first_alarm(self, names: Sequence[str], seconds: float) -> str | None: ...


class Deployer:
    def __init__(self, aliases: AliasBook, invoker: Invoker, time_scale: float = 1.0) -> None:
        self.aliases = aliases
        self.invoker = invoker
        self.time_scale = time_scale
        self.history: list[dict[str, str]] = []
        self.active: dict[str, dict[str, object]] = {}  # deployment id -> its progress now
        self.alarms: AlarmWatch | None = None  # set by the App

    def state(self) -> dict[str, object]:
        """Deployments shifting traffic now (the dashboard's canary progress), the last ones, and
        each alias's version and weights as they are now (a deployment moves them)."""
        aliases = [
            {
                "function": a.function,
                "name": a.name,
                "version": a.version,
                "additional_version_weights": dict(a.additional_version_weights),
            }
            for _, a in sorted(self.aliases.directory.aliases.items())
        ]
        return {
            "active": list(self.active.values()),
            "history": self.history[-HISTORY_SHOWN:],
            "aliases": aliases,
        }

    async def deploy(
        self,
        function_name: str,
        alias_name: str,
        new_version: str,
        preference: DeploymentPreference | None,
    ) -> str:
        """Move `alias_name` to `new_version`; returns Succeeded, RolledBack or Skipped."""
        alias = self.aliases.get(function_name, alias_name)
        old = alias.version
        if old == new_version:
            return "Skipped"
        kind = preference.type if preference and preference.enabled else "AllAtOnce"
        deployment = f"d-{random.getrandbits(36):09X}"
        say = f"deployment {deployment} of {function_name}:{alias_name}"
        logger.info("%s: version %s -> %s (%s)", say, old, new_version, kind)
        for name in preference.alarms if preference and self.alarms else ():
            if self.alarms is not None and self.alarms.find(name) is None:
                logger.warning("%s: alarm %s is not in the template: not watched", say, name)
        steps = steps_of(kind)
        watched = list(preference.alarms) if preference else []
        progress: dict[str, object] = {
            "deployment": deployment,
            "function": function_name,
            "alias": alias_name,
            "from": old,
            "to": new_version,
            "type": kind,
            "status": "InProgress",
            "weight": 0.0,  # share of traffic shifted to the new version so far
            "step": 0,
            "steps": len(steps),
            "next_step_at": None,  # epoch seconds of the next shift
            "alarms": watched,
        }
        self.active[deployment] = progress
        try:
            outcome = await self._shift(
                function_name, alias_name, new_version, preference, deployment, steps, progress
            )
        finally:
            self.active.pop(deployment, None)
        self.history.append(
            {
                "deployment": deployment,
                "function": function_name,
                "alias": alias_name,
                "from": old,
                "to": new_version,
                "status": outcome,
            }
        )
        return outcome

    async def _shift(
        self,
        function_name: str,
        alias_name: str,
        new_version: str,
        preference: DeploymentPreference | None,
        deployment: str,
        steps: list[Step],
        progress: dict[str, object],
    ) -> str:
        """The hooks and the traffic steps; `progress` is kept up to date for the dashboard."""
        old = str(progress["from"])
        say = f"deployment {deployment} of {function_name}:{alias_name}"
        errors_before = self.invoker.errors[(function_name, new_version)]
        watched = list(preference.alarms) if preference else []
        outcome = "Succeeded"
        if not await self._hook(preference, "pre", deployment):
            outcome = "RolledBack"
        for number, step in enumerate(steps if outcome == "Succeeded" else [], 1):
            self.aliases.update(function_name, alias_name, weights={new_version: step.weight})
            logger.info(
                "%s: %d%% of traffic on version %s", say, round(step.weight * 100), new_version
            )
            wait_s = step.minutes * 60 / self.time_scale
            progress.update(weight=step.weight, step=number, next_step_at=time.time() + wait_s)
            if self.alarms is not None and watched:
                fired = await self.alarms.first_alarm(watched, wait_s)
                if fired is not None:
                    logger.warning("%s: alarm %s is in ALARM", say, fired)
                    outcome = "RolledBack"
                    break
                continue
            await asyncio.sleep(wait_s)
            failed = self.invoker.errors[(function_name, new_version)] > errors_before
            if watched and failed:
                logger.warning("%s: version %s raised errors: alarm", say, new_version)
                outcome = "RolledBack"
                break
        if outcome == "Succeeded":
            self.aliases.update(function_name, alias_name, version=new_version, weights={})
            logger.info("%s: 100%% of traffic on version %s", say, new_version)
            if not await self._hook(preference, "post", deployment):
                outcome = "RolledBack"
        if outcome == "RolledBack":
            self.aliases.update(function_name, alias_name, version=old, weights={})
            logger.warning("%s: rolled back to version %s", say, old)
        else:
            logger.info("%s: succeeded", say)
        return outcome

    async def _hook(
        self, preference: DeploymentPreference | None, phase: str, deployment: str
    ) -> bool:
        """Run a lifecycle hook function; its success is the hook's Succeeded status."""
        hook = preference and (
            preference.pre_traffic_hook if phase == "pre" else preference.post_traffic_hook
        )
        if not hook:
            return True
        event = {
            "DeploymentId": deployment,
            "LifecycleEventHookExecutionId": f"{deployment}-{phase}",
        }
        result = await self.invoker.invoke(
            InvokeRequest(function=hook, payload=json.dumps(event).encode())
        )
        if result.function_error:
            logger.warning("%s-traffic hook %s failed: %s", phase, hook, result.payload[:300])
        return result.function_error is None
