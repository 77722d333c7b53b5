"""Metrics functions log in CloudWatch's embedded metric format, read back as users read them:
boto3's CloudWatch client against the embedded endpoint (list_metrics, get_metric_data), a
Prometheus parser on /_samrun/metrics, the alarm's transition in samrun's output. Powertools'
`Metrics` is installed into the function by samrun's build step from its requirements.txt."""

from __future__ import annotations

import json
import shutil
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.aws.helpers import endpoint_client
from tests.conftest import FIXTURES, SamrunProcess, invoke_http, start_up, wait_until

TIME_SCALE = "60"  # a metrics period of 1 s: the alarm's 60 s period


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("emf")
    shutil.copytree(FIXTURES / "functions" / "emf", folder / "code")
    shutil.copy(FIXTURES / "templates" / "emf.yaml", folder / "template.yaml")
    process = start_up(
        folder / "template.yaml",
        folder / ".samrun",
        "--time-scale",
        TIME_SCALE,
        ready_timeout=300,  # the build installs aws-lambda-powertools from PyPI first
    )
    yield process
    assert process.stop() == 0
    assert not any("Traceback" in line for line in process.lines)


@pytest.fixture(scope="module")
def cloudwatch(server: SamrunProcess):
    url = server.wait_for(r"AWS endpoint on (http://\S+)").group(1)
    return endpoint_client(url, "cloudwatch")


def get(server: SamrunProcess, path: str) -> bytes:
    with urllib.request.urlopen(server.lambda_endpoint + path, timeout=30) as reply:
        return reply.read()


def prometheus(server: SamrunProcess) -> dict[tuple[str, tuple], float]:
    samples = {}
    for family in text_string_to_metric_families(get(server, "/_samrun/metrics").decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def listed(cloudwatch, namespace: str) -> list[tuple[str, tuple]]:
    """The metrics of `namespace`, each once (moto lists a metric of two or more dimensions
    once per datum: its are_dimensions_same compares every dimension with every other)."""
    metrics = cloudwatch.list_metrics(Namespace=namespace)["Metrics"]
    return sorted(
        {
            (m["MetricName"], tuple((d["Name"], d["Value"]) for d in m["Dimensions"]))
            for m in metrics
        }
    )


def statistic(cloudwatch, namespace: str, metric: str, dims: dict[str, str], stat: str) -> float:
    """GetMetricData, which matches dimensions exactly."""
    now = datetime.now(UTC)
    query = {
        "Metric": {
            "Namespace": namespace,
            "MetricName": metric,
            "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
        },
        "Period": 7200,
        "Stat": stat,
    }
    reply = cloudwatch.get_metric_data(
        MetricDataQueries=[{"Id": "q", "MetricStat": query}],
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(hours=1),
    )
    return sum(reply["MetricDataResults"][0]["Values"])


def lines_of(server: SamrunProcess, function: str, start: int) -> list[str]:
    prefix = f"{function} | "
    return [line[len(prefix) :] for line in server.lines[start:] if line.startswith(prefix)]


def test_powertools_metrics_reach_the_endpoint_prometheus_and_an_alarm(
    server: SamrunProcess, cloudwatch
) -> None:
    start = len(server.lines)
    assert invoke_http(server.lambda_endpoint, "Powered", {"orders": 3})[0] == 200
    wait_until(lambda: listed(cloudwatch, "SamrunShop"), timeout=30)
    assert listed(cloudwatch, "SamrunShop") == [("OrdersPlaced", (("service", "orders"),))]
    assert statistic(cloudwatch, "SamrunShop", "OrdersPlaced", {"service": "orders"}, "Sum") == 3
    blobs = [x for x in lines_of(server, "Powered", start) if '"_aws"' in x]
    assert len(blobs) == 1, blobs  # Powertools printed one EMF document, kept as a log line
    assert json.loads(blobs[0])["OrdersPlaced"] == [3.0]
    labels = (("service", "orders"),)
    samples = prometheus(server)
    assert samples[("SamrunShop_OrdersPlaced_sum", labels)] == 3
    assert samples[("SamrunShop_OrdersPlaced_count", labels)] == 1
    server.wait_for(r"alarm orders-high: \w+ -> ALARM", start=start)


def test_two_dimension_sets_and_an_array_of_values(server: SamrunProcess, cloudwatch) -> None:
    assert invoke_http(server.lambda_endpoint, "Handmade")[0] == 200
    region = (("Region", "eu-west-1"),)
    both = (("Region", "eu-west-1"), ("Route", "/orders"))
    wait_until(lambda: len(listed(cloudwatch, "SamrunHand")) == 2, timeout=30)
    assert listed(cloudwatch, "SamrunHand") == [("Latency", region), ("Latency", both)]
    for dims in (dict(region), dict(both)):
        assert statistic(cloudwatch, "SamrunHand", "Latency", dims, "SampleCount") == 3
        assert statistic(cloudwatch, "SamrunHand", "Latency", dims, "Sum") == 54
        assert statistic(cloudwatch, "SamrunHand", "Latency", dims, "Maximum") == 30
    samples = prometheus(server)
    assert samples[("SamrunHand_Latency_count", (("Region", "eu-west-1"), ("Route", "")))] == 3
    assert samples[("SamrunHand_Latency_sum", both)] == 54


def test_an_invalid_document_stays_a_log_line(server: SamrunProcess, cloudwatch) -> None:
    start = len(server.lines)
    assert invoke_http(server.lambda_endpoint, "Broken")[0] == 200
    server.wait_for(r"Broken: a log line in embedded metric format gives no metric: metric Nope")
    wait_until(lambda: "after the broken document" in lines_of(server, "Broken", start))
    lines = lines_of(server, "Broken", start)
    assert any(json.loads(x).get("Nope") == "twelve" for x in lines if x.startswith("{"))
    state = json.loads(get(server, "/_samrun/state"))
    assert state["metrics"]["emf"]["invalid"] == 1
    assert listed(cloudwatch, "SamrunBroken") == []
    assert not any(name.startswith("SamrunBroken") for name, _ in prometheus(server))
