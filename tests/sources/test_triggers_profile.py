"""Push sources with `--aws-profile`: wired on "real AWS" additively, undone on stop, and what a
run killed with -9 left is undone (its relay drained first) at the next start.

"Real AWS" is a moto server of the test's own, reached through a profile whose `endpoint_url`
botocore reads from AWS_CONFIG_FILE, exactly as samrun reads a user's real profile. The bucket,
topic and bus carry the user's own notification, subscription and rule before samrun starts:
they must be there, unchanged, after it stops.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.aws.helpers import endpoint_client
from tests.conftest import SamrunProcess, complete_lines, shared_file, wait_until
from tests.sources.helpers import state

HANDLER = """\
import json, os

def handler(event, context):
    with open(os.environ["LOG_FILE"], "a") as f:
        f.write(json.dumps({"function": context.function_name, "event": event}) + "\\n")
"""
TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Uploads:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: uploads
  Alerts:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: alerts
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: worker
      Runtime: python3.11
      CodeUri: src/
      Handler: app.handler
      Environment:
        Variables:
          LOG_FILE: {log}
      Events:
        Upload:
          Type: S3
          Properties:
            Bucket: !Ref Uploads
            Events: s3:ObjectCreated:*
            Filter:
              S3Key:
                Rules:
                  - Name: prefix
                    Value: {prefix}
        Alert:
          Type: SNS
          Properties:
            Topic: !Ref Alerts
            FilterPolicy:
              level: {levels}
        Deploy:
          Type: EventBridgeRule
          Properties:
            Pattern:
              source: [app.deploys]
"""


