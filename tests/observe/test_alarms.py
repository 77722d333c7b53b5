"""Alarm evaluation as CloudWatch does it, on samrun's own metric periods (pure functions beside
the end-to-end tests in test_metrics.py), and the IteratorAge hook the stream pollers call."""

from __future__ import annotations

from samrun.invoke.telemetry import Invoked, Telemetry
from samrun.model import Alarm
from samrun.observe.alarms import ALARM, INSUFFICIENT, OK, Alarms
from samrun.observe.cost import load_prices
from samrun.observe.metrics import MetricStore


def invoked(function: str, error: bool = False, duration: float = 5.0) -> Invoked:
    return Invoked(
        function,
        "$LATEST",
        None,
        duration,
        "E" if error else None,
        128,
        "x86_64",
        1,
        1,
        None,
        False,
    )


def setup(*alarms: Alarm) -> tuple[Telemetry, MetricStore, Alarms]:
    store = MetricStore(load_prices(), period_s=60)
    telemetry = Telemetry()
    telemetry.subscribe(store.observe)
    return telemetry, store, Alarms(alarms, store, 60.0)


def errors_alarm(**changes: object) -> Alarm:
    fields: dict[str, object] = {
        "logical_id": "A",
        "name": "A",
        "namespace": "AWS/Lambda",
        "metric": "Errors",
        "dimensions": {"FunctionName": "F"},
        "statistic": "Sum",
        "evaluation_periods": 3,
        "datapoints_to_alarm": 2,
        "threshold": 0,
        "comparison": "GreaterThanThreshold",
    }
    fields.update(changes)
    return Alarm(**fields)  # type: ignore[arg-type]


def period(telemetry: Telemetry, store: MetricStore, alarms: Alarms, *events: Invoked) -> str:
    for event in events:
        telemetry.emit(event)
    store.roll()
    alarms.evaluate()
    return alarms.states["A"].state


def test_m_of_n_datapoints_to_alarm() -> None:
    telemetry, store, alarms = setup(errors_alarm())
    assert period(telemetry, store, alarms, invoked("F"), invoked("F", True)) == OK  # 1 of 3
    assert period(telemetry, store, alarms, invoked("F")) == OK
    assert period(telemetry, store, alarms, invoked("F", True)) == ALARM  # 2 of the last 3
    assert period(telemetry, store, alarms, invoked("F", True)) == ALARM  # 2 of 3 still
    assert period(telemetry, store, alarms, invoked("F")) == ALARM  # the last 3: err, err, ok
    assert period(telemetry, store, alarms, invoked("F")) == OK  # err, ok, ok


def test_missing_data_treatments() -> None:
    for treat, expected in (
        ("missing", INSUFFICIENT),
        ("notBreaching", OK),
        ("breaching", ALARM),
        ("ignore", INSUFFICIENT),  # keeps the state it had: the initial one
    ):
        telemetry, store, alarms = setup(errors_alarm(treat_missing_data=treat))
        assert period(telemetry, store, alarms, invoked("Other", True)) == expected, treat


def test_statistics_periods_and_other_functions() -> None:
    slow = errors_alarm(
        metric="Duration",
        statistic="Average",
        period_s=120,  # two metric periods per window
        evaluation_periods=1,
        datapoints_to_alarm=None,
        threshold=100,
    )
    telemetry, store, alarms = setup(slow)
    assert period(telemetry, store, alarms, invoked("F", duration=300)) == ALARM
    # the window is the last two periods: (300 + 10 + 10) / 3 is still over 100
    assert period(telemetry, store, alarms, invoked("F", duration=10), invoked("F", duration=10))
    assert alarms.states["A"].state == ALARM
    assert period(telemetry, store, alarms, invoked("F", duration=10)) == OK
    assert period(telemetry, store, alarms, invoked("G", duration=999)) == OK  # not F's metric


def test_alarms_samrun_cannot_evaluate_are_named() -> None:
    _, _, alarms = setup(errors_alarm(namespace="AWS/SQS"))
    alarms.evaluate()
    state = alarms.state()["A"]
    assert state["state"] == INSUFFICIENT and "AWS/Lambda metrics only" in str(state["reason"])


def test_iterator_age_hook_for_stream_pollers() -> None:
    telemetry, store, _ = setup()
    telemetry.iterator_age("Consumer", 1500.0)
    telemetry.iterator_age("Consumer", 500.0)
    points = store.roll().datapoints
    stat = points[("IteratorAge", (("FunctionName", "Consumer"),))]
    assert (stat.count, stat.maximum, stat.statistic("Average")) == (2, 1500.0, 1000.0)
