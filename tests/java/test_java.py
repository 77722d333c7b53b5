"""Java functions on the process backend (samrun/runtime/java.py, bootstraps/java/), driven as a
user drives them: the test's handlers compiled with the machine's javac, one `samrun up` of a
template holding one function per handler form, then boto3's Invoke and an API route."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import urllib.request
import zipfile
from pathlib import Path

import pytest

from samrun.runtime import java
from samrun.runtime.java import jvm_options, missing
from tests.conftest import SamrunProcess, start_up

pytestmark = [
    pytest.mark.process_only,
    pytest.mark.skipif(shutil.which("javac") is None, reason="needs a JDK (javac) on PATH"),
]

HANDLERS = """
package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.events.SQSEvent;
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.util.*;

public class Handlers {
    private final long constructed = System.nanoTime();
    private static int constructions = 0;

    public Handlers() { constructions++; }

    public static String upper(String text) { return text.toUpperCase(); }

    public Map<String, Object> context(Map<String, Object> event, Context context) {
        context.getLogger().log("java-logger says " + event.get("say") + "\\n");
        System.out.println("stdout says héllo");
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("requestId", context.getAwsRequestId());
        out.put("remaining", context.getRemainingTimeInMillis());
        out.put("memory", context.getMemoryLimitInMB());
        out.put("name", context.getFunctionName());
        out.put("version", context.getFunctionVersion());
        out.put("arn", context.getInvokedFunctionArn());
        out.put("group", context.getLogGroupName());
        out.put("stream", context.getLogStreamName());
        out.put("constructions", constructions);
        out.put("tmpdir", System.getProperty("java.io.tmpdir"));
        out.put("toolOptions", System.getenv("JAVA_TOOL_OPTIONS"));
        out.put("fromToolOptions", System.getProperty("samrun.test"));
        out.put("maxHeapMb", Runtime.getRuntime().maxMemory() / (1024 * 1024));
        return out;
    }

    public static void stream(InputStream in, OutputStream out, Context context)
            throws IOException {
        byte[] all = new byte[4096];
        int n = in.read(all);
        String text = new String(all, 0, Math.max(n, 0), StandardCharsets.UTF_8);
        out.write(("{\\"got\\":" + text + ",\\"id\\":\\"" + context.getAwsRequestId() + "\\"}")
            .getBytes(StandardCharsets.UTF_8));
    }

    public static Receipt order(Order order) {
        Receipt receipt = new Receipt();
        receipt.customer = order.getCustomer();
        int total = 0;
        for (Item item : order.items) { total += item.price * item.getQuantity(); }
        receipt.setTotal(total);
        receipt.express = order.express;
        return receipt;
    }

    public static long noArgs() { return 42L; }

    public static List<String> sqs(SQSEvent event) {
        List<String> out = new ArrayList<>();
        for (SQSEvent.SQSMessage m : event.getRecords()) {
            out.add(m.getBody() + "@" + m.getEventSourceArn() + "@"
                + m.getMessageAttributes().get("kind").getStringValue());
        }
        return out;
    }

    public void sink(Map<String, Object> event) { System.out.println("sunk " + event); }

    public static String fail(Map<String, Object> event) {
        throw new IllegalStateException("bad order " + event.get("id"));
    }

    public static String sleep(Map<String, Integer> event) throws InterruptedException {
        Thread.sleep(event.get("seconds") * 1000L);
        return "slept";
    }

    private static final List<Object> kept = new ArrayList<>();

    public static int hog(Map<String, Integer> event) throws InterruptedException {
        for (int i = 0; i < event.get("mb") / 4; i++) {  // heap and native memory, 4 MB at a time
            kept.add(i % 2 == 0 ? new byte[4 << 20] : java.nio.ByteBuffer.allocateDirect(4 << 20));
            Thread.sleep(10);
        }
        return event.get("mb");
    }
}
"""

POJOS = {
    "Order": """
package example;
import java.util.List;
public class Order {
    private String customer;
    public List<Item> items;
    public boolean express;
    public String getCustomer() { return customer; }
    public void setCustomer(String customer) { this.customer = customer; }
}""",
    "Item": """
package example;
public class Item {
    public int price;
    private int quantity;
    public int getQuantity() { return quantity; }
    public void setQuantity(int quantity) { this.quantity = quantity; }
}""",
    "Receipt": """
package example;
public class Receipt {
    public String customer;
    private int total;
    public boolean express;
    public String note;  // null: left out, as Lambda leaves it out
    public int getTotal() { return total; }
    public void setTotal(int total) { this.total = total; }
}""",
    "ApiHandler": """
