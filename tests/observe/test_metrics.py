"""Metrics, alarms, cost and logs of a running `samrun up`, read back as users read them: boto3's
CloudWatch and CloudWatch Logs clients against the embedded endpoint, a Prometheus text parser
on /_samrun/metrics, /_samrun/state."""

from __future__ import annotations

import json
import math
import re
import shutil
import threading
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.aws.helpers import endpoint_client
from tests.conftest import FIXTURES, SamrunProcess, invoke_http, start_up, wait_until

TIME_SCALE = "150"  # a metrics period of 0.4 s; Canary10Percent5Minutes: 2 s of canary
PRICES = {"request": 0.0000002, "arm64": 0.0000133334, "x86_64": 0.0000166667}


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("observe")
    shutil.copytree(FIXTURES / "functions" / "observe", folder / "code")
    shutil.copy(FIXTURES / "templates" / "observe.yaml", folder / "template.yaml")
    return folder


@pytest.fixture(scope="module")
def server(app_dir: Path):
    process = start_up(app_dir / "template.yaml", app_dir / ".samrun", "--time-scale", TIME_SCALE)
    yield process
    assert process.stop() == 0


def aws_client(server: SamrunProcess, service: str):
    url = server.wait_for(r"AWS endpoint on (http://\S+)").group(1)
    return endpoint_client(url, service)


def get(server: SamrunProcess, path: str) -> bytes:
    with urllib.request.urlopen(server.lambda_endpoint + path, timeout=30) as reply:
        return reply.read()


def state(server: SamrunProcess) -> dict:
    return json.loads(get(server, "/_samrun/state"))


def prometheus(server: SamrunProcess) -> dict[tuple[str, tuple], float]:
    samples = {}
    for family in text_string_to_metric_families(get(server, "/_samrun/metrics").decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def cloudwatch_sum(cloudwatch, metric: str, **dims: str) -> float:
    now = datetime.now(UTC)
    reply = cloudwatch.get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName=metric,
        Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(hours=1),
        Period=7200,
        Statistics=["Sum"],
    )
    return sum(point["Sum"] for point in reply["Datapoints"])


def cloudwatch_data_sum(cloudwatch, metric: str, **dims: str) -> float:
    """GetMetricData, which (unlike moto's GetMetricStatistics) matches dimensions exactly."""
    now = datetime.now(UTC)
    reply = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "q",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/Lambda",
                        "MetricName": metric,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                    },
                    "Period": 7200,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(hours=1),
    )
    return sum(reply["MetricDataResults"][0]["Values"])


def wait_for_sum(cloudwatch, metric: str, dims: dict[str, str], count: int) -> None:
    seen: list[float] = []

    def reached() -> bool:
        seen.append(cloudwatch_sum(cloudwatch, metric, **dims))
        return seen[-1] == count

    try:
        wait_until(reached)
    except AssertionError:
        raise AssertionError(f"{metric} {dims}: {seen[-1]}, expected {count}") from None


def test_a_known_mix_reads_back_exactly(server: SamrunProcess) -> None:
    endpoint = server.lambda_endpoint
    statuses = [invoke_http(endpoint, "Ok")[0] for _ in range(5)]
    statuses += [invoke_http(endpoint, "Failing")[0] for _ in range(3)]
    statuses += [invoke_http(endpoint, "Blocked")[0] for _ in range(4)]
    statuses += [invoke_http(endpoint, "Aliased", qualifier="live")[0] for _ in range(2)]
    assert statuses == [200] * 8 + [429] * 4 + [200] * 2
    cloudwatch = aws_client(server, "cloudwatch")
    expected = {
        ("Invocations", ("FunctionName", "Ok")): 5,
        ("Errors", ("FunctionName", "Ok")): 0,
        ("Invocations", ("FunctionName", "Failing")): 3,
        ("Errors", ("FunctionName", "Failing")): 3,
        ("Throttles", ("FunctionName", "Blocked")): 4,
    }
    for (metric, (name, value)), count in expected.items():
        wait_for_sum(cloudwatch, metric, {name: value}, count)
    assert cloudwatch_sum(cloudwatch, "Invocations", FunctionName="Blocked") == 0
    aliased = {"FunctionName": "Aliased", "Resource": "Aliased:live"}
    wait_until(lambda: cloudwatch_data_sum(cloudwatch, "Invocations", **aliased) == 2)
    for dims in ({"FunctionName": "Aliased"}, {**aliased, "ExecutedVersion": "1"}):
        assert cloudwatch_data_sum(cloudwatch, "Invocations", **dims) == 2, dims
    samples = prometheus(server)

    def labels(function: str, version: str = "$LATEST", resource: str = "") -> tuple:
        return tuple(
            sorted(
                {
                    "function_name": function,
                    "resource": resource,
                    "executed_version": version,
                }.items()
            )
        )

    assert samples[("lambda_invocations_total", labels("Ok"))] == 5
    assert samples[("lambda_errors_total", labels("Ok"))] == 0
    assert samples[("lambda_invocations_total", labels("Failing"))] == 3
    assert samples[("lambda_errors_total", labels("Failing"))] == 3
    assert samples[("lambda_invocations_total", labels("Aliased", "1", "live"))] == 2
    throttles = (("function_name", "Blocked"), ("resource", ""))
    assert samples[("lambda_throttles_total", throttles)] == 4
    assert not any(k[0] == "lambda_invocations_total" and "Blocked" in str(k[1]) for k in samples)


