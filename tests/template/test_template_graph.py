"""load_graph: the app graph the execution core runs, from SAM and plain CloudFormation."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from samrun.errors import TemplateError
from samrun.model import AppGraph, Code, PackageType, RouteKind, is_unresolved
from samrun.template import load_graph
from tests.template.conftest import TEMPLATES


def test_functions_have_what_the_execution_core_needs(kitchen: AppGraph) -> None:
    api = kitchen.function("ApiFunction")
    assert api is not None and api.name == "dev-api"
    assert api.arn == "arn:aws:lambda:us-east-1:123456789012:function:dev-api"
    config = api.config
    assert (config.runtime, config.handler) == ("python3.12", "app.handler")
    assert config.code == Code(path=str(TEMPLATES / "src" / "py"))
    assert Path(config.code.path or "").is_absolute()
    assert (config.memory_mb, config.timeout_s, config.ephemeral_storage_mb) == (256, 10, 512)
    assert config.architectures == ("x86_64",)
    assert config.tracing == "Active"
    assert api.reserved_concurrency == 5


def test_environment_is_resolved_text(kitchen: AppGraph) -> None:
    env = kitchen.function("dev-api").config.environment  # type: ignore[union-attr]
    assert env["STAGE"] == "dev"
    assert env["LOG_LEVEL"] == "DEBUG"  # Globals + FindInMap
    assert env["TABLE"] == "dev-orders"
    assert env["QUEUE_URL"] == "https://sqs.us-east-1.amazonaws.com/123456789012/WorkQueue"
    assert (env["RETRIES"], env["VERBOSE"]) == ("3", "true")
    assert all(isinstance(v, str) for v in env.values())
    assert env["EXTERNAL"] == "${unresolved:Fn::ImportValue shared-vpc-id}"
    assert any("Fn::ImportValue shared-vpc-id" in w for w in kitchen.warnings)


def test_globals_and_function_settings_merge_as_sam_does(kitchen: AppGraph) -> None:
    worker = kitchen.function("Worker")
    assert worker is not None
    assert (worker.config.memory_mb, worker.config.timeout_s) == (1024, 60)
    assert worker.config.ephemeral_storage_mb == 2048
    assert worker.config.architectures == ("arm64",)
    assert worker.config.environment["STAGE"] == "dev"
    assert worker.dead_letter is not None and worker.dead_letter.type == "sqs"
    invoke = worker.invoke_config
    assert invoke is not None
    assert (invoke.maximum_retry_attempts, invoke.maximum_event_age_s) == (1, 300)
    assert invoke.on_success and invoke.on_success.arn.endswith(
        ":sns:us-east-1:123456789012:Alerts"
    )
    assert invoke.on_failure and invoke.on_failure.arn.endswith(
        ":sqs:us-east-1:123456789012:dead-letters"
    )


def test_inline_code_conditions_and_function_urls(kitchen: AppGraph) -> None:
    inline = kitchen.function("Inline")
    assert inline is not None and inline.config.code.inline is not None
    assert 'return "inline"' in inline.config.code.inline
    assert kitchen.function("ProdOnly") is None  # Condition IsProd is false for Stage=dev
    node = kitchen.function("NodeFunction")
    assert node is not None and node.function_url is not None
    assert node.function_url.invoke_mode == "RESPONSE_STREAM"


def test_parameter_overrides_change_the_graph() -> None:
    graph = load_graph(
        TEMPLATES / "sam_kitchen.yaml", parameter_overrides={"Stage": "prod", "Memory": "512"}
    )
    assert graph.function("prod-api") is not None
    assert graph.function("ProdOnly") is not None
    assert graph.function("NodeFunction") is None
    assert graph.function("Worker").config.environment["LOG_LEVEL"] == "INFO"  # type: ignore[union-attr]
    assert graph.function("Inline").config.memory_mb == 512  # type: ignore[union-attr]


def test_region_account_and_stack_name_flow_into_values() -> None:
    graph = load_graph(
        TEMPLATES / "sam_sources.yaml",
        region="eu-west-2",
        account_id="111122223333",
        stack_name="shop",
    )
    hook = graph.function("CodeDeployHook_shop_pre")
    assert hook is not None
    assert hook.arn == "arn:aws:lambda:eu-west-2:111122223333:function:CodeDeployHook_shop_pre"
    assert (graph.region, graph.account_id) == ("eu-west-2", "111122223333")


def test_auto_publish_alias_versions_and_deployment_preference(
    kitchen: AppGraph, sources: AppGraph
) -> None:
    api = kitchen.function("ApiFunction")
    assert api is not None and api.auto_publish_alias == "live"
    assert api.deployment_preference and api.deployment_preference.type == "Canary10Percent5Minutes"
    [version] = [v for v in kitchen.versions if v.function == "dev-api"]
    assert version.version == "1" and version.config == api.config
    [alias] = [a for a in kitchen.aliases if a.function == "dev-api"]
    assert (alias.name, alias.version, alias.provisioned_concurrency) == ("live", "1", 2)
    consumer = sources.function("Consumer")
    assert consumer is not None and consumer.auto_publish_alias == "prod"
    pref = consumer.deployment_preference
    assert pref and pref.pre_traffic_hook == "CodeDeployHook_samrun_pre"
    assert consumer.invoke_config and consumer.invoke_config.qualifier == "prod"
    hook = sources.function("CodeDeployHook_samrun_pre")
    assert hook and hook.deployment_preference and hook.deployment_preference.enabled is False


def test_layers_are_local_with_absolute_paths(kitchen: AppGraph) -> None:
    [layer] = kitchen.layers
    assert (layer.logical_id, layer.name) == ("CommonLayer", "common")
    assert layer.code.path == str(TEMPLATES / "layers" / "common")
    [ref] = kitchen.function("dev-api").config.layers  # type: ignore[union-attr]
    assert ref.arn == layer.arn and ref.code == layer.code and ref.logical_id == "CommonLayer"


def test_routes_event_sources_and_schedules(kitchen: AppGraph) -> None:
    routes = {(r.kind, r.method, r.path): r for r in kitchen.routes}
    get = routes[(RouteKind.REST, "GET", "/orders/{id}")]
    assert (get.function, get.qualifier, get.auth, get.stage) == (
        "dev-api",
        "live",
        "TokenAuth",
        "dev",
    )
    assert routes[(RouteKind.HTTP, "ANY", "$default")].payload_format == "2.0"
    assert routes[(RouteKind.FUNCTION_URL, "ANY", "/{proxy+}")].function == "NodeFunction"
    by_type = {m.source_type: m for m in kitchen.event_source_mappings}
    assert by_type["sqs"].batch_size == 5 and by_type["sqs"].function_response_types == (
        "ReportBatchItemFailures",
    )
    assert by_type["dynamodb"].source.endswith("table/dev-orders/stream/2024-01-01T00:00:00.000")
    assert by_type["dynamodb"].enabled is False
    assert {(s.expression, s.enabled) for s in kitchen.schedules} == {
        ("rate(5 minutes)", True),
        ("cron(0 3 * * ? *)", False),
    }
    push = {(p.type, p.source) for p in kitchen.push_sources}
    assert ("s3", "dev-uploads") in push and ("eventbridge", "orders-bus") in push
    assert ("sns", "arn:aws:sns:us-east-1:123456789012:Alerts") in push


def test_resources_to_provision(kitchen: AppGraph) -> None:
    resources = {r.logical_id: r for r in kitchen.resources}
    assert resources["Uploads"].name == "dev-uploads"  # BucketName lower-cased
    assert resources["DeadLetters"].name == "dead-letters"
    assert (
        resources["WorkQueue"]
        .properties["RedrivePolicy"]["deadLetterTargetArn"]
        .endswith(":dead-letters")
    )
    assert resources["Bus"].arn == "arn:aws:events:us-east-1:123456789012:event-bus/orders-bus"
    assert {r.type for r in kitchen.resources} == {
        "sqs",
        "sns",
        "s3",
        "kinesis",
        "dynamodb",
        "eventbridge",
    }


def test_plain_cloudformation_functions_versions_aliases(plain: AppGraph) -> None:
    fn = plain.function("test-fn")
    assert fn is not None and fn.config.memory_mb == 512
    assert fn.config.code.path == str(TEMPLATES / "src" / "py")
    env = fn.config.environment
    assert env["SUBNET"] == "b" and env["CIDRS"] == "10.0.0.0/24 10.0.1.0/24"
    assert env["AZ"] == "us-east-1a" and env["ENCODED"] == "aGVsbG8=" and env["SPLIT"] == "c"
    assert "MAYBE" not in env
    assert env["STACK"] == "samrun/us-east-1/123456789012"
    assert env["BUCKET_ARN"] == "arn:aws:s3:::bucket"
    assert is_unresolved(env["UNKNOWN"])
    assert [layer.arn for layer in fn.config.layers] == [
        "arn:aws:lambda:us-east-1:123456789012:layer:test-shared:1",
        "arn:aws:lambda:us-east-1:999999999999:layer:external:3",
    ]
    assert fn.config.layers[1].code is None
    assert [(v.version, v.provisioned_concurrency) for v in plain.versions] == [
        ("1", None),
        ("2", 1),
    ]
    [alias] = plain.aliases
    assert (alias.version, dict(alias.additional_version_weights)) == ("2", {"1": 0.25})
    assert fn.invoke_config and fn.invoke_config.maximum_retry_attempts == 0
    assert fn.function_url and (fn.function_url.auth_type, fn.function_url.qualifier) == (
        "AWS_IAM",
        "live",
    )
    assert plain.function("Remote").config.code == Code(remote="s3://my-artifacts/remote.zip")  # type: ignore[union-attr]
    assert plain.function("Boot").function_url is None  # NeverUrl's condition is false


def test_plain_cloudformation_routes_sources_and_alb(plain: AppGraph) -> None:
    routes = {(r.api, r.method, r.path): r for r in plain.routes}
    rest = routes[("RestApi", "GET", "/users/{id}")]
    assert (rest.function, rest.auth, rest.stage) == ("test-fn", "AWS_IAM", "v1")
    assert routes[("OpenApi", "POST", "/things")].function == "Boot"
    assert routes[("HttpApi", "DELETE", "/items/{id}")].payload_format == "1.0"
    assert routes[("QuickApi", "ANY", "$default")].function == "InlineFn"
    assert not any(r.path == "/mock" for r in plain.routes)
    mappings = {m.source_type: m for m in plain.event_source_mappings}
    assert (mappings["sqs"].function, mappings["sqs"].qualifier) == ("test-fn", "live")
    assert mappings["sqs"].source.endswith(":Queue.fifo")
    assert mappings["dynamodb"].details["BisectBatchOnFunctionError"] is True
    assert {(s.function, s.expression, s.input) for s in plain.schedules} == {
        ("test-fn", "rate(1 minute)", '{"tick": true}'),
        ("Boot", "rate(1 hour)", '{"hourly": 1}'),
    }
    [group] = plain.target_groups
    assert (group.function, group.multi_value_headers) == ("test-fn", True)
    assert group.health_check == {"enabled": True, "path": "/health"}
    [listener] = group.listeners
    assert listener.port == 8080 and [r.priority for r in listener.rules] == [10]


def test_sam_sources_brokers_streams_cognito_and_openapi_files(sources: AppGraph) -> None:
    types = sorted(m.source_type for m in sources.event_source_mappings)
    assert types == ["docdb", "kafka", "kafka", "mq"]
    assert {m.qualifier for m in sources.event_source_mappings} == {"prod"}
    assert [(p.type, p.details["trigger"]) for p in sources.push_sources] == [
        ("cognito", "PreSignUp")
    ]
    pets = sorted((r.method, r.path, r.stage) for r in sources.routes if r.api == "PetsApi")
    assert pets == [("ANY", "/pets/{id}", "v2"), ("GET", "/pets", "v2")]
    image = sources.function("Container")
    assert image is not None and image.config.package_type is PackageType.IMAGE
    assert image.config.runtime is None
    assert image.config.code.image_uri == "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:latest"


def test_graph_is_immutable(kitchen: AppGraph) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        kitchen.functions[0].name = "x"  # type: ignore[misc]


BROKEN = {
    "circular": (
        "Resources:\n  A:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: !Ref B\n"
        "  B:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: !GetAtt A.QueueName\n",
        "circular reference: A -> B -> A",
        ":5:7",
    ),
    "sam-cycle": (
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  A:\n"
        "    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: python3.12\n"
        "      Handler: a.b\n      InlineCode: x\n      Environment:\n        Variables:\n"
        "          PEER: !GetAtt B.Arn\n  B:\n    Type: AWS::Serverless::Function\n"
        "    Properties:\n      Runtime: python3.12\n      Handler: a.b\n      InlineCode: x\n"
        "      Environment:\n        Variables:\n          PEER: !GetAtt A.Arn\n",
        "circular reference: A -> B -> A",
        ":11:11",
    ),
    "sam-error": (
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n"
        "    Type: AWS::Serverless::Function\n    Properties:\n      PackageType: Image\n"
        "      Runtime: python3.12\n      ImageUri: x\n",
        "Resource with id [Fn] is invalid",
        ":3:3",
    ),
    "no-resources": ("Description: nothing\n", "no Resources", ":1:1"),
}


BROKEN_RESOURCE = {  # one resource is left out, located; the rest of the app runs
    "unknown-ref": (
        "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n"
        "  F:\n    Type: AWS::Lambda::Function\n    Properties:\n      Runtime: python3.12\n"
        "      Handler: a.b\n      Code: {ZipFile: x}\n      Environment:\n        Variables:\n"
        "          X: !Ref Nope\n",
        "Ref to 'Nope'",
        ":10:7",
    ),
    "bad-number": (
        "Resources:\n  F:\n    Type: AWS::Lambda::Function\n    Properties:\n"
        "      Runtime: python3.12\n      Handler: a.b\n      Code: {ZipFile: x}\n"
        "      MemorySize: lots\n",
        "MemorySize must be a number",
        ":8:7",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN_RESOURCE))
def test_a_broken_resource_is_left_out_located(case: str, tmp_path: Path) -> None:
    text, message, where = BROKEN_RESOURCE[case]
    path = tmp_path / "template.yaml"
    path.write_text(text + "  Other:\n    Type: AWS::SQS::Queue\n")
    graph = load_graph(path)
    assert [f.logical_id for f in graph.functions] == []
    [left_out] = [n for n in graph.not_run if n.name == "F"]
    assert left_out.what == "function" and message in left_out.reason
    assert left_out.location == f"{path}{where}"
    assert "Other" in {r.logical_id for r in graph.resources}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_templates_raise_one_located_error(case: str, tmp_path: Path) -> None:
    text, message, where = BROKEN[case]
    path = tmp_path / "template.yaml"
    path.write_text(text)
    with pytest.raises(TemplateError) as caught:
        load_graph(path)
    assert message in caught.value.message
    assert str(caught.value.location).endswith(where), str(caught.value)
    assert str(caught.value.location).startswith(str(path))


def test_a_nested_function_named_as_a_parent_function_is_left_out(tmp_path: Path) -> None:
    function = (
        "    Type: AWS::Lambda::Function\n    Properties:\n      FunctionName: same\n"
        "      Runtime: python3.12\n      Handler: a.b\n      Code: {ZipFile: x}\n"
    )
    (tmp_path / "child.yaml").write_text(f"Resources:\n  Inner:\n{function}")
    parent = tmp_path / "template.yaml"
    parent.write_text(
        f"Resources:\n  Outer:\n{function}  Child:\n    Type: AWS::CloudFormation::Stack\n"
        "    Properties:\n      TemplateURL: child.yaml\n"
    )
    graph = load_graph(parent)
    assert [f.logical_id for f in graph.functions] == ["Outer"]
    [left_out] = [n for n in graph.not_run if n.name == "Child/Inner"]
    assert left_out.what == "function" and "the parent's runs" in left_out.reason
    assert left_out.location == f"{parent}:11:5"  # the child stack's Properties
