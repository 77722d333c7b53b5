"""`--otlp-endpoint`: the app's X-Ray segment documents as OpenTelemetry spans over OTLP/HTTP.

Jaeger, Tempo, Honeycomb or any collector then shows the traces `samrun traces` prints. The
conversion follows how X-Ray and OpenTelemetry map onto each other: the trace id is the X-Ray
trace id without its version and dashes (as the AWS X-Ray propagator maps it), a span id is a
segment id, segments are SERVER spans, `aws`/`remote` subsegments CLIENT spans, the rest
INTERNAL; attributes and resources follow OpenTelemetry's FaaS and AWS Lambda conventions
(`faas.*`, `cloud.*`, as the Lambda resource detector sets them).

A trace's documents arrive one by one (a function's SDK sends its subsegments before Lambda's
function segment ends, the API stage segment ends last), so the sending thread keeps a trace
until it has been quiet for a moment and converts it whole: a subsegment then knows the
function it ran in (its resource) and a function segment its trigger. Sending never happens on
the event loop; a collector that cannot be reached is said once, and spans are dropped, not
kept without bound.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from samrun import __version__
from samrun.config import Config

logger = logging.getLogger(__name__)

QUIET_S = 1.0  # a trace with no new document for this long is sent
HOLD_S = 10.0  # ... and one that keeps growing, after this long anyway (the rest follows later)
MAX_PENDING = 20000  # documents waiting; past it the oldest trace is dropped
LINEAGE = 50000  # segment ids remembered (parents, functions) for later parts of a trace
SEND_TIMEOUT_S = 5.0  # one export, its retries included
CLOSE_TIMEOUT_S = 8.0
SCOPE = InstrumentationScope("samrun.observe.otlp", __version__)
FUNCTION_ORIGINS = ("AWS::Lambda::Function", "AWS::Lambda")  # a function segment, its parent
MIB = 1024 * 1024

Attributes = dict[str, Any]


def trace_id_of(xray_trace_id: str) -> int | None:
    """X-Ray's `1-5759e988-bd862e3fe1be46a994272793` -> 0x5759e988bd862e3fe1be46a994272793."""
    parts = xray_trace_id.split("-")
    if len(parts) != 3 or parts[0] != "1" or len(parts[1]) != 8 or len(parts[2]) != 24:
        return None
    try:
        value = int(parts[1] + parts[2], 16)
    except ValueError:
        return None
    return value or None


def span_id_of(segment_id: object) -> int | None:
    if not isinstance(segment_id, str) or len(segment_id) != 16:
        return None
    try:
        value = int(segment_id, 16)
    except ValueError:
        return None
    return value or None


@dataclass(frozen=True, slots=True)
class Function:
    """What the spans of one function's segments share: their OpenTelemetry resource."""

    name: str
    arn: str | None = None
    version: str | None = None
    memory_mb: int | None = None


@dataclass(slots=True)
class Node:
    """One segment or subsegment as the lineage remembers it."""

    name: str
    origin: str | None
    namespace: str | None
    parent_id: str | None
    function: Function | None
    operation: str | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class Flat:
    """A document or one of its nested subsegments, with where it sits in the tree."""

    doc: Mapping[str, Any]
    trace_id: str
    parent_id: str | None
    parent_in_document: bool
    is_segment: bool


@dataclass
class Lineage:
    """Segment ids seen so far (bounded): parents for kinds, functions and triggers."""

    limit: int = LINEAGE
    nodes: OrderedDict[str, Node] = field(default_factory=OrderedDict)

    def add(self, segment_id: str, node: Node) -> None:
        self.nodes[segment_id] = node
        self.nodes.move_to_end(segment_id)
        while len(self.nodes) > self.limit:
            self.nodes.popitem(last=False)

    def get(self, segment_id: str | None) -> Node | None:
        return self.nodes.get(segment_id) if segment_id else None

    def ancestors(self, segment_id: str | None) -> Iterator[Node]:
        seen: set[str] = set()
        while segment_id and segment_id not in seen:
            seen.add(segment_id)
            node = self.nodes.get(segment_id)
            if node is None:
                return
            yield node
            segment_id = node.parent_id


