"""What samrun wired on an endpoint that outlives it, kept in the state folder.

With `--aws-profile` (real AWS) or `--aws-endpoint`, the relay queues, SNS subscriptions,
EventBridge rules and S3 queue configurations samrun adds stay on the account if samrun dies
(kill -9, a power cut). Each one is written here *before* it is made and forgotten only once it
is undone, so the next `up` finds what a crashed run left and undoes it (draining the relay's
queue first: nothing it holds is lost). Written whole and atomically, as `mapping_store` is.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from samrun.model import PushSource
from samrun.sources.state_file import write_json

logger = logging.getLogger(__name__)

_PUSH_FIELDS = {f.name for f in fields(PushSource)}


@dataclass
class Wiring:
    """One relay and what delivers to it: enough to undo it without the template."""

    relay: str  # the queue's name
    push: PushSource
    subscription: str = ""  # SNS
    rule: str = ""  # EventBridge: samrun's rule on push.source (the bus)
    config_id: str = ""  # S3: the queue configuration's Id on push.source (the bucket)

    def describe(self) -> str:
        """What is on the account, for the startup line and the log."""
        push = self.push
        if push.type == "s3":
            return f"s3 bucket {push.source}: queue configuration {self.config_id}"
        if push.type == "sns":
            return f"sns topic {push.source}: subscription {self.subscription or '(pending)'}"
        return f"events bus {push.source}: rule {self.rule}"


class RelayLedger:
    def __init__(self, path: Path | None) -> None:
        self.path = path  # None: nothing outlives samrun (the embedded endpoint)
        self.entries: dict[str, Wiring] = {}

    def load(self) -> dict[str, Wiring]:
        """relay name -> wiring; an unreadable file is named and set aside, never a crash."""
        if self.path is None:
            return {}
        try:
            raw = json.loads(self.path.read_text())
            self.entries = {name: _wiring(value) for name, value in raw.items()}
        except FileNotFoundError:
            self.entries = {}
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            logger.warning(
                "%s is unreadable (%s): relays a crashed run left are not cleaned up; look for "
                "samrun-relay-* queues on the endpoint",
                self.path,
                exc,
            )
            self.path.replace(self.path.with_suffix(".unreadable"))
            self.entries = {}
        return dict(self.entries)

    def put(self, wiring: Wiring) -> None:
        self.entries[wiring.relay] = wiring
        self._save()

    def forget(self, relay: str) -> None:
        if self.entries.pop(relay, None) is not None:
            self._save()

    def _save(self) -> None:
        if self.path is None:
            return
        body = {name: _plain(wiring) for name, wiring in self.entries.items()}
        write_json(self.path, body, indent=1, sort_keys=True, default=str)


def _plain(wiring: Wiring) -> dict[str, Any]:
    push = {name: getattr(wiring.push, name) for name in _PUSH_FIELDS}
    push["details"] = dict(wiring.push.details)
    return {
        "relay": wiring.relay,
        "push": push,
        "subscription": wiring.subscription,
        "rule": wiring.rule,
        "config_id": wiring.config_id,
    }


def _wiring(value: dict[str, Any]) -> Wiring:
    push = PushSource(**{k: v for k, v in value["push"].items() if k in _PUSH_FIELDS})
    return Wiring(
        relay=str(value["relay"]),
        push=push,
        subscription=str(value.get("subscription") or ""),
        rule=str(value.get("rule") or ""),
        config_id=str(value.get("config_id") or ""),
    )
