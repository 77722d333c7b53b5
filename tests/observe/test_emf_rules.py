"""The embedded metric format's extraction rules as pure functions (the end-to-end test, with
Powertools and the endpoint, is test_emf.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from samrun.invoke.telemetry import Telemetry
from samrun.model import Alarm
from samrun.observe import emf
from samrun.observe.alarms import ALARM, Alarms
from samrun.observe.cost import load_prices
from samrun.observe.metrics import MetricStore

NOW = 1_700_000_000.0
STAMP = int(NOW * 1000)


def document(**changes: Any) -> dict[str, Any]:
    """The specification's example, with `changes` on the root (None removes a member)."""
    found: dict[str, Any] = {
        "_aws": {
            "Timestamp": STAMP,
            "CloudWatchMetrics": [
                {
                    "Namespace": "lambda-function-metrics",
                    "Dimensions": [["functionVersion"]],
                    "Metrics": [{"Name": "time", "Unit": "Milliseconds"}],
                }
            ],
        },
        "functionVersion": "$LATEST",
        "time": 100,
        "requestId": "989ffbf8-9ace-4817-a57c-e4dd734019ee",
    }
    for key, value in changes.items():
        if value is None:
            found.pop(key, None)
        else:
            found[key] = value
    return found


def directive(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["_aws"]["CloudWatchMetrics"][0]  # type: ignore[no-any-return]


def extract(doc: dict[str, Any] | str) -> list[emf.Datum]:
    return emf.extract(doc if isinstance(doc, str) else json.dumps(doc), now=NOW)


def test_the_specification_example() -> None:
    assert extract(document()) == [
        emf.Datum(
            "lambda-function-metrics",
            "time",
            (("functionVersion", "$LATEST"),),
            (100.0,),
            "Milliseconds",
            STAMP,
            60,
        )
    ]


def test_one_datum_per_dimension_set_and_metric_arrays_of_values() -> None:
    doc = document(Route="/orders", Errors=[1, 0, 1])
    directive(doc)["Dimensions"] = [["functionVersion"], ["functionVersion", "Route"], []]
    directive(doc)["Metrics"].append({"Name": "Errors", "StorageResolution": 1})
    data = extract(doc)
    assert [(d.name, d.dimensions) for d in data] == [
        ("time", (("functionVersion", "$LATEST"),)),
        ("Errors", (("functionVersion", "$LATEST"),)),
        ("time", (("functionVersion", "$LATEST"), ("Route", "/orders"))),
        ("Errors", (("functionVersion", "$LATEST"), ("Route", "/orders"))),
        ("time", ()),
        ("Errors", ()),
    ]
    errors = data[1]
    assert (errors.values, errors.unit, errors.storage_resolution) == ((1.0, 0.0, 1.0), "None", 1)


def test_lines_that_are_not_emf_give_nothing() -> None:
    for line in (
        "plain text",
        "START RequestId: 1 Version: $LATEST",
        '{"level": "INFO", "message": "no metadata"}',
        "[1, 2]",
        "{not json",
        "mentions _aws in passing",
        # LogFormat JSON: the document is the message, not the root (CloudWatch skips it)
        json.dumps({"level": "INFO", "message": json.dumps(document())}),
    ):
        assert extract(line) == [], line


def test_lambdas_prefix_before_the_document_is_allowed() -> None:
    text = json.dumps(document())
    python = f"[INFO]\t2024-01-01T00:00:00.000Z\t989ffbf8\t{text}"
    node = f"2024-01-01T00:00:00.000Z\t989ffbf8\tINFO\t{text}"
    assert extract(python) == extract(node) == extract(text) != []
    assert extract(f"my own prefix {text}") == []  # not Lambda's: not one JSON object


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda d: d.update(time="100"), "metric time"),
        (lambda d: d.update(time=list(range(101))), "metric time"),
        (lambda d: d.update(time=[]), "metric time"),
        (lambda d: d.update(time=True), "metric time"),
        (lambda d: d.pop("time"), "metric time"),
        (lambda d: d.pop("functionVersion"), "dimension functionVersion"),
        (lambda d: d.update(functionVersion=1), "dimension functionVersion"),
        (lambda d: d.update(functionVersion="x" * 1025), "dimension functionVersion"),
        (lambda d: d.update(_aws=[]), "_aws is not an object"),
        (lambda d: d["_aws"].pop("Timestamp"), "Timestamp"),
        (lambda d: d["_aws"].update(Timestamp="now"), "Timestamp"),
        (lambda d: d["_aws"].update(Timestamp=STAMP - 15 * 86400_000), "two weeks"),
        (lambda d: d["_aws"].update(Timestamp=STAMP + 3 * 3600_000), "two hours"),
        (lambda d: d["_aws"].pop("CloudWatchMetrics"), "CloudWatchMetrics"),
        (lambda d: directive(d).pop("Namespace"), "Namespace"),
        (lambda d: directive(d).update(Namespace="AWS/Lambda"), "reserved"),
        (lambda d: directive(d).update(Dimensions=[]), "Dimensions"),
        (lambda d: directive(d).update(Dimensions=[["a"] * 31]), "at most 30"),
        (lambda d: directive(d).update(Metrics=[{"Name": "time"}] * 101), "at most 100"),
        (lambda d: directive(d)["Metrics"][0].update(Unit="Parsecs"), "Unit"),
        (lambda d: directive(d)["Metrics"][0].update(Unit=["Count"]), "Unit"),
        (lambda d: directive(d)["Metrics"][0].update(StorageResolution=5), "StorageResolution"),
        (lambda d: directive(d)["Metrics"][0].pop("Name"), "Name"),
    ],
)
def test_invalid_documents_give_no_metric(change: Any, reason: str) -> None:
    doc = document()
    change(doc)
    with pytest.raises(emf.InvalidEmf, match=reason):
        extract(doc)


def test_limits_are_inclusive_and_bad_json_with_aws_is_invalid() -> None:
    doc = document(time=list(range(100)), **{f"d{n}": "v" for n in range(30)})
    directive(doc)["Dimensions"] = [[f"d{n}" for n in range(30)]]
    directive(doc)["Metrics"] = [{"Name": "time"}] * 100
    data = extract(doc)
    assert len(data) == 100 and len(data[0].values) == 100 and len(data[0].dimensions) == 30
    text = json.dumps(document())
    for line in (
        '{"_aws": {',
        text.replace('"time": 100', '"time": NaN'),  # not JSON
        text.replace('"time": 100', '"time": 1e999'),  # JSON, but no value CloudWatch takes
    ):
        with pytest.raises(emf.InvalidEmf):
            extract(line)


def test_an_alarm_on_a_custom_namespace_evaluates_emf_metrics() -> None:
    store = MetricStore(load_prices(), period_s=60)
    Telemetry().subscribe(store.observe)
    alarm = Alarm(
        logical_id="A",
        name="A",
        namespace="lambda-function-metrics",
        metric="time",
        dimensions={"functionVersion": "$LATEST"},
        statistic="Maximum",
        threshold=50,
    )
    alarms = Alarms([alarm], store, 60.0)
    for datum in extract(document()):
        store.record(datum.namespace, datum.name, datum.dimensions, datum.values, datum.unit)
    store.roll()
    alarms.evaluate()
    assert alarms.states["A"].state == ALARM