package example;
import com.amazonaws.services.lambda.runtime.*;
import com.amazonaws.services.lambda.runtime.events.*;
import java.util.*;
public class ApiHandler
        implements RequestHandler<APIGatewayProxyRequestEvent, APIGatewayProxyResponseEvent> {
    public APIGatewayProxyResponseEvent handleRequest(APIGatewayProxyRequestEvent e, Context c) {
        Map<String, String> headers = new HashMap<>();
        headers.put("X-Method", e.getHttpMethod());
        return new APIGatewayProxyResponseEvent()
            .withStatusCode(201)
            .withHeaders(headers)
            .withBody(e.getPathParameters().get("id") + "|" + e.getQueryStringParameters().get("q")
                + "|" + e.getBody() + "|" + e.getIsBase64Encoded() + "|"
                + e.getRequestContext().getHttpMethod() + "|" + e.getResource());
    }
}""",
    "EchoStream": """
package example;
import com.amazonaws.services.lambda.runtime.*;
import java.io.*;
public class EchoStream implements RequestStreamHandler {
    public void handleRequest(InputStream in, OutputStream out, Context context)
            throws IOException {
        int b;
        while ((b = in.read()) >= 0) { out.write(Character.toUpperCase((char) b)); }
    }
}""",
    "BrokenInit": """
package example;
public class BrokenInit {
    public BrokenInit() { throw new IllegalArgumentException("no config on purpose"); }
    public String handle(String in) { return in; }
}""",
}

# Shaped as aws-lambda-java-events' classes are (its fluent `with` methods, `isBase64Encoded`'s
# getIsBase64Encoded): packaged as a jar in the code's lib/, as `sam build` leaves dependencies.
EVENTS = {
    "APIGatewayProxyRequestEvent": """
package com.amazonaws.services.lambda.runtime.events;
import java.util.Map;
public class APIGatewayProxyRequestEvent {
    private String resource, path, httpMethod, body;
    private Map<String, String> headers, queryStringParameters, pathParameters;
    private ProxyRequestContext requestContext;
    private Boolean isBase64Encoded;
    public static class ProxyRequestContext {
        private String requestId, httpMethod, stage;
        public String getRequestId() { return requestId; }
        public void setRequestId(String v) { requestId = v; }
        public String getHttpMethod() { return httpMethod; }
        public void setHttpMethod(String v) { httpMethod = v; }
        public String getStage() { return stage; }
        public void setStage(String v) { stage = v; }
    }
    public String getResource() { return resource; }
    public void setResource(String v) { resource = v; }
    public String getPath() { return path; }
    public void setPath(String v) { path = v; }
    public String getHttpMethod() { return httpMethod; }
    public void setHttpMethod(String v) { httpMethod = v; }
    public String getBody() { return body; }
    public void setBody(String v) { body = v; }
    public Map<String, String> getHeaders() { return headers; }
    public void setHeaders(Map<String, String> v) { headers = v; }
    public Map<String, String> getQueryStringParameters() { return queryStringParameters; }
    public void setQueryStringParameters(Map<String, String> v) { queryStringParameters = v; }
    public Map<String, String> getPathParameters() { return pathParameters; }
    public void setPathParameters(Map<String, String> v) { pathParameters = v; }
    public ProxyRequestContext getRequestContext() { return requestContext; }
    public void setRequestContext(ProxyRequestContext v) { requestContext = v; }
    public Boolean getIsBase64Encoded() { return isBase64Encoded; }
    public void setIsBase64Encoded(Boolean v) { isBase64Encoded = v; }
}""",
    "APIGatewayProxyResponseEvent": """
