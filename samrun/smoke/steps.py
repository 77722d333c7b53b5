"""Run one check of a checks file against a running App, and judge what it expects.

Steps act as a user would: an invocation through the invoke path, an HTTP request to a front
door over loopback, a message to a trigger through the app's AWS endpoint with boto3. What
takes time to show (an invocation by a trigger, an item, an object) is polled until `within`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from jsonpath_ng.ext import parse as jsonpath  # type: ignore[attr-defined]

from samrun.app import App
from samrun.errors import SamrunError
from samrun.invoke.models import InvocationType, InvokeRequest
from samrun.invoke.telemetry import Event, Invoked
from samrun.smoke.checks import Check

POLL_S = 0.05
LOG_TAIL = 20


@dataclass(slots=True)
class Outcome:
    """What a check found: no problems is a pass."""

    problems: list[str] = field(default_factory=list)
    functions: set[str] = field(default_factory=set)  # whose log tail to show on failure
    log: list[str] = field(default_factory=list)  # a log to show as is (init failures)


class Witness:
    """What the app did during a check: invocations (from the telemetry hook) and log lines."""

    def __init__(self) -> None:
        self.invocations: list[Invoked] = []
        self.lines: list[tuple[str, str]] = []  # (function, line)

    def observe(self, event: Event) -> None:
        if isinstance(event, Invoked):
            self.invocations.append(event)

    def line(self, function: str, text: str) -> None:
        self.lines.append((function, text))

    def mark(self) -> tuple[int, int]:
        return len(self.invocations), len(self.lines)

    def tail(self, functions: set[str], since: int, count: int = LOG_TAIL) -> list[str]:
        lines = [f"{f} | {t}" for f, t in self.lines[since:] if f in functions]
        return lines[-count:]


class Runner:
    def __init__(self, app: App, witness: Witness) -> None:
        self.app = app
        self.witness = witness
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def run(self, check: Check, outcome: Outcome) -> None:
        since = len(self.witness.invocations)
        if check.kind == "invoke":
            response = await self._invoke(check, outcome)
        elif check.kind == "http":
            response = await self._http(check)
        else:
            await asyncio.to_thread(self._send, check.action)
            response = None
        errors = [i for i in self.witness.invocations[since:] if i.error_type]
        outcome.functions |= {i.function for i in self.witness.invocations[since:]}
        if response is not None:
            judge_response(check, response, outcome, errors)
        await self._wait_for(check, outcome, since)

    async def _invoke(self, check: Check, outcome: Outcome) -> Response:
        target = str(check.action["function"])
        kind = (
            InvocationType.EVENT if check.action.get("async") else InvocationType.REQUEST_RESPONSE
        )
        request = InvokeRequest(
            function=target,
            payload=check.event or b"{}",
            invocation_type=kind,
            tail_logs=True,
            source="smoke",
        )
        result = await self.app.invoker.invoke(request)
        function = self.app.graph.function(target.split(":", 1)[0])
        outcome.functions.add(function.name if function else target)
        return Response(
            status=202 if kind is InvocationType.EVENT else 200,
            body=result.payload,
            error_type=result.error_type,
        )

    async def _http(self, check: Check) -> Response:
        action = check.action
        base = self._door(str(action.get("door", "API")))
        body = action.get("body")
        data = body.encode() if isinstance(body, str) else None
        if body is not None and data is None:
            data = json.dumps(body).encode()
        if self._session is None:
            self._session = aiohttp.ClientSession()
        async with self._session.request(
            str(action.get("method", "GET")).upper(),
            base + str(action["path"]),
            headers=dict(action.get("headers") or {}),
            data=data,
            allow_redirects=False,
        ) as reply:
            return Response(status=reply.status, body=await reply.read())

    def _door(self, name: str) -> str:
        doors = self.app.front_doors
        for door in doors.doors:
            if door.name == name:
                return doors.url(door)
        known = ", ".join(d.name for d in doors.doors) or "none"
        raise SamrunError(f"no front door {name!r} (the app has: {known})")

    def _send(self, action: Mapping[str, Any]) -> None:
        """One message to a trigger, through the app's AWS endpoint (blocking: in a thread)."""
        aws = self.app.aws
        if "queue" in action:
            sqs = aws.client("sqs")
            url = sqs.get_queue_url(QueueName=self._name(action["queue"]))["QueueUrl"]
            attributes = {
                k: {"DataType": "String", "StringValue": v}
                for k, v in (action.get("attributes") or {}).items()
            }
            sqs.send_message(
                QueueUrl=url, MessageBody=text(action["message"]), MessageAttributes=attributes
            )
        elif "bucket" in action:
            aws.client("s3").put_object(
                Bucket=self._name(action["bucket"]),
                Key=action["key"],
                Body=text(action.get("body", "")).encode(),
            )
        elif "topic" in action:
            arn = self._arn(action["topic"])
            extra = {"Subject": action["subject"]} if "subject" in action else {}
            aws.client("sns").publish(TopicArn=arn, Message=text(action["message"]), **extra)
        else:
            entry = {
                "EventBusName": self._name(action["event_bus"]),
                "Source": action["source"],
                "DetailType": action["detail_type"],
                "Detail": json.dumps(action.get("detail", {})),
            }
            reply = aws.client("events").put_events(Entries=[entry])
            if reply.get("FailedEntryCount"):
                raise SamrunError(f"PutEvents failed: {reply['Entries']}")

    def _resource(self, name: str) -> Any:
        return next((r for r in self.app.graph.resources if name in (r.logical_id, r.name)), None)

    def _name(self, name: str) -> str:
        """A template resource's physical name, from its logical id or name."""
        found = self._resource(name)
        return str(found.name) if found is not None else name

    def _arn(self, name: str) -> str:
        found = self._resource(name)
        return str(found.arn) if found is not None else name

    async def _wait_for(self, check: Check, outcome: Outcome, since: int) -> None:
        """The expectations that take time, polled until they hold (the caller's deadline)."""
        expect = check.expect
        waits: list[tuple[str, Callable[[], str | None]]] = []
        invoked = expect.get("invoked")
        if invoked:
            function = self.app.graph.function(str(invoked["function"]))
            name = function.name if function else str(invoked["function"])
            times = int(invoked.get("times", 1))
            outcome.functions.add(name)

            def count() -> str | None:
                seen = sum(1 for i in self.witness.invocations[since:] if i.function == name)
                return None if seen == times else f"{name} invoked {seen} times, expected {times}"

            waits.append(("invoked", count))
        if expect.get("item"):
            waits.append(("item", lambda: self._item(expect["item"])))
        if expect.get("object"):
            waits.append(("object", lambda: self._object(expect["object"])))
        for _, probe in waits:
            while True:
                problem = await asyncio.to_thread(probe)
                if problem is None:
                    break
                outcome.problems[:] = [problem]  # the latest word, should the deadline come
                await asyncio.sleep(POLL_S)
            outcome.problems.clear()

    def _item(self, spec: Mapping[str, Any]) -> str | None:
        table = self._name(spec["table"])
        reply = self.app.aws.client("dynamodb").get_item(TableName=table, Key=spec["key"])
        return None if "Item" in reply else f"no item {json.dumps(spec['key'])} in table {table}"

    def _object(self, spec: Mapping[str, Any]) -> str | None:
        bucket = self._name(spec["bucket"])
        s3 = self.app.aws.client("s3")
        try:
            s3.head_object(Bucket=bucket, Key=spec["key"])
        except s3.exceptions.ClientError:
            return f"no object {spec['key']} in bucket {bucket}"
        return None


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes
    error_type: str | None = None  # an invocation's function error