def test_async_events_received_dropped_and_failed_deliveries(server: SamrunProcess) -> None:
    for n in range(2):
        status, _, _ = invoke_http(
            server.lambda_endpoint, "Dropper", {"n": n}, headers={"X-Amz-Invocation-Type": "Event"}
        )
        assert status == 202
    signal = (("function_name", "Dropper"), ("resource", ""))

    def counted() -> dict:
        samples = prometheus(server)
        found = {
            name: samples.get((name, signal), 0)
            for name in (
                "lambda_async_events_received_total",
                "lambda_async_events_dropped_total",
                "lambda_dead_letter_errors_total",
                "lambda_destination_delivery_failures_total",
                "lambda_async_event_age_milliseconds_count",
            )
        }
        return found if all(v == 2 for v in found.values()) else {}

    wait_until(counted, timeout=30)
    cloudwatch = aws_client(server, "cloudwatch")
    for metric in ("AsyncEventsReceived", "AsyncEventsDropped", "DeadLetterErrors"):
        wait_for_sum(cloudwatch, metric, {"FunctionName": "Dropper"}, 2)
    wait_for_sum(cloudwatch, "Errors", {"FunctionName": "Dropper"}, 2)


def cloudwatch_data_max(cloudwatch, metric: str, **dims: str) -> float:
    now = datetime.now(UTC)
    stat = {
        "Metric": {
            "Namespace": "AWS/Lambda",
            "MetricName": metric,
            "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
        },
        "Period": 7200,
        "Stat": "Maximum",
    }
    reply = cloudwatch.get_metric_data(
        MetricDataQueries=[{"Id": "q", "MetricStat": stat}],
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(hours=1),
    )
    return max(reply["MetricDataResults"][0]["Values"], default=-1.0)


def test_provisioned_concurrency_utilization_and_cost(server: SamrunProcess) -> None:
    assert invoke_http(server.lambda_endpoint, "Warm", qualifier="live")[0] == 200
    cloudwatch = aws_client(server, "cloudwatch")
    dims = {"FunctionName": "Warm", "Resource": "Warm:live"}
    wait_until(
        lambda: cloudwatch_data_max(cloudwatch, "ProvisionedConcurrencyUtilization", **dims) == 1.0
    )
    cost = wait_until(lambda: state(server)["cost"]["functions"]["Warm"].get("provisioned"))
    assert cost["live"] > 0  # provisioned concurrency is charged while it is configured


def test_cost_of_n_invocations_matches_the_formula(server: SamrunProcess) -> None:
    start = len(server.lines)
    for _ in range(4):
        assert invoke_http(server.lambda_endpoint, "Priced")[0] == 200
    reports = wait_until(
        lambda: (
            [line for line in server.lines[start:] if line.startswith("Priced | REPORT")][3:]
            and [line for line in server.lines[start:] if line.startswith("Priced | REPORT")]
        )
    )
    billed = [int(re.search(r"Billed Duration: (\d+) ms", line).group(1)) for line in reports]
    assert len(billed) == 4
    # Lambda's formula: requests, plus billed GB-seconds at the arm64 price (512 MB)
    expected = 4 * PRICES["request"] + sum(b / 1000 * 512 / 1024 * PRICES["arm64"] for b in billed)
    cost = state(server)["cost"]
    assert cost["prices"]["source"].startswith("https://aws.amazon.com/lambda/pricing")
    priced = cost["functions"]["Priced"]
    assert priced["invocations"] == 4
    assert math.isclose(priced["usd"], expected, rel_tol=1e-9), (priced, expected)
    assert math.isclose(priced["versions"]["$LATEST"], expected, rel_tol=1e-9)
    samples = prometheus(server)
    labels = (("executed_version", "$LATEST"), ("function_name", "Priced"), ("resource", ""))
    assert math.isclose(samples[("lambda_cost_usd_total", labels)], expected, rel_tol=1e-9)


