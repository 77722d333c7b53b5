"""`samrun events generate` and `samrun trigger`, run as users run them: subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES
from tests.sources.test_triggers_e2e import golden, keys

TEMPLATE = FIXTURES / "templates" / "triggers.yaml"


def samrun(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "samrun", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def generate(*args: str) -> Any:
    done = samrun("events", "generate", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_generate_matches_the_documented_shapes() -> None:
    assert keys(generate("s3", "put")) == keys(golden("s3-put.json"))
    sns = generate("sns", "notification")
    assert set(sns["Records"][0]["Sns"]) == set(golden("sns.json")["Records"][0]["Sns"])
    for source in ("cloudwatch", "eventbridge"):
        scheduled = generate(source, "scheduled-event")
        assert keys(scheduled) == keys(golden("eventbridge-scheduled.json"))
    rest = generate("apigateway", "aws-proxy")
    expected = golden("apigw-rest-v1.json")
    assert set(rest) == set(expected)
    assert set(rest["requestContext"]) == set(expected["requestContext"])
    http = generate("apigateway", "http-api-proxy", "--body", '{"a": 1}')
    assert set(golden("apigw-http-v2.json")["requestContext"]) >= set(http["requestContext"])
    assert http["version"] == "2.0" and http["body"] == '{"a": 1}'
    alb = generate("alb", "request", "--path", "/health")
    assert alb["path"] == "/health" and "elb" in alb["requestContext"]


@pytest.mark.parametrize(
    ("args", "check"),
    [
        (
            ("s3", "put", "--bucket", "photos", "--key", "raw/my cat.jpg", "--region", "eu-west-1"),
            lambda e: (
                e["Records"][0]["s3"]["bucket"]["arn"] == "arn:aws:s3:::photos"
                and e["Records"][0]["s3"]["object"]["key"] == "raw/my+cat.jpg"
                and e["Records"][0]["awsRegion"] == "eu-west-1"
            ),
        ),
        (
            ("s3", "delete", "--key", "k"),
            lambda e: (
                e["Records"][0]["eventName"] == "ObjectRemoved:Delete"
                and "size" not in e["Records"][0]["s3"]["object"]
            ),
        ),
        (
            ("sqs", "receive-message", "--body", "hi", "--queue", "jobs"),
            lambda e: (
                e["Records"][0]["body"] == "hi"
                and e["Records"][0]["eventSourceARN"].endswith(":jobs")
            ),
        ),
        (
            ("sns", "notification", "--topic", "alerts", "--body", "m", "--subject", "s"),
            lambda e: (
                e["Records"][0]["Sns"]["TopicArn"].endswith(":alerts")
                and e["Records"][0]["Sns"]["Subject"] == "s"
            ),
        ),
        (
            ("kinesis", "get-records", "--body", "hello"),
            lambda e: e["Records"][0]["kinesis"]["data"] == "aGVsbG8=",
        ),
        (
            ("dynamodb", "update", "--table", "Orders"),
            lambda e: ":table/Orders/stream/" in e["Records"][0]["eventSourceARN"],
        ),
        (
            ("eventbridge", "event", "--source", "shop", "--body", '{"n": 1}'),
            lambda e: e["source"] == "shop" and e["detail"] == {"n": 1},
        ),
    ],
)
def test_generate_takes_the_fields_users_change(args: tuple[str, ...], check: Any) -> None:
    assert check(generate(*args))


def test_generate_names_what_it_knows() -> None:
    done = samrun("events", "generate", "s4", "put")
    assert done.returncode == 2
    assert "unknown source 's4'" in done.stderr and "s3" in done.stderr
    done = samrun("events", "generate", "s3", "upload")
    assert done.returncode == 2 and "known: put, delete" in done.stderr


def test_trigger_fires_schedules_and_sends_sample_events(tmp_path: Path) -> None:
    state = str(tmp_path / ".samrun")
    done = samrun("trigger", str(TEMPLATE), "Nightly", "--state-dir", state)
    assert done.returncode == 0, done.stderr
    event = json.loads(done.stdout)["event"]
    assert event["job"] == "nightly" and event["at"].endswith("Z")  # Scheduler's context filled
    done = samrun("trigger", "EveryMinute", "--state-dir", state, cwd=TEMPLATE.parent)
    assert done.returncode != 0  # no template.yaml there: a clear error, not a traceback
    assert "Traceback" not in done.stderr
    done = samrun("trigger", str(TEMPLATE), "EveryMinute", "--state-dir", state)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["event"]["detail-type"] == "Scheduled Event"
    done = samrun("trigger", str(TEMPLATE), "Uploads", "--state-dir", state)
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)["event"]["Records"][0]
    assert record["s3"]["bucket"]["name"] == "uploads"
    assert record["s3"]["object"]["key"] == "images/sample.png"  # passes the filter


def test_trigger_unknown_name_lists_the_known_ones(tmp_path: Path) -> None:
    done = samrun("trigger", str(TEMPLATE), "Weekly", "--state-dir", str(tmp_path / ".s"))
    assert done.returncode == 2
    assert "no schedule or trigger named 'Weekly'" in done.stderr
    assert "TickerNightly" in done.stderr and "Traceback" not in done.stderr
