"""ALB health checks of Lambda targets: when enabled, the function is invoked on the check's
interval and the target's state (initial, healthy, unhealthy) is logged on each change and
readable through `FrontDoors.target_health()`.
"""

from __future__ import annotations

import asyncio
import logging

from samrun.errors import LambdaApiError
from samrun.frontdoors.alb import build_alb_event, parse_alb_response
from samrun.frontdoors.integration import IntegrationTimeout, call
from samrun.frontdoors.messages import HttpRequest
from samrun.frontdoors.rest_v1 import MalformedResponse
from samrun.invoke.invoker import Invoker
from samrun.model import TargetGroup

logger = logging.getLogger(__name__)


def _matches(status: int, matcher: object) -> bool:
    codes = str((matcher or {}).get("HttpCode", "200") if isinstance(matcher, dict) else "200")
    for part in codes.split(","):
        low, _, high = part.strip().partition("-")
        if low.isdigit() and int(low) <= status <= int(high or low):
            return True
    return False


class HealthChecker:
    """Checks one target group until cancelled."""

    def __init__(self, group: TargetGroup, invoker: Invoker) -> None:
        self.group = group
        self.invoker = invoker
        self.state = "initial"
        self._passes = 0
        self._fails = 0

    @property
    def enabled(self) -> bool:
        return str(self.group.health_check.get("enabled", "false")).lower() == "true"

    async def run(self) -> None:
        check = self.group.health_check
        interval = float(check.get("interval_s", 35))
        while True:
            await self.check_once(float(check.get("timeout_s", 30)))
            await asyncio.sleep(interval)

    async def check_once(self, timeout_s: float) -> bool:
        assert self.group.function is not None
        request = HttpRequest(
            method="GET",
            path=str(self.group.health_check.get("path", "/")),
            raw_path="/",
            query="",
            headers=(("user-agent", "ELB-HealthChecker/2.0"),),
        )
        try:
            result = await call(
                self.invoker,
                self.group.function,
                None,
                build_alb_event(request, self.group),
                timeout_s,
            )
            ok = not result.function_error and _matches(
                parse_alb_response(result.payload, self.group.multi_value_headers).status,
                self.group.health_check.get("matcher"),
            )
        except (IntegrationTimeout, MalformedResponse, LambdaApiError):
            ok = False
        self._record(ok)
        return ok

    def _record(self, ok: bool) -> None:
        check = self.group.health_check
        self._passes, self._fails = (self._passes + 1, 0) if ok else (0, self._fails + 1)
        state = self.state
        if ok and (state == "initial" or self._passes >= int(check.get("healthy_threshold", 5))):
            state = "healthy"
        elif not ok and (
            state == "initial" or self._fails >= int(check.get("unhealthy_threshold", 2))
        ):
            state = "unhealthy"
        if state != self.state:
            self.state = state
            logger.info(
                "target group %s: target %s is %s",
                self.group.logical_id,
                self.group.function,
                state,
            )
