"""Push sources and schedules against a real `samrun up` and its embedded AWS endpoint: a
put_object, a publish and a put_events trigger their functions with AWS-shaped events, filters
drop what they should, and a rate(1 minute) schedule fires at the scaled time."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.aws.helpers import aws_client, queue_url
from tests.conftest import FIXTURES, SamrunProcess, start_up, wait_until

TEMPLATE = FIXTURES / "templates" / "triggers.yaml"
EVENTS = FIXTURES / "events"


class Seen:
    """The events the functions recorded in the `seen` queue, drained in the background."""

    def __init__(self, server: SamrunProcess) -> None:
        self.sqs = aws_client(server, "sqs")
        self.url = queue_url(self.sqs, "seen")
        self.events: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while not self._stop.is_set():
            reply = self.sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            )
            for message in reply.get("Messages", []):
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
                self.events.append(json.loads(message["Body"]))

    def of(self, function: str) -> list[Any]:
        return [e["event"] for e in list(self.events) if e["function"] == function]

    def wait(self, function: str, where: Callable[[Any], bool], timeout: float = 30) -> Any:
        return wait_until(lambda: [e for e in self.of(function) if where(e)], timeout)[0]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SamrunProcess]:
    state = tmp_path_factory.mktemp("triggers")
    process = start_up(TEMPLATE, state / ".samrun", "--time-scale", "60")
    yield process
    assert process.stop() == 0


@pytest.fixture(scope="module")
def seen(server: SamrunProcess) -> Iterator[Seen]:
    inbox = Seen(server)
    yield inbox
    inbox.stop()


def keys(value: Any) -> Any:
    """The key structure of a JSON value (values dropped), to compare shapes."""
    if isinstance(value, dict):
        return {k: keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [keys(v) for v in value[:1]]
    return None


def golden(name: str) -> Any:
    return json.loads((EVENTS / name).read_text())


def state(server: SamrunProcess) -> dict[str, Any]:
    with urllib.request.urlopen(f"{server.lambda_endpoint}/_samrun/state", timeout=10) as r:
        return json.loads(r.read())


def test_up_lists_triggers_and_next_firings(server: SamrunProcess) -> None:
    text = "\n".join(server.lines)
    assert "on-upload  s3 Uploads" in text
    assert "running" in text
    assert server.wait_for(
        r"schedule TickerNightly\s+cron\(30 2 29 2 \? \*\) Europe/Paris\s+next 2028-02-29"
    )
    assert server.wait_for(r"schedule TickerPaused\s+rate\(1 minute\)\s+disabled")


def test_put_object_triggers_with_the_s3_event(server: SamrunProcess, seen: Seen) -> None:
    s3 = aws_client(server, "s3")
    s3.put_object(Bucket="uploads", Key="docs/readme.png", Body=b"x")  # wrong prefix
    s3.put_object(Bucket="uploads", Key="images/cat.jpg", Body=b"x")  # wrong suffix
    s3.put_object(Bucket="uploads", Key="images/cat one.png", Body=b"12345")
    event = seen.wait("on-upload", lambda e: True)
    assert keys(event) == keys(golden("s3-put.json"))
    record = event["Records"][0]
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["bucket"]["name"] == "uploads"
    assert record["s3"]["object"]["key"] == "images/cat+one.png"  # URL-encoded, as S3 sends
    assert record["s3"]["object"]["size"] == 5
    s3.put_object(Bucket="uploads", Key="images/dog.png", Body=b"x")
    seen.wait("on-upload", lambda e: e["Records"][0]["s3"]["object"]["key"] == "images/dog.png")
    keys_seen = [e["Records"][0]["s3"]["object"]["key"] for e in seen.of("on-upload")]
    assert keys_seen == ["images/cat+one.png", "images/dog.png"]
    s3.delete_object(Bucket="uploads", Key="docs/readme.png")  # any key: no filter
    removed = seen.wait("on-upload", lambda e: e["Records"][0]["eventName"].startswith("ObjectR"))
    assert removed["Records"][0]["eventName"] == "ObjectRemoved:Delete"
    assert removed["Records"][0]["s3"]["object"]["key"] == "docs/readme.png"


def test_publish_triggers_with_the_sns_event_and_the_filter_policy(
    server: SamrunProcess, seen: Seen
) -> None:
    sns = aws_client(server, "sns")
    topic = "arn:aws:sns:us-east-1:123456789012:alerts"

    def publish(message: str, severity: str, price: str) -> None:
        sns.publish(
            TopicArn=topic,
            Message=message,
            Subject="Alert",
            MessageAttributes={
                "severity": {"DataType": "String", "StringValue": severity},
                "price": {"DataType": "Number", "StringValue": price},
            },
        )

    publish("low", "low", "500")
    publish("cheap", "critical", "99.5")
    publish("fire", "critical", "100")
    event = seen.wait("on-alert", lambda e: True)
    shape = keys(golden("sns.json"))
    attributes = {"severity": {"Type": None, "Value": None}, "price": {"Type": None, "Value": None}}
    shape["Records"][0]["Sns"]["MessageAttributes"] = attributes
    assert keys(event) == shape
    record = event["Records"][0]
    assert record["EventSource"] == "aws:sns"
    assert record["Sns"]["Message"] == "fire"
    assert record["Sns"]["Subject"] == "Alert"
    assert record["Sns"]["TopicArn"] == topic
    assert record["Sns"]["MessageAttributes"]["severity"] == {"Type": "String", "Value": "critical"}
    publish("again", "critical", "1000")
    seen.wait("on-alert", lambda e: e["Records"][0]["Sns"]["Message"] == "again")
    assert [e["Records"][0]["Sns"]["Message"] for e in seen.of("on-alert")] == ["fire", "again"]


def test_put_events_triggers_with_the_pattern_and_input_transformer(
    server: SamrunProcess, seen: Seen
) -> None:
    events = aws_client(server, "events")

    def put(order: str, amount: float, country: str, source: str = "shop.orders") -> None:
        detail = {"id": order, "amount": amount, "country": country}
        reply = events.put_events(
            Entries=[
                {
                    "EventBusName": "app-bus",
                    "Source": source,
                    "DetailType": "Order Placed",
                    "Detail": json.dumps(detail),
                }
            ]
        )
        assert reply["FailedEntryCount"] == 0

    put("o-1", 50, "FR")  # anything-but FR
    put("o-2", 5, "DE")  # amount not > 10
    put("o-3", 50, "DE", source="shop.refunds")  # another source
    put("o-4", 12.5, "DE")
    event = seen.wait("on-order", lambda e: True)
    assert event == {"order": "o-4", "amount": 12.5, "rule": "OnOrderOrders"}
    put("o-5", 11, "IT")
    seen.wait("on-order", lambda e: e["order"] == "o-5")
    assert [e["order"] for e in seen.of("on-order")] == ["o-4", "o-5"]


def test_rate_schedule_fires_at_the_scaled_time(server: SamrunProcess, seen: Seen) -> None:
    # --time-scale 60: rate(1 minute) fires every second of real time.
    event = seen.wait("ticker", lambda e: e.get("detail-type") == "Scheduled Event")
    assert keys(event) == keys(golden("eventbridge-scheduled.json"))
    assert event["source"] == "aws.events"
    assert event["resources"][0].startswith("arn:aws:events:us-east-1:123456789012:rule/")
    first = len(seen.of("ticker"))
    wait_until(lambda: len(seen.of("ticker")) >= first + 2, timeout=30)
    current = state(server)
    schedules = {s["name"]: s for s in current["schedules"]}
    assert schedules["TickerEveryMinute"]["fired"] >= 3
    assert schedules["TickerEveryMinute"]["next_firing"]
    assert schedules["TickerPaused"]["fired"] == 0
    assert schedules["TickerPaused"]["next_firing"] is None
    assert schedules["TickerNightly"]["timezone"] == "Europe/Paris"
    triggers = {t["name"]: t for t in current["triggers"]}
    assert triggers["Uploads"]["status"] == "running"
    assert {t["type"] for t in current["triggers"]} == {"s3", "sns", "eventbridge"}


def test_state_counts_what_each_trigger_invoked(server: SamrunProcess, seen: Seen) -> None:
    wait_until(lambda: seen.of("on-order"), timeout=60)
    triggers = {t["name"]: t for t in state(server)["triggers"]}
    assert triggers["OnOrderOrders"]["invoked"] >= 1
    assert triggers["OnOrderOrders"]["filtered"] >= 1  # the events the pattern dropped


def test_trigger_url_fires_in_the_running_up(server: SamrunProcess, seen: Seen) -> None:
    def trigger(name: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "samrun", "trigger", name, "--url", server.lambda_endpoint]
        return subprocess.run(command, capture_output=True, text=True, timeout=60)

    done = trigger("Nightly")
    assert done.returncode == 0, done.stderr
    assert "queued for ticker" in done.stderr
    event = seen.wait("ticker", lambda e: e.get("job") == "nightly")
    assert event["at"].endswith("Z")
    nightly = {s["name"]: s for s in state(server)["schedules"]}["TickerNightly"]
    assert nightly["fired"] == 1
    done = trigger("OnOrderOrders")
    assert done.returncode == 0, done.stderr
    seen.wait("on-order", lambda e: e.get("order") == "")  # a sample event, transformed
    done = trigger("Weekly")
    assert done.returncode == 2 and "no schedule or trigger named 'Weekly'" in done.stderr


def test_a_loop_through_sns_is_stopped_after_16_invocations(
    server: SamrunProcess, seen: Seen
) -> None:
    mark = len(server.lines)
    aws_client(server, "sns").publish(
        TopicArn="arn:aws:sns:us-east-1:123456789012:loop", Message="start"
    )
    server.wait_for("recursive loop detected", timeout=60, start=mark)
    wait_until(lambda: len(seen.of("looper")) >= 16, timeout=30)
    messages = [e["Records"][0]["Sns"]["Message"] for e in seen.of("looper")]
    assert messages == ["start"] + ["again"] * 15
    stops = [line for line in server.lines[mark:] if "recursive loop detected" in line]
    assert len(stops) == 1 and "looper" in stops[0]


def test_a_message_no_service_sent_is_dropped_not_retried(server: SamrunProcess) -> None:
    sqs = aws_client(server, "sqs")
    relays = sqs.list_queues(QueueNamePrefix="samrun-relay-")["QueueUrls"]
    assert len(relays) == 6  # three S3 configurations, two SNS subscriptions, one rule
    mark = len(server.lines)
    for url in relays:
        sqs.send_message(QueueUrl=url, MessageBody="not json")

    def left() -> int:
        counts = [
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            for url in relays
        ]
        return sum(
            int(c["ApproximateNumberOfMessages"]) + int(c["ApproximateNumberOfMessagesNotVisible"])
            for c in counts
        )

    wait_until(lambda: left() == 0, timeout=30)
    drops = [line for line in server.lines[mark:] if "dropped a message it cannot read" in line]
    assert len(drops) == len(relays)


def test_a_loop_through_s3_is_stopped_after_16_invocations(
    server: SamrunProcess, seen: Seen
) -> None:
    mark = len(server.lines)
    aws_client(server, "s3").put_object(Bucket="chain", Key="first", Body=b"")
    server.wait_for("recursive loop detected: copier", timeout=60, start=mark)
    wait_until(lambda: len(seen.of("copier")) >= 16, timeout=30)
    keys_seen = [e["Records"][0]["s3"]["object"]["key"] for e in seen.of("copier")]
    assert len(keys_seen) == 16 and keys_seen[0] == "first"
