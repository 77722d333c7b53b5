"""No silent drops: every resource type and SAM event type samrun's plan knows is either realised
or named in the "not run locally" list (plan, startup, /_samrun/state)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from samrun.model import AppGraph
from samrun.template import load_graph
from samrun.template.coverage import NOT_ENFORCED, REALISED, REASONS, SAM_EVENTS, SUBSUMED
from samrun.template.refs import _BUILDERS
from tests.template.conftest import ROOT, run_samrun

SOURCES = "\n".join(
    p.read_text()
    for folder in ("template", "aws")
    for p in (ROOT / "samrun" / folder).glob("*.py")
    if p.name != "coverage.py"
)
UNKNOWN = ("AWS::AppSync::GraphQLApi", "AWS::EC2::VPC", "Custom::Thing", "AWS::Glue::Job")
KNOWN_TYPES = sorted({*REALISED, *SUBSUMED, *NOT_ENFORCED, *REASONS, *_BUILDERS, *UNKNOWN})


@pytest.mark.parametrize("kind", sorted(REALISED))
def test_each_realised_type_is_read_by_samrun(kind: str) -> None:
    assert f'"{kind}"' in SOURCES, f"{kind} is called realised but nothing reads it"


@pytest.mark.parametrize("kind", KNOWN_TYPES)
def test_each_resource_type_is_realised_or_named(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(f"Resources:\n  Thing:\n    Type: {kind}\n    Properties: {{}}\n")
    graph = load_graph(path)
    named = [n for n in graph.not_run if n.type == kind]
    if kind in REALISED or kind in SUBSUMED:  # realised; left out only for its own error
        assert [n for n in named if n.location is None] == []
    else:
        assert len(named) == 1 and named[0].what == "resource" and "Thing" in named[0].name


EVENTS = {
    "Api": "{Path: /x, Method: get}",
    "HttpApi": "{Path: /x, Method: get}",
    "SQS": "{Queue: !GetAtt Queue.Arn}",
    "Kinesis": "{Stream: !GetAtt Stream.Arn, StartingPosition: LATEST}",
    "DynamoDB": "{Stream: !GetAtt Table.StreamArn, StartingPosition: LATEST}",
    "MSK": "{Stream: 'arn:aws:kafka:us-east-1:123456789012:cluster/c/1', StartingPosition: LATEST,"
    " Topics: [t]}",
    "MQ": "{Broker: 'arn:aws:mq:us-east-1:123456789012:broker:b:1', Queues: [q],"
    " SourceAccessConfigurations: [{Type: BASIC_AUTH, URI: !Ref Secret}]}",
    "SelfManagedKafka": "{KafkaBootstrapServers: ['a:9092'], Topics: [t],"
    " SourceAccessConfigurations: [{Type: BASIC_AUTH, URI: !Ref Secret}]}",
    "DocumentDB": "{Cluster: 'arn:aws:rds:us-east-1:123456789012:cluster:c', DatabaseName: d,"
    " CollectionName: c, StartingPosition: LATEST,"
    " SourceAccessConfigurations: [{Type: BASIC_AUTH, URI: !Ref Secret}]}",
    "S3": "{Bucket: !Ref Bucket, Events: 's3:ObjectCreated:*'}",
    "SNS": "{Topic: !Ref Topic}",
    "EventBridgeRule": "{Pattern: {source: [x]}}",
    "CloudWatchEvent": "{Pattern: {source: [x]}}",
    "Schedule": "{Schedule: rate(1 minute)}",
    "ScheduleV2": "{ScheduleExpression: rate(1 minute)}",
    "CloudWatchLogs": "{LogGroupName: lg, FilterPattern: ''}",
    "IoTRule": "{Sql: \"SELECT * FROM 'x'\"}",
    "Cognito": "{UserPool: !Ref Pool, Trigger: PreSignUp}",
    "AlexaSkill": "{SkillId: amzn1.ask.skill.x}",
}
SUPPORT = """  Queue: {Type: AWS::SQS::Queue}
  Stream: {Type: AWS::Kinesis::Stream, Properties: {ShardCount: 1}}
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      BillingMode: PAY_PER_REQUEST
      StreamSpecification: {StreamViewType: NEW_IMAGE}
  Bucket: {Type: AWS::S3::Bucket}
  Topic: {Type: AWS::SNS::Topic}
  Pool: {Type: AWS::Cognito::UserPool}
  Secret: {Type: AWS::SecretsManager::Secret}
"""


def test_the_walk_covers_every_sam_event_type() -> None:
    assert set(EVENTS) == set(SAM_EVENTS)


def _uses(graph: AppGraph, function: str) -> bool:
    found = [
        *(r.function for r in graph.routes),
        *(m.function for m in graph.event_source_mappings),
        *(p.function for p in graph.push_sources),
        *(s.function for s in graph.schedules),
    ]
    return function in found


@pytest.mark.parametrize("event", sorted(EVENTS))
def test_each_event_type_is_realised_or_named(event: str, tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n"
        "  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        "      Runtime: python3.12\n      Handler: a.b\n      InlineCode: x\n"
        f"      Events:\n        Trigger:\n          Type: {event}\n"
        f"          Properties: {EVENTS[event]}\n" + SUPPORT
    )
    graph = load_graph(path)
    named = [n for n in graph.not_run if n.what == "event" and n.name == "Fn.Events.Trigger"]
    if SAM_EVENTS[event] is None:
        assert len(named) == 1 and named[0].type == event
    else:
        assert _uses(graph, "Fn") and named == [], graph.not_run


def test_plan_lists_what_is_not_run_as_table_and_json(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n"
        "  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        "      Runtime: python3.12\n      Handler: a.b\n      InlineCode: x\n"
        "      FileSystemConfigs:\n"
        "        - {Arn: 'arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-1',"
        " LocalMountPath: /mnt/efs}\n"
        "  Graph: {Type: AWS::AppSync::GraphQLApi,"
        " Properties: {Name: g, AuthenticationType: API_KEY}}\n"
    )
    state = str(tmp_path / "state")
    table = run_samrun("plan", str(path), "--state-dir", state)
    assert table.returncode == 0, table.stderr
    assert "Not run locally (2)" in table.stdout
    assert "property  Fn.FileSystemConfigs  FileSystemConfigs" in table.stdout
    doc = json.loads(run_samrun("plan", str(path), "--json", "--state-dir", state).stdout)
    assert {(n["what"], n["name"], n["type"]) for n in doc["not_run"]} == {
        ("property", "Fn.FileSystemConfigs", "FileSystemConfigs"),
        ("resource", "Graph", "AWS::AppSync::GraphQLApi"),
    }


COMPAT = [
    p
    for p in sorted((ROOT / "tests" / "fixtures" / "templates" / "compat").rglob("template.yaml"))
    + sorted((ROOT / "tests" / "fixtures" / "templates" / "compat").glob("*.yaml"))
    if p.name != "dup_names.yaml" and "child" not in p.parts
]


@pytest.mark.parametrize("path", COMPAT, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_compat_plans_validate_against_the_schema(path: Path, tmp_path: Path) -> None:
    import jsonschema

    schema = json.loads((ROOT / "schemas" / "plan.schema.json").read_text())
    result = run_samrun("plan", str(path), "--json", "--state-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    jsonschema.validate(json.loads(result.stdout), schema)
