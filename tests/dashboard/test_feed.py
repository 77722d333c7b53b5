"""The dashboard's pure parts: what the feed keeps and sends, masking, the graph's layers."""

from __future__ import annotations

from samrun.dashboard.feed import MAX_LOG_BYTES, RECORDS, Feed, clip, error_of, log_tail, percentile
from samrun.dashboard.graph import graph_document, layer_of
from samrun.dashboard.masking import MASK, looks_secret, mask_environment
from samrun.dashboard.traces import sdk_calls


def test_since_sends_the_newest_rows_and_counts_the_rest() -> None:
    feed = Feed()
    for seq in range(1, RECORDS + 101):
        feed.seq = seq
        feed.rows.append({"seq": seq})
    assert len(feed.rows) == RECORDS
    rows, skipped = feed.since(RECORDS + 90, limit=25)
    assert [r["seq"] for r in rows] == list(range(RECORDS + 100, RECORDS + 90, -1))
    assert skipped == 0
    rows, skipped = feed.since(0, limit=25)
    assert rows[0]["seq"] == RECORDS + 100 and len(rows) == 25
    assert skipped == RECORDS + 75
    assert feed.since(feed.seq) == ([], 0)


def test_credentials_and_no_echo_values_are_masked() -> None:
    assert looks_secret("DB_PASSWORD") and looks_secret("stripeApiKey")
    assert looks_secret("AWS_SECRET_ACCESS_KEY") and not looks_secret("TABLE_NAME")
    shown = mask_environment(
        {"TABLE_NAME": "t", "DB_PASSWORD": "x", "URL": "db://user:s3cret@host"}, ("s3cret",)
    )
    assert shown == {"TABLE_NAME": "t", "DB_PASSWORD": MASK, "URL": f"db://user:{MASK}@host"}


def test_error_documents_and_percentiles() -> None:
    assert error_of(b'{"errorType": "E", "errorMessage": "m"}')["errorType"] == "E"
    assert error_of(b"not json")["errorMessage"] == "not json"
    assert percentile([], 0.5) is None
    assert percentile([float(n) for n in range(1, 101)], 0.99) == 99.0


def test_the_graph_layers_sources_left_of_functions_and_ends_loops() -> None:
    plan = {
        "resources": [
            {"logical_id": "Q", "type": "sqs", "name": "Q", "arn": "arn:aws:sqs:r:1:Q"},
        ],
        "functions": [
            {"name": "F", "logical_id": "F", "arn": "arn:aws:lambda:r:1:function:F"},
        ],
        "event_source_mappings": [
            {"function": "F", "source": "arn:aws:sqs:r:1:Q", "source_type": "sqs"}
        ],
        "schedules": [{"function": "F", "name": None, "expression": "rate(1 day)"}],
    }
    graph = graph_document(plan)
    layers = {n["id"]: n["layer"] for n in graph["nodes"]}
    assert layers == {"res:Q": 0, "fn:F": 1, "schedule:rate(1 day)": 0}
    loop = [{"from": "a", "to": "b"}, {"from": "b", "to": "a"}]
    assert max(layer_of({"a": 0, "b": 0}, loop).values()) <= 8


def test_aws_calls_in_traces_become_edges_to_the_apps_resources() -> None:
    trace = [
        {"id": "s1", "name": "F", "origin": "AWS::Lambda::Function"},
        {
            "id": "x",
            "parent_id": "s1",
            "name": "F",
            "subsegments": [
                {
                    "name": "SQS",
                    "namespace": "aws",
                    "aws": {"operation": "SendMessage", "queue_url": "http://h:1/123/Q"},
                },
                {"name": "DynamoDB", "namespace": "aws", "aws": {"table_name": "Elsewhere"}},
            ],
        },
    ]
    calls = sdk_calls([trace])
    assert calls == {("F", "Q"), ("F", "Elsewhere")}
    plan = {
        "resources": [{"logical_id": "Q", "type": "sqs", "name": "Q", "arn": "arn:aws:sqs:r:1:Q"}],
        "functions": [{"name": "F", "logical_id": "F", "arn": "arn:aws:lambda:r:1:function:F"}],
    }
    edges = graph_document(plan, calls)["edges"]
    assert edges == [{"from": "fn:F", "to": "res:Q", "kind": "sdk"}]  # not outside the app


def test_what_is_kept_of_an_invocation_is_cut_to_size() -> None:
    assert clip(b"x" * 10, 100, limit=4) == "xxxx\n... (96 more bytes)"
    assert clip(b"short") == "short"
    lines = [f"line {n} " + "y" * 1000 for n in range(500)]
    kept = log_tail(lines)
    assert kept[0] == "... (earlier lines not kept)" and kept[-1] == lines[-1]
    assert sum(map(len, kept)) <= MAX_LOG_BYTES + 100