def flatten(documents: Iterable[Mapping[str, Any]]) -> list[Flat]:
    """Every document with its nested subsegments; in-progress ones (no end yet) are left out:
    a span is exported once, when it has ended."""
    found: list[Flat] = []

    def walk(doc: Mapping[str, Any], trace_id: str, parent: str | None, nested: bool) -> None:
        is_segment = not nested and doc.get("type") != "subsegment"
        found.append(Flat(doc, trace_id, parent, nested, is_segment))
        for child in doc.get("subsegments") or ():
            if isinstance(child, Mapping):
                walk(child, trace_id, str(doc.get("id", "")), True)

    for doc in documents:
        trace_id = doc.get("trace_id")
        if isinstance(trace_id, str):
            parent = doc.get("parent_id")
            walk(doc, trace_id, parent if isinstance(parent, str) else None, False)
    return found


def function_of(doc: Mapping[str, Any], region: str, account_id: str) -> Function | None:
    """The function a Lambda segment (AWS::Lambda or AWS::Lambda::Function) stands for."""
    if doc.get("origin") not in FUNCTION_ORIGINS:
        return None
    aws = _block(doc, "aws")
    arn = aws.get("function_arn") or doc.get("resource_arn")
    name = str(doc.get("name", ""))
    version = aws.get("version") or aws.get("function_version")
    if isinstance(arn, str) and arn.startswith("arn:"):
        parts = arn.split(":")
        if len(parts) >= 7:
            name = parts[6]
            if len(parts) >= 8 and version is None:
                version = parts[7]
            arn = ":".join(parts[:7])
    else:
        arn = f"arn:aws:lambda:{region}:{account_id}:function:{name}"
    memory = aws.get("memory_size")
    return Function(
        name=name,
        arn=arn,
        version=str(version) if version else "$LATEST",
        memory_mb=int(memory) if isinstance(memory, int | str) and str(memory).isdigit() else None,
    )


TRIGGERS = {  # the nearest ancestor that is not Lambda itself -> faas.trigger
    "AWS::ApiGateway::Stage": "http",
    "AWS::ElasticLoadBalancing": "http",
    "AWS::ElasticLoadBalancingV2": "http",
    "AWS::Lambda::Url": "http",
    "AWS::SQS::Queue": "pubsub",
    "AWS::SNS::Topic": "pubsub",
    "AWS::Events": "pubsub",
    "AWS::Kinesis::Stream": "datasource",
    "AWS::DynamoDB::Table": "datasource",
    "AWS::S3::Bucket": "datasource",
}
SERVICE_TRIGGERS = {  # an SDK subsegment's name (the service called) -> faas.trigger
    "SQS": "pubsub",
    "SNS": "pubsub",
    "EventBridge": "pubsub",
    "Kinesis": "datasource",
    "DynamoDB": "datasource",
    "S3": "datasource",
}


def trigger_of(flat: Flat, lineage: Lineage) -> str:
    """faas.trigger of a function segment, from what started it: an explicit hint on the
    segment, else the caller above Lambda's service segment (an API stage: http, an SDK call to
    a queue: pubsub; another function's code: other)."""
    aws = flat.doc.get("aws")
    hint = aws.get("trigger") if isinstance(aws, Mapping) else None
    if isinstance(hint, str) and hint:
        return hint
    for node in lineage.ancestors(flat.parent_id):
        if node.origin == "AWS::Lambda":  # the function's own service segment
            continue
        if node.origin in TRIGGERS:
            return TRIGGERS[node.origin]
        if "Schedule" in (node.origin or "") or node.operation == "Schedule":
            return "timer"
        if node.namespace == "aws" and node.name in SERVICE_TRIGGERS:
            return SERVICE_TRIGGERS[node.name]
        return "other"
    return "other"