@pytest.fixture
def profile(tmp_path: Path, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    config = tmp_path / "aws-config"
    config.write_text(
        "[profile realish]\n"
        "region = us-east-1\n"
        f"endpoint_url = {moto_endpoint}\n"
        "aws_access_key_id = testing\n"
        "aws_secret_access_key = testing\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    return "realish"


class Account:
    """boto3 on the moto server, and the user's own wiring made before samrun starts."""

    def __init__(self, endpoint: str) -> None:
        self.s3, self.sqs, self.sns, self.events = (
            endpoint_client(endpoint, s) for s in ("s3", "sqs", "sns", "events")
        )
        self.s3.create_bucket(Bucket="uploads")
        self.topic = self.sns.create_topic(Name="alerts")["TopicArn"]
        url = self.sqs.create_queue(QueueName="users-own")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        self.user_queue = arn["Attributes"]["QueueArn"]
        self.user_config = {
            "QueueConfigurations": [
                {"Id": "users-own", "QueueArn": self.user_queue, "Events": ["s3:ObjectRemoved:*"]}
            ],
            "TopicConfigurations": [
                {"Id": "users-topic", "TopicArn": self.topic, "Events": ["s3:ObjectRemoved:*"]}
            ],
        }  # (moto does not return an EventBridgeConfiguration: samrun keeps it, untested here)
        self.s3.put_bucket_notification_configuration(
            Bucket="uploads", NotificationConfiguration=self.user_config
        )
        self.sns.subscribe(TopicArn=self.topic, Protocol="sqs", Endpoint=self.user_queue)
        self.events.put_rule(Name="users-rule", EventPattern='{"source": ["app.users"]}')

    def notifications(self) -> dict[str, Any]:
        found = self.s3.get_bucket_notification_configuration(Bucket="uploads")
        found.pop("ResponseMetadata", None)
        return dict(found)

    def own_config_kept(self) -> bool:
        found = self.notifications()
        own = [c for c in found.get("QueueConfigurations", []) if c["Id"] == "users-own"]
        return (
            own == self.user_config["QueueConfigurations"]
            and found.get("TopicConfigurations") == self.user_config["TopicConfigurations"]
        )

    def samrun_configs(self) -> list[str]:
        return [c["Id"] for c in self.notifications().get("QueueConfigurations", [])][1:]

    def subscriptions(self) -> list[str]:
        found = self.sns.list_subscriptions_by_topic(TopicArn=self.topic)["Subscriptions"]
        return [s["Endpoint"].rsplit(":", 1)[-1] for s in found]

    def rules(self) -> list[str]:
        return [r["Name"] for r in self.events.list_rules()["Rules"]]

    def relays(self) -> list[str]:
        urls = self.sqs.list_queues(QueueNamePrefix="samrun-relay-").get("QueueUrls", [])
        return [u.rsplit("/", 1)[-1] for u in urls]


def events(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line)["event"] for line in complete_lines(log)]


def uploaded(log: Path, key: str) -> bool:
    return any(
        r.get("s3", {}).get("object", {}).get("key") == key
        for e in events(log)
        for r in e.get("Records", [])
    )


def alerted(log: Path, text: str) -> bool:
    return any(
        r.get("Sns", {}).get("Message") == text for e in events(log) for r in e.get("Records", [])
    )


def deployed(log: Path, n: int) -> bool:
    return any(e.get("source") == "app.deploys" and e["detail"].get("n") == n for e in events(log))


def test_push_sources_on_a_profile_are_additive_undone_and_cleaned_after_a_crash(
    tmp_path: Path, moto_endpoint: str, profile: str, samrun_up: Any
) -> None:
    account = Account(moto_endpoint)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(HANDLER)
    log = shared_file(tmp_path / "log.jsonl")
    template = tmp_path / "template.yaml"
    template.write_text(TEMPLATE.format(log=log, prefix="in/", levels="[high]"))

    first: SamrunProcess = samrun_up(template, "--aws-profile", profile)
    line = first.wait_for(r"wired on the real AWS account \(profile realish\)").string
    assert "s3 bucket uploads" in line and "sns topic" in line and "events bus default" in line
    assert account.own_config_kept()
    assert len(account.samrun_configs()) == 1 and len(account.relays()) == 3
    assert "users-own" in account.subscriptions() and len(account.subscriptions()) == 2

    account.s3.put_object(Bucket="uploads", Key="in/one.txt", Body=b"1")
    account.sns.publish(
        TopicArn=account.topic,
        Message="first",
        MessageAttributes={"level": {"DataType": "String", "StringValue": "high"}},
    )
    entry = {"Source": "app.deploys", "DetailType": "Deployed", "Detail": '{"n": 1}'}
    assert account.events.put_events(Entries=[entry])["FailedEntryCount"] == 0
    wait_until(lambda: uploaded(log, "in/one.txt") and alerted(log, "first") and deployed(log, 1))

    # killed: its wiring stays on the account, and what happens meanwhile waits in its relays
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL
    account.s3.put_object(Bucket="uploads", Key="in/while-down.txt", Body=b"2")
    entry["Detail"] = '{"n": 2}'
    assert account.events.put_events(Entries=[entry])["FailedEntryCount"] == 0
    old_relays = set(account.relays())

    # the S3 and SNS triggers change (new relays), the EventBridge rule does not (its relay
    # is used again): the old S3 and SNS wiring is undone, their relays drained, then deleted
    template.write_text(TEMPLATE.format(log=log, prefix="new/", levels="[high, low]"))
    second: SamrunProcess = samrun_up(template, "--aws-profile", profile)
    second.wait_for(r"wired on the real AWS account")
    second.wait_for(r"undone what a previous run left: s3 bucket uploads")
    second.wait_for(r"undone what a previous run left: sns topic")
    # (the S3 message was in flight, received by the killed run: seen again after the relay's
    # visibility timeout, the old relay is kept until then, never deleted with it inside)
    kept = second.wait_for(
        r"relay (samrun-relay-\w+) of trigger Uploads->worker#\w+ kept: it holds 1"
    )
    assert kept.group(1) in state(second)["kept_relays"]  # until it is drained
    wait_until(lambda: uploaded(log, "in/while-down.txt") and deployed(log, 2), timeout=60)
    wait_until(lambda: state(second)["kept_relays"] == [])
    wait_until(lambda: len(account.relays()) == 3 and len(old_relays & set(account.relays())) == 1)
    assert len(account.samrun_configs()) == 1 and len(account.subscriptions()) == 2

    account.s3.put_object(Bucket="uploads", Key="new/three.txt", Body=b"3")
    wait_until(lambda: uploaded(log, "new/three.txt"))
    assert second.stop() == 0

    # stopped: exactly the user's own wiring is left
    assert account.own_config_kept() and account.samrun_configs() == []
    assert account.subscriptions() == ["users-own"]
    assert account.rules() == ["users-rule"]
    assert account.relays() == []
    assert json.loads((tmp_path / ".samrun" / "relays.json").read_text()) == {}
