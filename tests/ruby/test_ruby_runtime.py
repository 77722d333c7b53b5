"""Ruby functions on the process backend, through one real `samrun up`: samrun's Ruby runtime
client (runtime/bootstraps/ruby/bootstrap.rb) on the machine's `ruby`, a module method and a
class method answering an Invoke and an API route, Lambda's error JSON, the context object, the
timeout kill, an init error, and a gem vendored under vendor/bundle."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SamrunProcess, invoke_http, start_up

pytestmark = pytest.mark.skipif(shutil.which("ruby") is None, reason="needs ruby on PATH")

APP = r"""
require 'json'

def echo(event:, context:)
  reply = { 'event' => event, 'pid' => Process.pid,
            'remaining' => context.get_remaining_time_in_millis }
  event['httpMethod'] ? { 'statusCode' => 200, 'body' => JSON.generate(reply) } : reply
end

def probe(event:, context:)
  {
    'aws_request_id' => context.aws_request_id,
    'function_name' => context.function_name,
    'function_version' => context.function_version,
    'invoked_function_arn' => context.invoked_function_arn,
    'memory_limit_in_mb' => context.memory_limit_in_mb,
    'log_group_name' => context.log_group_name,
    'log_stream_name' => context.log_stream_name,
    'deadline_ms' => context.deadline_ms,
    'now_ms' => Process.clock_gettime(Process::CLOCK_REALTIME, :millisecond),
    'remaining' => context.get_remaining_time_in_millis,
    'identity' => context.identity,
    'client_context' => context.client_context,
    'cwd' => Dir.pwd,
    'handler' => ENV['_HANDLER'],
    'execution_env' => ENV['AWS_EXECUTION_ENV'],
  }
end

def fail(event:, context:)
  puts 'about to fail'
  raise ArgumentError, "bad order #{event['id']}"
end

def slow(event:, context:)
  sleep event['seconds']
  Process.pid
end

def gem(event:, context:)
  require 'shiny'
  { 'shiny' => Shiny.polish(event['text']), 'from' => $LOADED_FEATURES.grep(/shiny/).first }
end
"""

SHOP = r"""
module Shop
  class Orders
    def self.create(event:, context:)
      if event['httpMethod'] || event['requestContext']
        body = JSON.parse(event['body'] || '{}')
        { statusCode: 201, headers: { 'content-type' => 'application/json' },
          body: JSON.generate(created: body['item'], path: event['path']) }
      else
        { 'created' => event['item'], 'request' => context.aws_request_id }
      end
    end
  end
end
"""

GEMSPEC = """Gem::Specification.new do |s|
  s.name = "shiny"
  s.version = "1.0.0"
  s.summary = "a vendored gem"
  s.authors = ["samrun"]
  s.files = ["lib/shiny.rb"]
  s.require_paths = ["lib"]
end
"""

TEMPLATE = """Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: ruby3.3
    CodeUri: src/
    Timeout: 10
    MemorySize: 256
Resources:
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.echo
      Events:
        Get:
          Type: Api
          Properties: {Path: /echo, Method: post}
  Orders:
    Type: AWS::Serverless::Function
    Properties:
      Handler: lib/shop.Shop::Orders.create
      Events:
        Post:
          Type: Api
          Properties: {Path: /orders, Method: post}
  Probe:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.probe
      MemorySize: 512
  Fail:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.fail
  Slow:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.slow
      Timeout: 1
  Gem:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.gem
  Broken:
    Type: AWS::Serverless::Function
    Properties:
      Handler: missing_file.handler
"""


def ruby_abi() -> str:
    """The folder Bundler installs this Ruby's gems into (vendor/bundle/ruby/<it>)."""
    done = subprocess.run(
        ["ruby", "-e", 'print RbConfig::CONFIG["ruby_version"]'],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def write_app(folder: Path) -> Path:
    src = folder / "src"
    (src / "lib").mkdir(parents=True)
    (src / "app.rb").write_text(APP)
    (src / "lib" / "shop.rb").write_text(SHOP)
    # a gem as `bundle install --path vendor/bundle` lays it out: its code and its gemspec
    gems = src / "vendor" / "bundle" / "ruby" / ruby_abi()
    (gems / "gems" / "shiny-1.0.0" / "lib").mkdir(parents=True)
    (gems / "gems" / "shiny-1.0.0" / "lib" / "shiny.rb").write_text(
        'module Shiny\n  def self.polish(text)\n    "*#{text}*"\n  end\nend\n'
    )
    (gems / "specifications").mkdir()
    (gems / "specifications" / "shiny-1.0.0.gemspec").write_text(GEMSPEC)
    (folder / "template.yaml").write_text(TEMPLATE)
    return folder / "template.yaml"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SamrunProcess]:
    folder = tmp_path_factory.mktemp("ruby")
    process = start_up(write_app(folder), folder / ".samrun")
    yield process
    process.stop()


def call(server: SamrunProcess, name: str, payload: object = None) -> tuple[int, Any]:
    status, _, body = invoke_http(server.lambda_endpoint, name, payload)
    return status, body