class Converter:
    """X-Ray segment documents -> ReadableSpans, remembering what it has seen in `lineage`."""

    def __init__(self, *, region: str, account_id: str, app_name: str) -> None:
        self.region = region
        self.account_id = account_id
        self.app_name = app_name
        self.lineage = Lineage()
        self._resources: dict[object, Resource] = {}

    def convert(self, documents: Iterable[Mapping[str, Any]]) -> list[ReadableSpan]:
        flats = flatten(documents)
        for flat in flats:  # the whole batch first: a parent may come after its child
            self._remember(flat)
        for flat in flats:  # Lambda's service segment shares its function segment's resource
            node = self.lineage.get(flat.doc.get("id"))
            parent = self.lineage.get(flat.parent_id)
            if node and parent and (node.origin, parent.origin) == FUNCTION_ORIGINS:
                parent.function = node.function
        exceptions = {
            str(exc.get("id")): exc
            for flat in flats
            for exc in _exceptions(flat.doc)
            if exc.get("id") is not None
        }
        spans = []
        for flat in flats:
            span = self._span(flat, exceptions)
            if span is not None:
                spans.append(span)
        return spans

    def _remember(self, flat: Flat) -> None:
        doc = flat.doc
        segment_id = doc.get("id")
        if not isinstance(segment_id, str):
            return
        aws = _block(doc, "aws")
        self.lineage.add(
            segment_id,
            Node(
                name=str(doc.get("name", "")),
                origin=doc.get("origin") if isinstance(doc.get("origin"), str) else None,
                namespace=doc.get("namespace") if isinstance(doc.get("namespace"), str) else None,
                parent_id=flat.parent_id,
                function=function_of(doc, self.region, self.account_id),
                operation=aws.get("operation") if isinstance(aws.get("operation"), str) else None,
                request_id=aws.get("request_id")
                if isinstance(aws.get("request_id"), str)
                else None,
            ),
        )

    def _owner(self, flat: Flat) -> Function | None:
        """The function a (sub)segment ran in: itself, or its nearest Lambda ancestor."""
        node = self.lineage.get(flat.doc.get("id"))
        if node is not None and node.function is not None:
            return node.function
        for parent in self.lineage.ancestors(flat.parent_id):
            if parent.function is not None:
                return parent.function
        return None

    def _span(self, flat: Flat, exceptions: Mapping[str, Mapping[str, Any]]) -> ReadableSpan | None:
        doc = flat.doc
        trace_id = trace_id_of(flat.trace_id)
        span_id = span_id_of(doc.get("id"))
        start, end = doc.get("start_time"), doc.get("end_time")
        if (
            trace_id is None
            or span_id is None
            or not isinstance(start, int | float)
            or not isinstance(end, int | float)
            or doc.get("in_progress")
        ):
            return None
        flags = TraceFlags(TraceFlags.SAMPLED)
        parent_span = span_id_of(flat.parent_id)
        parent = (
            SpanContext(trace_id, parent_span, is_remote=not flat.parent_in_document)
            if parent_span is not None
            else None
        )
        kind = self._kind(flat)
        function = self._owner(flat)
        attributes = self._attributes(flat, kind, function)
        status, events = _status(doc, exceptions, end)
        if status.status_code is StatusCode.ERROR and "error.type" not in attributes:
            attributes["error.type"] = _error_type(doc, exceptions)
        return ReadableSpan(
            name=str(doc.get("name") or "segment"),
            context=SpanContext(trace_id, span_id, is_remote=False, trace_flags=flags),
            parent=parent,
            resource=self._resource(function, flat),
            attributes=attributes,
            events=events,
            kind=kind,
            status=status,
            start_time=round(float(start) * 1e9),
            end_time=round(float(end) * 1e9),
            instrumentation_scope=SCOPE,
        )

    @staticmethod
    def _kind(flat: Flat) -> SpanKind:
        if flat.is_segment:
            return SpanKind.SERVER
        if flat.doc.get("namespace") in ("aws", "remote"):
            return SpanKind.CLIENT
        return SpanKind.INTERNAL

    def _resource(self, function: Function | None, flat: Flat) -> Resource:
        """A function's own resource (as the Lambda resource detector makes it); else one for the
        service a segment names (an API stage), else the app's."""
        if function is not None:
            key: object = function
        elif flat.is_segment:
            key = ("service", str(flat.doc.get("name") or self.app_name))
        else:
            key = ("app", self.app_name)
        found = self._resources.get(key)
        if found is None:
            attributes: Attributes = {
                "cloud.provider": "aws",
                "cloud.region": self.region,
                "cloud.account.id": self.account_id,
            }
            if function is not None:
                attributes |= {
                    "service.name": function.name,
                    "cloud.platform": "aws_lambda",
                    "faas.name": function.name,
                    "faas.version": function.version or "$LATEST",
                }
                if function.arn:
                    attributes["cloud.resource_id"] = function.arn
                if function.memory_mb:
                    attributes["faas.max_memory"] = function.memory_mb * MIB
            else:
                attributes["service.name"] = key[1] if isinstance(key, tuple) else self.app_name
            found = self._resources[key] = Resource(attributes)
        return found

    def _attributes(self, flat: Flat, kind: SpanKind, function: Function | None) -> Attributes:
        doc = flat.doc
        attributes: Attributes = {}
        aws = _block(doc, "aws")
        _flatten_into(attributes, "aws", aws)
        if isinstance(doc.get("origin"), str):
            attributes["aws.xray.origin"] = doc["origin"]
        if isinstance(doc.get("namespace"), str):
            attributes["aws.xray.namespace"] = doc["namespace"]
        for mark in ("error", "fault", "throttle"):
            if doc.get(mark):
                attributes[f"aws.xray.{mark}"] = True
        _http_into(attributes, doc.get("http"), kind)
        if kind is SpanKind.CLIENT and doc.get("namespace") == "aws":
            _aws_sdk_into(attributes, doc, aws)
        if doc.get("origin") in FUNCTION_ORIGINS and function is not None:
            self._function_into(attributes, flat, function, aws)
        annotations = doc.get("annotations")
        if isinstance(annotations, Mapping):
            for key, value in annotations.items():
                if _scalar(value) and str(key) not in attributes:
                    attributes[str(key)] = value
        return attributes

    def _function_into(
        self, attributes: Attributes, flat: Flat, function: Function, aws: Mapping[str, Any]
    ) -> None:
        """A Lambda segment as OpenTelemetry's FaaS server span (AWS Lambda conventions)."""
        doc = flat.doc
        attributes |= {
            "cloud.provider": "aws",
            "cloud.region": self.region,
            "cloud.account.id": _account_of(function.arn) or self.account_id,
            "faas.name": function.name,
            "faas.trigger": trigger_of(flat, self.lineage),
        }
        if function.arn:
            attributes["cloud.resource_id"] = function.arn
        if function.version:
            attributes["faas.version"] = function.version
        if function.memory_mb:
            attributes["faas.max_memory"] = function.memory_mb * MIB
        request_id = aws.get("request_id")
        parent = self.lineage.get(flat.parent_id)
        if not isinstance(request_id, str) and parent is not None:
            request_id = parent.request_id  # Lambda's service segment holds it
        if isinstance(request_id, str):
            attributes["faas.invocation_id"] = request_id
        if doc.get("origin") == "AWS::Lambda::Function":
            attributes["faas.coldstart"] = _cold(doc)