package com.amazonaws.services.lambda.runtime.events;
import java.util.Map;
public class APIGatewayProxyResponseEvent {
    private Integer statusCode;
    private Map<String, String> headers;
    private String body;
    private Boolean isBase64Encoded;
    public Integer getStatusCode() { return statusCode; }
    public void setStatusCode(Integer v) { statusCode = v; }
    public APIGatewayProxyResponseEvent withStatusCode(Integer v) { statusCode = v; return this; }
    public Map<String, String> getHeaders() { return headers; }
    public void setHeaders(Map<String, String> v) { headers = v; }
    public APIGatewayProxyResponseEvent withHeaders(Map<String, String> v) {
        headers = v;
        return this;
    }
    public String getBody() { return body; }
    public void setBody(String v) { body = v; }
    public APIGatewayProxyResponseEvent withBody(String v) { body = v; return this; }
    public Boolean getIsBase64Encoded() { return isBase64Encoded; }
    public void setIsBase64Encoded(Boolean v) { isBase64Encoded = v; }
}""",
}

EVENTS["SQSEvent"] = """
package com.amazonaws.services.lambda.runtime.events;
import java.util.List;
import java.util.Map;
public class SQSEvent {
    private List<SQSMessage> records;
    public List<SQSMessage> getRecords() { return records; }
    public void setRecords(List<SQSMessage> records) { this.records = records; }
    public static class MessageAttribute {
        private String stringValue, dataType;
        public String getStringValue() { return stringValue; }
        public void setStringValue(String v) { stringValue = v; }
        public String getDataType() { return dataType; }
        public void setDataType(String v) { dataType = v; }
    }
    public static class SQSMessage {
        private String messageId, body, eventSourceArn;
        private Map<String, MessageAttribute> messageAttributes;
        public String getMessageId() { return messageId; }
        public void setMessageId(String v) { messageId = v; }
        public String getBody() { return body; }
        public void setBody(String v) { body = v; }
        public String getEventSourceArn() { return eventSourceArn; }
        public void setEventSourceArn(String v) { eventSourceArn = v; }
        public Map<String, MessageAttribute> getMessageAttributes() { return messageAttributes; }
        public void setMessageAttributes(Map<String, MessageAttribute> v) { messageAttributes = v; }
    }
}"""

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: java17
    CodeUri: app
    MemorySize: 1024
    Timeout: 10
Resources:
  Upper: {Type: AWS::Serverless::Function, Properties: {Handler: "example.Handlers::upper"}}
  Context:
    Type: AWS::Serverless::Function
    Properties:
      Handler: example.Handlers::context
      MemorySize: 512
      Environment: {Variables: {JAVA_TOOL_OPTIONS: "-Dsamrun.test=picked-up"}}
  Stream:
    Type: AWS::Serverless::Function
    Properties: {Handler: "example.Handlers::stream", CodeUri: handlers.jar, Runtime: java21}
  Order: {Type: AWS::Serverless::Function, Properties: {Handler: "example.Handlers::order"}}
  Sqs: {Type: AWS::Serverless::Function, Properties: {Handler: "example.Handlers::sqs"}}
  NoArgs:
    Type: AWS::Serverless::Function
    Properties: {Handler: "example.Handlers::noArgs", Runtime: java8.al2}
  Sink: {Type: AWS::Serverless::Function, Properties: {Handler: "example.Handlers::sink"}}
  Fail:
    Type: AWS::Serverless::Function
    Properties: {Handler: "example.Handlers::fail", Runtime: java11}
  EchoStream: {Type: AWS::Serverless::Function, Properties: {Handler: example.EchoStream}}
  Missing: {Type: AWS::Serverless::Function, Properties: {Handler: example.Nope}}
  BrokenInit:
    Type: AWS::Serverless::Function
    Properties: {Handler: "example.BrokenInit::handle"}
  Slow:
    Type: AWS::Serverless::Function
    Properties: {Handler: "example.Handlers::sleep", Timeout: 1}
  Hog:
    Type: AWS::Serverless::Function
    Properties: {Handler: "example.Handlers::hog", MemorySize: 256}
  Api:
    Type: AWS::Serverless::Function
    Properties:
      Handler: example.ApiHandler
      Events:
        Post: {Type: Api, Properties: {Path: "/orders/{id}", Method: post}}
"""


def compile_java(sources: dict[str, str], folder: Path, classpath: list[Path]) -> Path:
    """`javac` of `sources` (class name -> text) into `folder`; returns it."""
    src = folder.with_name(folder.name + "-src")
    src.mkdir(parents=True)
    files = []
    for name, text in sources.items():
        package = re.search(r"^package ([\w.]+);", text, re.M)
        assert package is not None
        path = src / Path(*package.group(1).split(".")) / f"{name}.java"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        files.append(str(path))
    folder.mkdir(parents=True, exist_ok=True)
    argv = ["javac", "-encoding", "UTF-8", "-nowarn", "-d", str(folder)]
    argv += ["-cp", ":".join(map(str, classpath))] if classpath else []
    subprocess.run([*argv, *files], check=True, capture_output=True, timeout=300)
    return folder


