"""The template side: `plan` lists scaling targets, the not-run list stops naming them, and a
target that cannot be scaled is refused with its location."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

APP = Path(__file__).parent / "app" / "template.yaml"


def plan(template: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", "samrun", "plan", str(template), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    found: dict[str, object] = json.loads(done.stdout)
    return found


def test_plan_lists_scaling_targets_with_their_policies() -> None:
    doc = plan(APP)
    targets = {t["resource_id"]: t for t in doc["scaling_targets"]}  # type: ignore[attr-defined]
    tracked = targets["function:tracked:live"]
    assert (tracked["min"], tracked["max"]) == (1, 5)
    assert tracked["policies"] == ["utilization: ProvisionedConcurrencyUtilization Average at 0.5"]
    assert tracked["scheduled_actions"] == ["yearly: cron(0 0 1 1 ? *) -> min 1, max 5"]
    not_run = {(n["name"], n["type"]) for n in doc["not_run"]}  # type: ignore[attr-defined]
    assert ("TableTarget", "AWS::ApplicationAutoScaling::ScalableTarget") in not_run
    assert not any(name.startswith("Tracked") for name, _ in not_run)
    # Ref of a target is CloudFormation's ResourceId|ScalableDimension|ServiceNamespace, and the
    # policy's ScalingTargetId: !Ref TrackedTarget finds its target by it (policies above)
    scheduled = next(f for f in doc["functions"] if f["name"] == "scheduled")  # type: ignore[attr-defined]
    ref = "function:tracked:live|lambda:function:ProvisionedConcurrency|lambda"
    assert scheduled["environment"]["TRACKED_TARGET"] == ref


def test_a_latest_target_is_refused_with_its_line(tmp_path: Path) -> None:
    text = APP.read_text().replace("function:${Scheduled}:live", "function:${Scheduled}:$LATEST")
    template = tmp_path / "template.yaml"
    template.write_text(text)
    (tmp_path / "handler.py").write_text((APP.parent / "handler.py").read_text())
    doc = plan(template)
    refused = [n for n in doc["not_run"] if n["name"] == "ScheduledTarget"]  # type: ignore[attr-defined]
    assert refused and "cannot scale $LATEST" in refused[0]["reason"]
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "$LATEST" in row)
    assert refused[0]["location"].startswith(f"{template}:{line}:")