def _block(doc: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """A document's object field (`aws`, `http`, `request`...), or an empty one."""
    value = doc.get(key)
    return value if isinstance(value, Mapping) else {}


def _cold(doc: Mapping[str, Any]) -> bool:
    """X-Ray marks a cold start with the function segment's Initialization subsegment."""
    aws = doc.get("aws")
    if isinstance(aws, Mapping) and isinstance(aws.get("cold_start"), bool):
        return bool(aws["cold_start"])
    return any(
        isinstance(sub, Mapping) and sub.get("name") == "Initialization"
        for sub in doc.get("subsegments") or ()
    )


def _account_of(arn: str | None) -> str | None:
    parts = (arn or "").split(":")
    return parts[4] if len(parts) > 4 and parts[4] else None


def _scalar(value: object) -> bool:
    return isinstance(value, str | bool | int | float)


def _flatten_into(attributes: Attributes, prefix: str, value: object, depth: int = 0) -> None:
    """The `aws` block as dotted attributes (`aws.operation`, `aws.xray.sdk_version`)."""
    if _scalar(value):
        attributes[prefix] = value
    elif isinstance(value, Mapping) and depth < 3:
        for key, inner in value.items():
            _flatten_into(attributes, f"{prefix}.{key}", inner, depth + 1)
    elif isinstance(value, list | tuple) and value and all(isinstance(v, str) for v in value):
        attributes[prefix] = list(value)


def _http_into(attributes: Attributes, http: object, kind: SpanKind) -> None:
    """X-Ray's http block as OpenTelemetry's HTTP conventions."""
    if not isinstance(http, Mapping):
        return
    request = _block(http, "request")
    response = _block(http, "response")
    if isinstance(request.get("method"), str):
        attributes["http.request.method"] = request["method"]
    url = request.get("url")
    if isinstance(url, str) and url:
        attributes["url.full"] = url
        parts = urlsplit(url)
        if kind is SpanKind.CLIENT:
            if parts.hostname:
                attributes["server.address"] = parts.hostname
            if parts.port:
                attributes["server.port"] = parts.port
        else:
            attributes["url.path"] = parts.path or "/"
            if parts.scheme:
                attributes["url.scheme"] = parts.scheme
            if parts.query:
                attributes["url.query"] = parts.query
    if isinstance(request.get("user_agent"), str):
        attributes["user_agent.original"] = request["user_agent"]
    if isinstance(request.get("client_ip"), str):
        attributes["client.address"] = request["client_ip"]
    status = response.get("status")
    if isinstance(status, int):
        attributes["http.response.status_code"] = status
    length = response.get("content_length")
    if isinstance(length, int):
        attributes["http.response.body.size"] = length


def _aws_sdk_into(attributes: Attributes, doc: Mapping[str, Any], aws: Mapping[str, Any]) -> None:
    """An AWS SDK call (an `aws` subsegment) as OpenTelemetry's AWS SDK conventions; a Lambda
    Invoke also as a FaaS client span (faas.invoked_*)."""
    service = str(doc.get("name", ""))
    attributes["rpc.system"] = "aws-api"
    attributes["rpc.service"] = service
    if isinstance(aws.get("operation"), str):
        attributes["rpc.method"] = aws["operation"]
    if isinstance(aws.get("request_id"), str):
        attributes["aws.request_id"] = aws["request_id"]
    if isinstance(aws.get("table_name"), str):
        attributes["aws.dynamodb.table_names"] = [aws["table_name"]]
    if service == "Lambda" and aws.get("operation") == "Invoke":
        name = aws.get("function_name")
        names = aws.get("resource_names")
        if not isinstance(name, str) and isinstance(names, list) and names:
            name = names[0]
        if isinstance(name, str):
            attributes["faas.invoked_name"] = (
                name.split(":")[6] if name.startswith("arn:") else name
            )
        attributes["faas.invoked_provider"] = "aws"
        region = aws.get("region")
        if isinstance(region, str):
            attributes["faas.invoked_region"] = region


def _exceptions(doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    cause = doc.get("cause")
    if isinstance(cause, Mapping):
        return [e for e in cause.get("exceptions") or () if isinstance(e, Mapping)]
    return []


def _status(
    doc: Mapping[str, Any], exceptions: Mapping[str, Mapping[str, Any]], end: float
) -> tuple[Status, list[Event]]:
    """ERROR for error, fault or throttle, described by the cause's first exception; each
    exception of the cause as an `exception` event."""
    found = _exceptions(doc)
    cause = doc.get("cause")
    if not found and isinstance(cause, str) and cause in exceptions:  # an id: thrown below
        found = [exceptions[cause]]
    events = [
        Event(
            "exception",
            {
                "exception.type": str(exc.get("type") or "Error"),
                "exception.message": str(exc.get("message") or ""),
                "exception.stacktrace": _stack(exc),
            },
            timestamp=round(end * 1e9),
        )
        for exc in found
    ]
    if not (doc.get("error") or doc.get("fault") or doc.get("throttle")):
        return Status(StatusCode.UNSET), events
    if found:
        first = found[0]
        kind, message = first.get("type"), first.get("message")
        text = f"{kind}: {message}" if kind and message else str(message or kind or "")
    elif doc.get("throttle"):
        text = "throttled"
    else:
        text = "fault" if doc.get("fault") else "error"
    return Status(StatusCode.ERROR, text or None), events


def _error_type(doc: Mapping[str, Any], exceptions: Mapping[str, Mapping[str, Any]]) -> str:
    found = _exceptions(doc)
    if found and found[0].get("type"):
        return str(found[0]["type"])
    http = doc.get("http")
    response = http.get("response") if isinstance(http, Mapping) else None
    if isinstance(response, Mapping) and isinstance(response.get("status"), int):
        return str(response["status"])
    return "throttle" if doc.get("throttle") else "fault" if doc.get("fault") else "error"


def _stack(exc: Mapping[str, Any]) -> str:
    frames = exc.get("stack")
    if not isinstance(frames, list):
        return ""
    lines = [f"{exc.get('type') or 'Error'}: {exc.get('message') or ''}"]
    for frame in frames:
        if isinstance(frame, Mapping):
            where = f"{frame.get('path', '?')}:{frame.get('line', '?')}"
            lines.append(f"  at {frame.get('label', '?')} ({where})")
    return "\n".join(lines)


@dataclass
class _Pending:
    documents: list[dict[str, Any]]
    first: float
    last: float


class _LastFailure(logging.Handler):
    """Keeps the OTLP exporter's own failure message (its logger would print a line per retry)
    so samrun can say it once, in its own words."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []  # of the export under way (its retries say why)

    def emit(self, record: logging.LogRecord) -> None:
        self.messages = [*self.messages[-9:], record.getMessage()]


def _quiet_exporter_logs() -> _LastFailure:
    handler = _LastFailure()
    otel = logging.getLogger("opentelemetry.exporter")
    otel.handlers[:] = [handler]
    otel.propagate = False
    otel.setLevel(logging.WARNING)
    return handler


def app_name_of(template: Path) -> str:
    """service.name of what is not a function: the template's folder (`myapp/template.yaml`),
    or the template's own name when it has one (`cdk.out/Orders.template.json`: Orders)."""
    stem = template.name.split(".")[0]
    if stem in ("template", ""):
        return template.resolve().parent.name or "samrun"
    return stem


def exporter_for(config: Config, endpoint: str) -> OtlpExporter:
    """The app's OTLP sink (`--otlp-endpoint`), announced at startup."""
    exporter = OtlpExporter(
        endpoint,
        region=config.region,
        account_id=config.account_id,
        app_name=app_name_of(config.template),
    )
    logger.info("%s", exporter.describe())
    return exporter


class OtlpExporter:
    """A TraceSink: segment documents in on the event loop, spans out from one thread."""

    def __init__(
        self,
        endpoint: str,
        *,
        region: str,
        account_id: str,
        app_name: str,
        exporter: SpanExporter | None = None,
        quiet_s: float = QUIET_S,
    ) -> None:
        self.endpoint = endpoint
        self.converter = Converter(region=region, account_id=account_id, app_name=app_name)
        self.sent = 0  # spans the collector accepted
        self.dropped = 0  # documents dropped: the collector refused them, or too many waited
        self._quiet_s = quiet_s
        self._failures = _quiet_exporter_logs()
        if exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter(endpoint=endpoint, timeout=SEND_TIMEOUT_S)
        self._exporter = exporter
        self._failing = False
        self._queue: queue.Queue[list[dict[str, Any]] | None] = queue.Queue()
        self._pending: OrderedDict[str, _Pending] = OrderedDict()
        self._count = 0
        self._thread = threading.Thread(target=self._run, name="otlp-export", daemon=True)
        self._thread.start()

    def describe(self) -> str:
        return f"traces are exported as OpenTelemetry spans to {self.endpoint} (OTLP/HTTP)"

    def publish(self, documents: list[dict[str, Any]]) -> None:
        if documents:
            self._queue.put(list(documents))

    def close(self) -> None:
        """Send what waits (every trace, quiet or not), then stop; a collector that does not
        answer delays shutdown by CLOSE_TIMEOUT_S at most."""
        self._queue.put(None)
        self._thread.join(CLOSE_TIMEOUT_S)
        self._exporter.shutdown()  # aborts a retry still waiting
        self._thread.join(1.0)

    def _run(self) -> None:
        while True:
            try:
                batch = self._queue.get(timeout=self._wait())
            except queue.Empty:
                batch = []
            if batch is None:
                self._send(list(self._pending))
                return
            now = time.monotonic()
            for doc in batch:
                self._hold(doc, now)
            self._send(self._ripe(now))

    def _wait(self) -> float | None:
        if not self._pending:
            return None
        now = time.monotonic()
        due = min(min(p.last + self._quiet_s, p.first + HOLD_S) for p in self._pending.values())
        return max(due - now, 0.01)

    def _hold(self, doc: dict[str, Any], now: float) -> None:
        trace = str(doc.get("trace_id", ""))
        pending = self._pending.get(trace)
        if pending is None:
            pending = self._pending[trace] = _Pending([], now, now)
        pending.documents.append(doc)
        pending.last = now
        self._count += 1
        while self._count > MAX_PENDING and self._pending:
            _, oldest = self._pending.popitem(last=False)
            self._count -= len(oldest.documents)
            self.dropped += len(oldest.documents)

    def _ripe(self, now: float) -> list[str]:
        return [
            trace
            for trace, p in self._pending.items()
            if now - p.last >= self._quiet_s or now - p.first >= HOLD_S
        ]

    def _send(self, traces: Sequence[str]) -> None:
        documents: list[dict[str, Any]] = []
        for trace in traces:
            pending = self._pending.pop(trace)
            self._count -= len(pending.documents)
            documents += pending.documents
        if not documents:
            return
        self._failures.messages = []
        try:
            spans = self.converter.convert(documents)
            result = self._exporter.export(spans) if spans else SpanExportResult.SUCCESS
        except Exception as exc:  # a malformed document must not stop the exporter
            self._failed(len(documents), f"{type(exc).__name__}: {exc}")
            return
        if result is SpanExportResult.SUCCESS:
            self.sent += len(spans)
            if self._failing:
                logger.info("OTLP: spans reach %s again", self.endpoint)
            self._failing = False
        else:
            self._failed(len(documents), " ".join(self._failures.messages) or "refused")

    def _failed(self, count: int, reason: str) -> None:
        self.dropped += count
        if not self._failing:
            self._failing = True
            logger.warning(
                "OTLP: cannot send spans to %s (%s); they are dropped until it answers",
                self.endpoint,
                _short(reason),
            )


def _short(reason: str) -> str:
    """The useful end of a requests/urllib3 error chain ("Connection refused")."""
    for needle in ("Connection refused", "Name or service not known", "timed out", "code: "):
        if needle in reason:
            if needle == "code: ":  # "Failed to export spans batch code: 404, reason: ..."
                return "HTTP " + reason.partition(needle)[2].split(",")[0]
            return needle.lower()
    return reason if len(reason) <= 160 else reason[:157] + "..."