def jar(folder: Path, target: Path, prefix: str = "") -> Path:
    """The classes of `folder` under `prefix` as a jar: a dependency in lib/, where `sam build`
    puts it, or a function's code."""
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(folder.rglob("*")):
            name = path.relative_to(folder).as_posix()
            if path.is_file() and name.startswith(prefix):
                archive.write(path, name)
    return target


def core_sources() -> dict[str, str]:
    """aws-lambda-java-core's interfaces to compile against (samrun's own copy: Maven Central
    is out of reach here); the function does not package them, samrun's client provides them."""
    core = Path(__file__).parents[2] / "samrun/runtime/bootstraps/java/com"
    return {p.stem: p.read_text() for p in core.rglob("*.java")}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("java")
    deps = compile_java({**core_sources(), **EVENTS}, root / "deps", [])
    app = root / "app"
    compile_java({"Handlers": HANDLERS, **POJOS}, app, [deps])
    (app / "lib").mkdir()
    jar(deps, app / "lib" / "events.jar", "com/amazonaws/services/lambda/runtime/events/")
    jar(app, root / "handlers.jar")  # a function whose CodeUri is a .jar (with its lib/)
    (root / "template.yaml").write_text(TEMPLATE)
    process = start_up(root / "template.yaml", root / ".samrun", ready_timeout=300)
    yield process
    assert process.stop() == 0


@pytest.fixture(scope="module")
def client(server: SamrunProcess):
    return server.lambda_client()


def invoke(client, name: str, event: object = None, **kwargs) -> tuple[dict, object]:
    payload = json.dumps({} if event is None else event)
    response = client.invoke(FunctionName=name, Payload=payload, **kwargs)
    return response, json.loads(response["Payload"].read())


def test_each_handler_signature_answers(client) -> None:
    assert invoke(client, "Upper", "héllo")[1] == "HÉLLO"  # (T): a JSON string in and out
    response, body = invoke(client, "Stream", {"n": 1})  # (InputStream, OutputStream, Context)
    assert body["got"] == {"n": 1} and len(body["id"]) == 36
    assert invoke(client, "NoArgs", {"ignored": True})[1] == 42  # (), on java8.al2
    response, body = invoke(client, "Sink", {"a": 1}, LogType="Tail")  # void: null
    assert body is None and "FunctionError" not in response
    assert "sunk {a=1}" in base64.b64decode(response["LogResult"]).decode()
    assert invoke(client, "EchoStream", "abc")[1] == "ABC"  # a RequestStreamHandler class


def test_a_pojo_in_and_out(client) -> None:
    order = {
        "customer": "ann",
        "items": [{"price": 3, "quantity": 2}, {"price": 5, "quantity": 1, "unknown": "ignored"}],
        "express": True,
        "extra": {"ignored": [1, 2]},
    }
    response, body = invoke(client, "Order", order)
    assert "FunctionError" not in response
    assert body == {"customer": "ann", "express": True, "total": 11}  # nulls left out


def test_an_event_class_is_read_with_lambdas_names(client) -> None:
    """SQSEvent's "Records" and "eventSourceARN" fill getRecords and getEventSourceArn, as
    Lambda's mixins make them (a plain POJO's names match exactly)."""
    record = {
        "messageId": "m1",
        "body": "hello",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:orders",
        "messageAttributes": {"kind": {"stringValue": "greeting", "dataType": "String"}},
    }
    body = invoke(client, "Sqs", {"Records": [record]})[1]
    assert body == ["hello@arn:aws:sqs:us-east-1:123456789012:orders@greeting"]


