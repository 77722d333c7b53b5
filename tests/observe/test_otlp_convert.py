"""X-Ray segment documents -> OpenTelemetry spans (samrun.observe.otlp.Converter): ids, parents,
kinds, status and the FaaS/cloud attributes, on the documents of one traced chain, as Lambda's
segments (samrun.invoke.tracing) and an X-Ray SDK in the function write them."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from samrun.observe.otlp import Converter, trace_id_of

TRACE = "1-5759e988-bd862e3fe1be46a994272793"
ARN_A = "arn:aws:lambda:eu-west-1:111122223333:function:A"
ARN_B = "arn:aws:lambda:eu-west-1:111122223333:function:B"
T0 = 1_700_000_000.0


def chain() -> list[dict[str, Any]]:
    """API stage -> A (cold) -> the SDK's Lambda.Invoke subsegment -> B (which fails), and a
    throttled call; in the order samrun publishes them (innermost first, the stage last)."""
    return [
        {  # the SDK in A: an independent subsegment, as aws-xray-sdk sends it to the daemon
            "type": "subsegment",
            "id": "5555555555555555",
            "trace_id": TRACE,
            "parent_id": "2222222222222222",
            "name": "Lambda",
            "namespace": "aws",
            "start_time": T0 + 0.2,
            "end_time": T0 + 0.6,
            "aws": {"operation": "Invoke", "region": "eu-west-1", "function_name": "B"},
            "http": {"response": {"status": 200}},
            "annotations": {"order": "o-1", "A": "shadowed"},
        },
        {  # B's Lambda segments, under A's SDK subsegment
            "id": "6666666666666666",
            "trace_id": TRACE,
            "parent_id": "5555555555555555",
            "name": "B",
            "origin": "AWS::Lambda",
            "start_time": T0 + 0.25,
            "end_time": T0 + 0.55,
            "aws": {"function_arn": ARN_B, "region": "eu-west-1", "request_id": "req-b"},
            "http": {"response": {"status": 200}},
        },
        {
            "id": "7777777777777777",
            "trace_id": TRACE,
            "parent_id": "6666666666666666",
            "name": "B",
            "origin": "AWS::Lambda::Function",
            "start_time": T0 + 0.3,
            "end_time": T0 + 0.5,
            "error": True,
            "cause": {"exceptions": [{"type": "KeyError", "message": "'id'"}]},
            "aws": {"function_arn": ARN_B, "account_id": "111122223333", "version": "$LATEST"},
            "subsegments": [
                {
                    "id": "7777777777777778",
                    "name": "Invocation",
                    "start_time": T0 + 0.3,
                    "end_time": T0 + 0.5,
                    "error": True,
                    "cause": {"exceptions": [{"type": "KeyError", "message": "'id'"}]},
                },
                {
                    "id": "7777777777777779",
                    "name": "Overhead",
                    "start_time": T0 + 0.5,
                    "end_time": T0 + 0.5,
                },
            ],
        },
        {  # A's Lambda segments, under the API stage
            "id": "1111111111111111",
            "trace_id": TRACE,
            "parent_id": "0000000000000001",
            "name": "A",
            "origin": "AWS::Lambda",
            "start_time": T0 + 0.01,
            "end_time": T0 + 0.8,
            "aws": {"function_arn": ARN_A, "region": "eu-west-1", "request_id": "req-a"},
            "http": {"response": {"status": 200}},
        },
        {
            "id": "2222222222222222",
            "trace_id": TRACE,
            "parent_id": "1111111111111111",
            "name": "A",
            "origin": "AWS::Lambda::Function",
            "start_time": T0 + 0.02,
            "end_time": T0 + 0.8,
            "aws": {"function_arn": ARN_A, "version": "3", "cold_start": True},
            "subsegments": [
                {
                    "id": "3333333333333333",
                    "name": "Initialization",
                    "start_time": T0 + 0.02,
                    "end_time": T0 + 0.1,
                },
                {
                    "id": "4444444444444444",
                    "name": "Invocation",
                    "start_time": T0 + 0.1,
                    "end_time": T0 + 0.8,
                },
            ],
        },
        {  # the API stage segment ends last
            "id": "0000000000000001",
            "trace_id": TRACE,
            "name": "OrdersApi/Prod",
            "origin": "AWS::ApiGateway::Stage",
            "start_time": T0,
            "end_time": T0 + 0.81,
            "http": {
                "request": {
                    "method": "POST",
                    "url": "http://127.0.0.1:3000/orders?x=1",
                    "user_agent": "curl/8",
                    "client_ip": "127.0.0.1",
                },
                "response": {"status": 502},
            },
            "fault": True,
        },
        {  # a throttled invoke: the service segment alone
            "id": "8888888888888888",
            "trace_id": "1-5759e988-000000000000000000000001",
            "name": "B",
            "origin": "AWS::Lambda",
            "start_time": T0,
            "end_time": T0 + 0.001,
            "error": True,
            "throttle": True,
            "http": {"response": {"status": 429}},
            "cause": {"exceptions": [{"message": "Rate Exceeded.", "type": "Throttled"}]},
            "aws": {"function_arn": ARN_B},
        },
        {
            "id": "9999999999999999",
            "trace_id": TRACE,
            "name": "open",
            "start_time": T0,
            "in_progress": True,
        },  # not ended: no span
    ]


def by_name(spans: list[ReadableSpan]) -> dict[tuple[str, str], ReadableSpan]:
    found = {}
    for span in spans:
        origin = str((span.attributes or {}).get("aws.xray.origin", ""))
        found[(span.name, origin)] = span
    return found


def test_ids_parents_and_kinds() -> None:
    spans = Converter(region="eu-west-1", account_id="111122223333", app_name="shop").convert(
        chain()
    )
    assert len(spans) == 11  # 7 ended documents, 4 nested subsegments; the open one: none
    assert trace_id_of(TRACE) == 0x5759E988BD862E3FE1BE46A994272793
    ids = {span.context.span_id: span for span in spans if span.context is not None}
    one_trace = {s.context.trace_id for s in spans if s.context is not None}
    assert one_trace == {0x5759E988BD862E3FE1BE46A994272793, 0x5759E988000000000000000000000001}
    named = by_name(spans)
    stage = named[("OrdersApi/Prod", "AWS::ApiGateway::Stage")]
    a_service, a_function = named[("A", "AWS::Lambda")], named[("A", "AWS::Lambda::Function")]
    sdk = named[("Lambda", "")]
    b_function = named[("B", "AWS::Lambda::Function")]
    assert b_function.parent is not None and b_function.parent.span_id == 0x6666666666666666
    assert stage.parent is None
    assert a_service.parent is not None and a_service.parent.span_id == 0x0000000000000001
    assert a_function.parent is not None and a_function.parent.span_id == 0x1111111111111111
    assert sdk.parent is not None and sdk.parent.span_id == 0x2222222222222222
    assert sdk.parent.is_remote  # sent by the SDK in another process
    b_service = ids[0x6666666666666666]
    assert b_service.parent is not None and b_service.parent.span_id == 0x5555555555555555
    init = ids[0x3333333333333333]
    assert init.parent is not None and init.parent.span_id == 0x2222222222222222
    assert not init.parent.is_remote  # nested in the same document
    assert (stage.kind, a_service.kind, a_function.kind) == (SpanKind.SERVER,) * 3
    assert sdk.kind is SpanKind.CLIENT and init.kind is SpanKind.INTERNAL
    assert stage.start_time == round(T0 * 1e9) and stage.end_time == round((T0 + 0.81) * 1e9)


def test_status_attributes_and_resources() -> None:
    spans = Converter(region="eu-west-1", account_id="111122223333", app_name="shop").convert(
        chain()
    )
    named = by_name(spans)
    a = named[("A", "AWS::Lambda::Function")]
    attrs = dict(a.attributes or {})
    assert attrs["faas.invocation_id"] == "req-a"  # from Lambda's service segment
    assert attrs["faas.coldstart"] is True
    assert attrs["faas.trigger"] == "http"  # under an API stage
    assert attrs["cloud.resource_id"] == ARN_A
    assert attrs["cloud.account.id"] == "111122223333"
    assert attrs["cloud.provider"] == "aws" and attrs["faas.version"] == "3"
    assert a.status.status_code is StatusCode.UNSET
    assert a.resource.attributes["service.name"] == "A"
    assert a.resource.attributes["cloud.platform"] == "aws_lambda"
    assert a.resource.attributes["faas.name"] == "A"
    assert a.resource.attributes["cloud.region"] == "eu-west-1"
    assert a.resource.attributes["faas.version"] == "3"
    assert named[("A", "AWS::Lambda")].resource is a.resource  # Lambda's service segment too

    b = named[("B", "AWS::Lambda::Function")]
    assert b.status.status_code is StatusCode.ERROR
    assert b.status.description == "KeyError: 'id'"
    assert (b.attributes or {})["faas.trigger"] == "other"  # invoked through the SDK
    assert (b.attributes or {})["faas.coldstart"] is False
    assert (b.attributes or {})["error.type"] == "KeyError"
    assert [e.name for e in b.events] == ["exception"]
    assert (b.events[0].attributes or {})["exception.message"] == "'id'"

    sdk = named[("Lambda", "")]
    sdk_attrs = dict(sdk.attributes or {})
    assert sdk_attrs["rpc.system"] == "aws-api" and sdk_attrs["rpc.method"] == "Invoke"
    assert sdk_attrs["faas.invoked_name"] == "B" and sdk_attrs["faas.invoked_provider"] == "aws"
    assert sdk_attrs["order"] == "o-1"  # an annotation
    assert sdk_attrs["aws.region"] == "eu-west-1"
    assert sdk.resource.attributes["service.name"] == "A"  # it ran in A

    stage = named[("OrdersApi/Prod", "AWS::ApiGateway::Stage")]
    stage_attrs = dict(stage.attributes or {})
    assert stage_attrs["http.request.method"] == "POST"
    assert stage_attrs["url.path"] == "/orders" and stage_attrs["url.query"] == "x=1"
    assert stage_attrs["http.response.status_code"] == 502
    assert stage_attrs["user_agent.original"] == "curl/8"
    assert stage.status.status_code is StatusCode.ERROR
    assert stage.resource.attributes["service.name"] == "OrdersApi/Prod"

    throttled = [s for s in spans if (s.attributes or {}).get("aws.xray.throttle")]
    assert len(throttled) == 1
    assert throttled[0].status.status_code is StatusCode.ERROR
    assert throttled[0].status.description == "Throttled: Rate Exceeded."


def test_later_parts_of_a_trace_find_their_function() -> None:
    """A subsegment sent after its function's segments still gets the function's resource."""
    converter = Converter(region="eu-west-1", account_id="111122223333", app_name="shop")
    documents = chain()
    converter.convert(documents[1:])
    late = converter.convert(documents[:1])
    assert late[0].resource.attributes["service.name"] == "A"
    assert (
        converter.convert([{"id": "zz", "trace_id": "bad", "start_time": 1, "end_time": 2}]) == []
    )