def judge_response(check: Check, r: Response, outcome: Outcome, errors: list[Invoked]) -> None:
    expect = check.expect
    problems = outcome.problems
    error_type = r.error_type or (errors[0].error_type if errors else None)
    wanted_error = expect.get("function_error", False if check.kind == "invoke" else None)
    if "status" in expect and r.status != expect["status"]:
        problems.append(f"status {r.status}, expected {expect['status']}")
    elif check.kind == "http" and "status" not in expect and r.status >= 500:
        problems.append(f"status {r.status}")
    if wanted_error is False and error_type:
        problems.append(f"function error {error_type}: {r.body[:300].decode(errors='replace')}")
    elif wanted_error is True and not error_type:
        problems.append("no function error, expected one")
    elif isinstance(wanted_error, str) and error_type != wanted_error:
        problems.append(f"function error {error_type or 'none'}, expected {wanted_error}")
    body = r.body.decode(errors="replace")
    if "body" in expect and body != expect["body"]:
        problems.append(f"body {body[:200]!r}, expected {expect['body'][:200]!r}")
    if "body_contains" in expect and expect["body_contains"] not in body:
        problems.append(f"body {body[:200]!r} does not contain {expect['body_contains']!r}")
    for path, wanted in (expect.get("json") or {}).items():
        problems.extend(json_problem(body, path, wanted))
    if problems and errors and wanted_error is None:  # the function's own word on it
        problems.extend(f"function error of {e.function}: {e.error_type}" for e in errors[:3])


def json_problem(body: str, path: str, wanted: Any) -> list[str]:
    try:
        document = json.loads(body)
    except ValueError:
        return [f"{path}: the body is not JSON: {body[:200]!r}"]
    if isinstance(document, dict) and isinstance(document.get("body"), str):
        with contextlib.suppress(ValueError):  # a proxy integration's reply: into its body too
            document = {**document, "body": json.loads(document["body"])}
    try:
        found = [m.value for m in jsonpath(path).find(document)]
    except Exception as exc:  # jsonpath_ng's parse errors have no common base
        return [f"{path}: not a JSON path: {exc}"]
    if not found:
        return [f"{path}: nothing there, expected {json.dumps(wanted)}"]
    if found[0] != wanted:
        return [f"{path} is {json.dumps(found[0])}, expected {json.dumps(wanted)}"]
    return []


def text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