def test_context_and_logger(client) -> None:
    response, body = invoke(client, "Context", {"say": "hi"}, LogType="Tail")
    assert re.fullmatch(r"[0-9a-f-]{36}", body["requestId"])
    assert 0 < body["remaining"] <= 10_000
    assert body["memory"] == 512
    assert (body["name"], body["version"]) == ("Context", "$LATEST")
    assert body["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:Context"
    assert body["group"] == "/aws/lambda/Context"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", body["stream"])
    assert body["constructions"] == 1  # the handler's class is constructed once, at init
    assert body["toolOptions"] == "-Dsamrun.test=picked-up"
    assert body["fromToolOptions"] == "picked-up"  # JAVA_TOOL_OPTIONS reaches the JVM
    assert body["maxHeapMb"] <= 512 * 0.85  # -XX:MaxHeapSize from MemorySize, as Lambda sizes it
    assert body["tmpdir"] != "/tmp"  # the instance's own TMPDIR
    log = base64.b64decode(response["LogResult"]).decode()
    assert "java-logger says hi\n" in log
    assert "stdout says héllo" in log
    assert log.index("java-logger says hi") < log.index(f"END RequestId: {body['requestId']}")
    second = invoke(client, "Context", {"say": "again"})[1]
    assert second["constructions"] == 1 and second["requestId"] != body["requestId"]


def test_an_api_route_reaches_a_request_handler_class(server: SamrunProcess) -> None:
    request = urllib.request.Request(
        f"{server.api}/orders/42?q=fast", data=b'{"n": 1}', method="POST"
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        assert response.status == 201
        assert response.headers["X-Method"] == "POST"
        assert response.read().decode() == '42|fast|{"n": 1}|false|POST|/orders/{id}'


def test_a_thrown_exception_is_lambdas_error_json(client) -> None:
    response, body = invoke(client, "Fail", {"id": 7})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "java.lang.IllegalStateException"
    assert body["errorMessage"] == "bad order 7"
    assert body["stackTrace"][0].startswith("example.Handlers.fail(Handlers.java:")
    assert not any("samrun" in frame for frame in body["stackTrace"])
    response, body = invoke(client, "Upper", {"not": "a string"})
    assert body["errorMessage"] == "An error occurred during JSON parsing"
    assert body["errorType"] == "java.lang.RuntimeException"


def test_handlers_that_do_not_load(server: SamrunProcess, client) -> None:
    response, body = invoke(client, "Missing")
    assert response["FunctionError"] == "Unhandled"
    assert body == {
        "errorMessage": "Class not found: example.Nope",
        "errorType": "java.lang.ClassNotFoundException",
    }
    response, body = invoke(client, "BrokenInit", "x")
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "java.lang.IllegalArgumentException"
    assert body["errorMessage"] == "no config on purpose"
    server.wait_for(r"BrokenInit \| INIT_REPORT Init Duration: .*Status: error")


def test_a_timeout_kills_the_jvm_and_the_next_invocation_works(client) -> None:
    response, body = invoke(client, "Slow", {"seconds": 30})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.0" in body["errorMessage"]
    response, body = invoke(client, "Slow", {"seconds": 0})
    assert "FunctionError" not in response and body == "slept"


def test_memory_over_the_limit_is_killed(client) -> None:
    response, body = invoke(client, "Hog", {"mb": 600})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.OutOfMemory"
    response, body = invoke(client, "Hog", {"mb": 8})
    assert "FunctionError" not in response and body == 8


def test_lambdas_jvm_flags_and_a_jdk_named_missing() -> None:
    assert jvm_options("java17", 17, 512)[:4] == [
        "-XX:MaxHeapSize=445645k",  # as Lambda's java17 starts at 512 MB
        "-XX:+UseSerialGC",
        "-XX:+TieredCompilation",
        "-XX:TieredStopAtLevel=1",
    ]
    assert jvm_options("java8.al2", 17, 1024)[:3] == [
        "-XX:MaxHeapSize=734003k",  # java8.al2 at 1024 MB
        "-XX:MaxMetaspaceSize=104858k",
        "-XX:ReservedCodeCacheSize=52429k",
    ]
    assert missing("java17", {"PATH": "/usr/bin"}) is None
    assert missing("java99", {}) == "java99 is not a Java runtime samrun knows"


def test_no_jdk_is_said_in_a_users_words(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(java, "SYSTEM_JDKS", tmp_path / "jvm")
    java.forget()
    try:
        assert missing("java21", {"PATH": str(tmp_path), "HOME": str(tmp_path)}) == (
            "no JDK found: install a JDK (Debian: apt-get install openjdk-17-jdk-headless) "
            "or set JAVA_HOME"
        )
    finally:
        java.forget()


def test_the_classpath_is_lambdas(tmp_path: Path) -> None:
    """The code root, its lib/*.jar, then the layers' java/lib/*.jar, each folder's jars in
    lexical order (Lambda's CustomerClassLoader)."""
    code, opt = tmp_path / "code", tmp_path / "opt"
    for jar_file in (code / "lib" / "b.jar", code / "lib" / "a.jar", opt / "java/lib/layer.jar"):
        jar_file.parent.mkdir(parents=True, exist_ok=True)
        jar_file.touch()
    (code / "lib" / "notes.txt").touch()
    assert java.classpath(code, opt, None) == [
        str(code),
        str(code / "lib" / "a.jar"),
        str(code / "lib" / "b.jar"),
        str(opt / "java/lib/layer.jar"),
    ]
