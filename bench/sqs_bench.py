"""Benchmark: an SQS queue polled by `samrun up` against its embedded moto endpoint.

- throughput: messages per second from the first `send_message_batch` to the last message
  deleted by the poller (batch size 10, a no-op function), while 4 client threads send
  MESSAGES messages as fast as they can (target >= 500/s on 2 cores);
- backlog: the same messages sent first with the mapping disabled (ESM API), then enabled:
  processed per second, the poller's own pace without the senders sharing the cores;
- latency: `send_message` to the start of the invocation (the function's first statement),
  one message at a time on an idle queue whose poller is in its long poll, p50 and p90
  (target p50 <= 50 ms).

The client, samrun, its moto server and the function share the two cores: the figures include
their cost.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3

from bench.invoke_bench import READY, percentile

MESSAGES = 3000
AWS = re.compile(r"AWS endpoint on (http://\S+)")
SENDERS = 4
LATENCY_SAMPLES = 40

FUNCTIONS = """\
import json, os, time

def noop(event, context):
    return None

def stamp(event, context):
    began = time.time()
    with open(os.environ["STAMPS"], "a") as f:
        for record in event["Records"]:
            f.write(json.dumps({"body": record["body"], "start": began}) + "\\n")
"""

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.11
    CodeUri: src/
    MemorySize: 1769
Resources:
  Bulk:
    Type: AWS::SQS::Queue
  Pings:
    Type: AWS::SQS::Queue
  Noop:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.noop
      Events:
        Bulk:
          Type: SQS
          Properties:
            Queue: !GetAtt Bulk.Arn
            BatchSize: 10
  Stamp:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.stamp
      Environment:
        Variables:
          STAMPS: {stamps}
      Events:
        Pings:
          Type: SQS
          Properties:
            Queue: !GetAtt Pings.Arn
            BatchSize: 10
"""


def pollers(endpoint: str) -> dict[str, dict[str, Any]]:
    with urllib.request.urlopen(endpoint + "/_samrun/state", timeout=10) as response:
        return {p["function"]: p for p in json.loads(response.read())["pollers"]}


def start(folder: Path) -> tuple[subprocess.Popen[str], str, str]:
    """`samrun up` in `folder`: (process, Lambda API URL, AWS endpoint URL)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "samrun", "up", "--port", "0", "--invoke-port", "0"],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    aws = ""
    for line in process.stdout:
        found = AWS.search(line)
        aws = found.group(1) if found else aws
        ready = READY.search(line)
        if ready:  # keep reading its log, or samrun blocks on a full pipe
            threading.Thread(target=process.stdout.read, daemon=True).start()
            return process, ready.group(1), aws
    process.kill()
    raise RuntimeError("samrun up did not become ready")


def throughput(sqs: Any, url: str, endpoint: str) -> dict[str, Any]:
    todo = iter(range(0, MESSAGES, 10))
    lock = threading.Lock()

    def send() -> None:
        while True:
            with lock:
                start = next(todo, None)
            if start is None:
                return
            entries = [{"Id": str(i), "MessageBody": f"m{start + i}"} for i in range(10)]
            sqs.send_message_batch(QueueUrl=url, Entries=entries)

    began = time.perf_counter()
    threads = [threading.Thread(target=send) for _ in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent_s = time.perf_counter() - began
    while pollers(endpoint)["Noop"]["deleted"] < MESSAGES:
        time.sleep(0.01)
    elapsed = time.perf_counter() - began
    stats = pollers(endpoint)["Noop"]
    return {
        "messages": MESSAGES,
        "sent_per_s": round(MESSAGES / sent_s),
        "processed_per_s": round(MESSAGES / elapsed),
        "batches": stats["batches"],
        "mean_batch": round(MESSAGES / max(1, stats["batches"]), 1),
    }


def drain(sqs: Any, url: str, endpoint: str) -> dict[str, Any]:
    """A backlog of MESSAGES sent while the mapping is disabled, then enabled: processed/s."""
    lam = boto3.client(
        "lambda",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    [mapping] = lam.list_event_source_mappings(FunctionName="Noop")["EventSourceMappings"]
    lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    before = pollers(endpoint)["Noop"]["deleted"]
    for start in range(0, MESSAGES, 10):
        entries = [{"Id": str(i), "MessageBody": f"d{start + i}"} for i in range(10)]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
    began = time.perf_counter()
    lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)
    while pollers(endpoint)["Noop"]["deleted"] < before + MESSAGES:
        time.sleep(0.01)
    return {
        "messages": MESSAGES,
        "processed_per_s": round(MESSAGES / (time.perf_counter() - began)),
    }


def latency(sqs: Any, url: str, stamps: Path) -> dict[str, Any]:
    samples = []
    for n in range(LATENCY_SAMPLES + 2):
        time.sleep(0.3)  # the poller is back in its long poll
        sent = time.time()
        sqs.send_message(QueueUrl=url, MessageBody=f"ping-{n}")
        deadline = time.monotonic() + 10
        while True:
            lines = stamps.read_text().splitlines() if stamps.exists() else []
            found = [json.loads(line) for line in lines if f'"ping-{n}"' in line]
            if found:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"ping-{n} was not processed")
            time.sleep(0.005)
        if n >= 2:  # the first ones include a cold start
            samples.append((found[0]["start"] - sent) * 1000)
    return {
        "samples": len(samples),
        "p50_ms": round(percentile(samples, 0.5), 1),
        "p90_ms": round(percentile(samples, 0.9), 1),
        "max_ms": round(max(samples), 1),
    }


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "src").mkdir()
        (folder / "src" / "app.py").write_text(FUNCTIONS)
        stamps = folder / "stamps.jsonl"
        (folder / "template.yaml").write_text(TEMPLATE.format(stamps=stamps))
        process, endpoint, aws = start(folder)
        try:
            sqs = boto3.client(
                "sqs",
                endpoint_url=aws,
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
            pings = sqs.get_queue_url(QueueName="Pings")["QueueUrl"]
            result = {"latency": latency(sqs, pings, stamps)}
            bulk = sqs.get_queue_url(QueueName="Bulk")["QueueUrl"]
            result["throughput"] = throughput(sqs, bulk, endpoint)
            result["backlog"] = drain(sqs, bulk, endpoint)
            return result
        finally:
            process.terminate()
            process.wait(30)


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