def test_function_logs_reach_cloudwatch_logs(server: SamrunProcess) -> None:
    assert invoke_http(server.lambda_endpoint, "Chatty", {"n": 1})[0] == 200
    logs = aws_client(server, "logs")

    def found() -> list[dict]:
        try:
            events = logs.filter_log_events(logGroupName="/aws/lambda/Chatty")["events"]
        except logs.exceptions.ResourceNotFoundException:
            return []
        return events if any("REPORT RequestId" in e["message"] for e in events) else []

    events = wait_until(found)
    messages = [e["message"] for e in events]
    assert "plain line from chatty" in messages
    assert any(m.startswith("START RequestId:") for m in messages)
    stream = events[0]["logStreamName"]
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", stream), stream


def lines_of(server: SamrunProcess, function: str, start: int) -> list[str]:
    prefix = f"{function} | "
    return [line[len(prefix) :] for line in server.lines[start:] if line.startswith(prefix)]


def test_logging_config_json_format_and_levels(server: SamrunProcess) -> None:
    start = len(server.lines)
    assert invoke_http(server.lambda_endpoint, "Structured", {"n": 1})[0] == 200
    assert invoke_http(server.lambda_endpoint, "Terse", {"n": 2})[0] == 200
    assert invoke_http(server.lambda_endpoint, "Chatty", {"n": 3})[0] == 200
    wait_until(lambda: any('"platform.report"' in x for x in lines_of(server, "Structured", start)))
    structured = lines_of(server, "Structured", start)
    records = [json.loads(x) for x in structured if x.startswith("{")]
    kinds = [r.get("type") for r in records if "type" in r]
    assert kinds == ["platform.start", "platform.runtimeDone", "platform.report"], structured
    report = next(r for r in records if r.get("type") == "platform.report")["record"]
    assert report["status"] == "success" and report["metrics"]["memorySizeMB"] == 128
    assert report["metrics"]["billedDurationMs"] == math.ceil(report["metrics"]["durationMs"])
    levels = {r["message"]: r["level"] for r in records if "level" in r}
    assert levels == {"info record from chatty": "INFO", "debug record from chatty": "DEBUG"}
    assert "plain line from chatty" in structured  # print() is not reformatted
    wait_until(lambda: any("plain line" in x for x in lines_of(server, "Terse", start)))
    terse = lines_of(server, "Terse", start)
    assert terse == ["plain line from chatty"], terse  # WARN: no INFO records, no platform events
    wait_until(lambda: any(x.startswith("REPORT") for x in lines_of(server, "Chatty", start)))
    chatty = lines_of(server, "Chatty", start)
    assert chatty[0].startswith("START RequestId: ") and chatty[-1].startswith("REPORT RequestId: ")
    assert not any("record from chatty" in x for x in chatty)  # Text: the root logger is WARNING
    logs = aws_client(server, "logs")

    def terse_group() -> list[dict]:
        try:
            return logs.filter_log_events(logGroupName="/custom/terse")["events"]
        except logs.exceptions.ResourceNotFoundException:
            return []

    assert [e["message"] for e in wait_until(terse_group)] == ["plain line from chatty"]


def rewrite(app_dir: Path, fail: bool) -> None:
    source = app_dir / "code" / "app.py"
    source.write_text(re.sub(r"^FAIL = \w+", f"FAIL = {fail}", source.read_text(), flags=re.M))


def deploy(server: SamrunProcess, function: str) -> dict:
    request = urllib.request.Request(
        f"{server.lambda_endpoint}/_samrun/functions/{function}/deploy", method="POST", data=b""
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def deploy_under_traffic(server: SamrunProcess, function: str) -> dict:
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set():
            invoke_http(server.lambda_endpoint, function, qualifier="live")

    worker = threading.Thread(target=traffic)
    worker.start()
    try:
        return deploy(server, function)
    finally:
        stop.set()
        worker.join(30)


def test_an_alarm_on_errors_rolls_a_canary_back(server: SamrunProcess, app_dir: Path) -> None:
    before = state(server)["alarms"]["canary-errors"]
    assert before["state"] in ("OK", "INSUFFICIENT_DATA")
    rewrite(app_dir, fail=True)
    try:
        start = len(server.lines)
        result = deploy_under_traffic(server, "Canary")
    finally:
        rewrite(app_dir, fail=False)
    assert result["Status"] == "RolledBack"
    server.wait_for(
        r"deployment d-\w+ of Canary:live: alarm canary-errors is in ALARM", start=start
    )
    server.wait_for(r"alarm canary-errors: \w+ -> ALARM", start=start)


def test_errors_the_alarm_does_not_watch_roll_nothing_back(
    server: SamrunProcess, app_dir: Path
) -> None:
    rewrite(app_dir, fail=True)  # Quiet's new version fails, but its alarm watches Ok's errors
    try:
        result = deploy_under_traffic(server, "Quiet")
    finally:
        rewrite(app_dir, fail=False)
    assert result["Status"] == "Succeeded"
    assert state(server)["alarms"]["OkErrors"]["state"] != "ALARM"