def post(url: str, payload: object) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, json.loads(response.read())


def test_a_module_method_answers_an_invoke_and_an_api_route(server: SamrunProcess) -> None:
    status, body = call(server, "Echo", {"n": 1, "text": "héllo", "list": [1, None]})
    assert status == 200
    assert body["event"] == {"n": 1, "text": "héllo", "list": [1, None]}  # a Hash
    assert 0 < body["remaining"] <= 10_000
    status, reply = post(f"{server.api}/echo?x=1", {"via": "api"})
    assert status == 200
    assert reply["event"]["httpMethod"] == "POST"
    assert reply["event"]["queryStringParameters"] == {"x": "1"}
    assert json.loads(reply["event"]["body"]) == {"via": "api"}
    assert reply["pid"] == body["pid"]  # the same warm instance


def test_a_class_method_in_a_folder_answers_an_invoke_and_an_api_route(
    server: SamrunProcess,
) -> None:
    status, body = call(server, "Orders", {"item": "tea"})
    assert status == 200
    assert body["created"] == "tea"
    assert re.fullmatch(r"[0-9a-f-]{36}", body["request"])
    request = urllib.request.Request(
        f"{server.api}/orders", data=b'{"item": "cake"}', method="POST"
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 201
        assert response.headers["content-type"] == "application/json"
        assert json.loads(response.read()) == {"created": "cake", "path": "/orders"}


def test_context_values_are_lambdas(server: SamrunProcess) -> None:
    client_context = {"client": {"app_title": "shop"}, "custom": {"tier": "gold"}, "env": {}}
    lam = server.lambda_client()
    started = time.time() * 1000
    response = lam.invoke(  # type: ignore[attr-defined]
        FunctionName="Probe",
        Payload=b"{}",
        ClientContext=base64.b64encode(json.dumps(client_context).encode()).decode(),
    )
    body = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, body
    assert body["aws_request_id"] == response["ResponseMetadata"]["RequestId"]
    assert body["function_name"] == "Probe"
    assert body["function_version"] == "$LATEST"
    assert body["invoked_function_arn"] == "arn:aws:lambda:us-east-1:123456789012:function:Probe"
    assert body["memory_limit_in_mb"] == "512"  # a string, as Lambda's Ruby runtime gives it
    assert body["log_group_name"] == "/aws/lambda/Probe"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\]\w{32}", body["log_stream_name"])
    assert started < body["deadline_ms"] <= started + 10_000 + 5_000
    assert body["remaining"] == pytest.approx(body["deadline_ms"] - body["now_ms"], abs=50)
    assert 0 < body["remaining"] <= 10_000
    assert body["client_context"] == client_context  # parsed, a Hash
    assert body["identity"] is None
    assert Path(body["cwd"]).name == "src"
    assert body["handler"] == "app.probe"
    assert body["execution_env"] == "AWS_Lambda_ruby3.3"


def test_an_exception_comes_back_as_lambdas_error_json(server: SamrunProcess) -> None:
    lam = server.lambda_client()
    response = lam.invoke(FunctionName="Fail", Payload=b'{"id": 7}', LogType="Tail")  # type: ignore[attr-defined]
    body = json.loads(response["Payload"].read())
    assert response["FunctionError"] == "Unhandled"
    assert set(body) == {"errorMessage", "errorType", "stackTrace"}
    assert body["errorType"] == "Function<ArgumentError>"
    assert body["errorMessage"] == "bad order 7"
    assert re.search(r"app\.rb:\d+:in `fail'", body["stackTrace"][0])
    assert not any("bootstrap.rb" in line for line in body["stackTrace"])
    log = base64.b64decode(response["LogResult"]).decode()
    assert "about to fail" in log
    assert "Error raised from handler method" in log and '"Function<ArgumentError>"' in log
    status, body = call(server, "Echo", {"after": "error"})  # the instance still answers
    assert status == 200 and body["event"] == {"after": "error"}


def test_timeout_kills_the_instance_and_the_next_invocation_works(server: SamrunProcess) -> None:
    lam = server.lambda_client()
    response = lam.invoke(FunctionName="Slow", Payload=b'{"seconds": 30}')  # type: ignore[attr-defined]
    body = json.loads(response["Payload"].read())
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.0" in body["errorMessage"]
    response = lam.invoke(FunctionName="Slow", Payload=b'{"seconds": 0}')  # type: ignore[attr-defined]
    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read()) > 0


def test_a_gem_under_vendor_bundle_is_requirable(server: SamrunProcess) -> None:
    status, body = call(server, "Gem", {"text": "gem"})
    assert status == 200, body
    assert body["shiny"] == "*gem*"
    assert "/vendor/bundle/ruby/" in body["from"]


def test_an_init_error_is_reported_with_init_report(server: SamrunProcess) -> None:
    start = len(server.lines)
    status, body = call(server, "Broken")
    assert status == 200
    assert body["errorType"] == "Init<LoadError>"
    assert "missing_file" in body["errorMessage"]
    server.wait_for(r"INIT_REPORT Init Duration: .*Status: error", start=start)
