"""Item 7: when the embedded moto server dies, samrun notices, logs it, starts it again on the
same URL with the template's resources created again, and says what state was lost."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tests.conftest import alive, invoke_http, start_up, wait_until

TEMPLATE = """Transform: AWS::Serverless-2016-10-31
Resources:
  Jobs:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: jobs
  Send:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.send
      CodeUri: src/
      Timeout: 30
      Environment:
        Variables:
          QUEUE_URL: !Ref Jobs
"""
CODE = """import os

import boto3


def send(event, context):
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=os.environ["QUEUE_URL"], MessageBody="hello")
    attributes = sqs.get_queue_attributes(
        QueueUrl=os.environ["QUEUE_URL"], AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])
"""


def test_dead_moto_is_restarted_with_the_template_resources(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(CODE)
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    server = start_up(tmp_path / "template.yaml", tmp_path / ".samrun")
    try:
        found = server.wait_for(r"AWS endpoint on (\S+) \(embedded moto, pid (\d+)\)")
        url, pid = found.group(1), int(found.group(2))
        assert invoke_http(server.lambda_endpoint, "Send")[2] == 1
        assert invoke_http(server.lambda_endpoint, "Send")[2] == 2

        os.kill(pid, signal.SIGKILL)
        server.wait_for(rf"embedded moto server \(pid {pid}\) died \(signal 9\); restarting")
        restarted = server.wait_for(r"embedded moto restarted on (\S+) \(pid (\d+)\).*lost: ")
        assert restarted.group(1) == url  # the URL functions were given still works
        assert "every message" in restarted.string
        wait_until(lambda: not alive(pid))
        # the queue is there again, empty: the two messages were lost, as the log said
        assert invoke_http(server.lambda_endpoint, "Send")[2] == 1
    finally:
        assert server.stop() == 0
