"""Benchmark: `load_graph` on a generated 200-function SAM template (target: under 1 s).

`samrun plan` sits on the startup path of `samrun up`, so this is the time a user waits for a
large app to be understood before anything starts. The import of samtranslator (about a second,
once per process) is measured separately (`first_load_ms`). Each function has a queue, an SQS
mapping and a schedule. A second, single measurement puts 200 routes on ONE implicit HTTP API:
samtranslator deep-copies the whole OpenAPI document per event, so that shape is quadratic in
the transform itself (`shared_api_ms`), reported so a regression or a fix shows.
"""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

FUNCTIONS = 200
RUNS = 7

_HEADER = """AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
    Handler: app.handler
    CodeUri: src
    Timeout: 10
    Environment:
      Variables:
        TABLE: !Ref Table
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      BillingMode: PAY_PER_REQUEST
"""

_FUNCTION = """  Queue{i}:
    Type: AWS::SQS::Queue
  Fn{i}:
    Type: AWS::Serverless::Function
    Properties:
      MemorySize: {memory}
      Environment:
        Variables:
          QUEUE: !Ref Queue{i}
          INDEX: {i}
      Events:{route}
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt Queue{i}.Arn
            BatchSize: 5
        Tick:
          Type: Schedule
          Properties:
            Schedule: rate({minutes} minutes)
"""

_ROUTE = """
        Get:
          Type: HttpApi
          Properties:
            Path: /items{i}/{{id}}
            Method: GET"""


def write_template(folder: Path, functions: int = FUNCTIONS, *, routes: bool = False) -> Path:
    """A SAM template with `functions` functions (queue, mapping, schedule; a route if asked)."""
    (folder / "src").mkdir(exist_ok=True)
    (folder / "src" / "app.py").write_text("def handler(event, context):\n    return 1\n")
    body = "".join(
        _FUNCTION.format(
            i=i, memory=128 + i, minutes=i + 1, route=_ROUTE.format(i=i) if routes else ""
        )
        for i in range(functions)
    )
    path = folder / "template.yaml"
    path.write_text(_HEADER + body)
    return path


def run() -> dict[str, object]:
    """Median and p90 of `load_graph` over RUNS runs, in milliseconds, plus the machine."""
    from samrun.template import load_graph

    with tempfile.TemporaryDirectory() as tmp:
        path = write_template(Path(tmp))
        started = time.perf_counter()
        graph = load_graph(path)  # first load: includes importing samtranslator
        first_ms = (time.perf_counter() - started) * 1000
        assert len(graph.functions) == FUNCTIONS and len(graph.schedules) == FUNCTIONS
        times = []
        for _ in range(RUNS):
            started = time.perf_counter()
            load_graph(path)
            times.append((time.perf_counter() - started) * 1000)
        routed = write_template(Path(tmp), routes=True)
        started = time.perf_counter()
        assert len(load_graph(routed).routes) == FUNCTIONS
        shared_api_ms = (time.perf_counter() - started) * 1000
    times.sort()
    p90 = times[min(len(times) - 1, round(0.9 * (len(times) - 1)))]
    return {
        "name": "plan_load_graph",
        "functions": FUNCTIONS,
        "runs": RUNS,
        "median_ms": round(statistics.median(times), 1),
        "p90_ms": round(p90, 1),
        "first_load_ms": round(first_ms, 1),
        "shared_api_ms": round(shared_api_ms, 1),
        "target_ms": 1000,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


if __name__ == "__main__":
    print(run())
