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


PARTIAL = """Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: a.b
      InlineCode: x
      AutoPublishAlias: live
      PermissionsBoundary: arn:aws:iam::123456789012:policy/boundary
      VpcConfig: {SubnetIds: [subnet-1], SecurityGroupIds: [!Ref Group]}
  Group: {Type: AWS::EC2::SecurityGroup, Properties: {GroupDescription: g}}
  Ingress: {Type: AWS::EC2::SecurityGroupIngress, Properties: {GroupId: !Ref Group}}
  Egress: {Type: AWS::EC2::SecurityGroupEgress, Properties: {GroupId: !Ref Group}}
  Gateway: {Type: AWS::EC2::VPCEndpoint, Properties: {ServiceName: com.amazonaws.us-east-1.s3}}
  Bounded:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {Version: '2012-10-17', Statement: []}
      PermissionsBoundary: arn:aws:iam::123456789012:policy/boundary
  User: {Type: AWS::IAM::User}
  Team: {Type: AWS::IAM::Group}
  Profile: {Type: AWS::IAM::InstanceProfile, Properties: {Roles: [!Ref Bounded]}}
  Site: {Type: AWS::S3::Bucket}
  Rewrite: {Type: AWS::CloudFront::Function, Properties: {Name: r, AutoPublish: true}}
  Policy: {Type: AWS::CloudFront::CachePolicy, Properties: {CachePolicyConfig: {}}}
  Forward: {Type: AWS::CloudFront::OriginRequestPolicy, Properties: {OriginRequestPolicyConfig: {}}}
  Secure:
    Type: AWS::CloudFront::ResponseHeadersPolicy
    Properties: {ResponseHeadersPolicyConfig: {}}
  Control: {Type: AWS::CloudFront::OriginAccessControl, Properties: {OriginAccessControlConfig: {}}}
  Identity: {Type: AWS::CloudFront::CloudFrontOriginAccessIdentity,
             Properties: {CloudFrontOriginAccessIdentityConfig: {Comment: c}}}
  Cdn:
    Type: AWS::CloudFront::Distribution
    Properties:
      DistributionConfig:
        Enabled: true
        Aliases: [www.example.com]
        ViewerCertificate: {AcmCertificateArn: arn:aws:acm:us-east-1:123456789012:certificate/1}
        WebACLId: arn:aws:wafv2:us-east-1:123456789012:global/webacl/w/1
        Logging: {Bucket: logs.s3.amazonaws.com}
        Restrictions: {GeoRestriction: {RestrictionType: whitelist, Locations: [FR]}}
        OriginGroups: {Quantity: 1, Items: [{Id: g}]}
        CustomErrorResponses: [{ErrorCode: 404, ResponsePagePath: /404.html, ResponseCode: 404}]
        Origins:
          - {Id: site, DomainName: !GetAtt Site.RegionalDomainName, S3OriginConfig: {},
             OriginAccessControlId: !GetAtt Control.Id}
        CacheBehaviors:
          - PathPattern: /legacy/*
            TargetOriginId: site
            ViewerProtocolPolicy: https-only
            ForwardedValues: {QueryString: false, Headers: [Accept], Cookies: {Forward: all}}
            TrustedKeyGroups: [k]
            FieldLevelEncryptionId: f
            RealtimeLogConfigArn: arn:aws:cloudfront::123456789012:realtime-log-config/r
        DefaultCacheBehavior:
          TargetOriginId: site
          ViewerProtocolPolicy: redirect-to-https
          CachePolicyId: !Ref Policy
          OriginRequestPolicyId: !Ref Forward
          ResponseHeadersPolicyId: !Ref Secure
          FunctionAssociations:
            - {EventType: viewer-request, FunctionARN: !GetAtt Rewrite.FunctionARN}
  Target:
    Type: AWS::ApplicationAutoScaling::ScalableTarget
    Properties:
      ServiceNamespace: lambda
      ScalableDimension: lambda:function:ProvisionedConcurrency
      ResourceId: function:Fn:live
      MinCapacity: 1
      MaxCapacity: 5
  Steps:
    Type: AWS::ApplicationAutoScaling::ScalingPolicy
    Properties:
      PolicyName: steps
      PolicyType: StepScaling
      ScalingTargetId: !Ref Target
  Math:
    Type: AWS::ApplicationAutoScaling::ScalingPolicy
    Properties:
      PolicyName: math
      PolicyType: TargetTrackingScaling
      ScalingTargetId: !Ref Target
      TargetTrackingScalingPolicyConfiguration:
        TargetValue: 0.7
        CustomizedMetricSpecification: {Metrics: [{Id: m1, Expression: 'a / b'}]}
  TableTarget:
    Type: AWS::ApplicationAutoScaling::ScalableTarget
    Properties:
      ServiceNamespace: dynamodb
      ScalableDimension: dynamodb:table:ReadCapacityUnits
      ResourceId: table/t
      MinCapacity: 1
      MaxCapacity: 5
"""

NAMED = {  # (what, name, type) -> words its reason must hold
    ("property", "Cdn.Aliases", "Aliases"): "alternate domain names",
    ("property", "Cdn.ViewerCertificate", "ViewerCertificate"): "plain HTTP",
    ("property", "Cdn.WebACLId", "WebACLId"): "WAF",
    ("property", "Cdn.Logging", "Logging"): "logs",
    ("property", "Cdn.Restrictions", "Restrictions"): "geographic",
    ("property", "Cdn.OriginGroups", "OriginGroups"): "failover",
    ("property", "Cdn.FunctionAssociations", "FunctionAssociations"): "CloudFront Functions",
    ("property", "Cdn.CachePolicyId", "CachePolicyId"): "cache policy",
    ("property", "Cdn.OriginRequestPolicyId", "OriginRequestPolicyId"): "origin request policy",
    ("property", "Cdn.ResponseHeadersPolicyId", "ResponseHeadersPolicyId"): "response headers",
    ("property", "Cdn.FieldLevelEncryptionId", "FieldLevelEncryptionId"): "field-level",
    ("property", "Cdn.TrustedKeyGroups", "TrustedKeyGroups"): "signed URLs",
    ("property", "Cdn.RealtimeLogConfigArn", "RealtimeLogConfigArn"): "real-time logs",
    ("property", "Cdn.ViewerProtocolPolicy", "ViewerProtocolPolicy"): "viewers are not redirected",
    ("property", "Cdn.ForwardedValues", "ForwardedValues"): "does not key on them",
    ("property", "Cdn.OriginAccess", "OriginAccessControlId"): "subsumed",
    ("resource", "Rewrite", "AWS::CloudFront::Function"): "CloudFront Functions",
    ("resource", "Policy", "AWS::CloudFront::CachePolicy"): "cache policies",
    ("resource", "Forward", "AWS::CloudFront::OriginRequestPolicy"): "origin request",
    ("resource", "Secure", "AWS::CloudFront::ResponseHeadersPolicy"): "response headers",
    ("property", "Fn.VpcConfig.SecurityGroupIds", "SecurityGroupIds"): "not evaluated",
    ("resource", "Group", "AWS::EC2::SecurityGroup"): "security groups",
    ("resource", "Ingress", "AWS::EC2::SecurityGroupIngress"): "security groups",
    ("resource", "Egress", "AWS::EC2::SecurityGroupEgress"): "security groups",
    ("resource", "Gateway", "AWS::EC2::VPCEndpoint"): "always reachable",
    ("property", "Fn.PermissionsBoundary", "PermissionsBoundary"): "boundary is not applied",
    ("property", "Bounded.PermissionsBoundary", "PermissionsBoundary"): "boundary is not applied",
    ("resource", "User", "AWS::IAM::User"): "execution role",
    ("resource", "Team", "AWS::IAM::Group"): "execution role",
    ("resource", "Profile", "AWS::IAM::InstanceProfile"): "execution role",
    ("resource", "Steps", "AWS::ApplicationAutoScaling::ScalingPolicy"): "StepScaling",
    ("resource", "Math", "AWS::ApplicationAutoScaling::ScalingPolicy"): "metric math",
    ("resource", "TableTarget", "AWS::ApplicationAutoScaling::ScalableTarget"): "dynamodb",
}


@pytest.mark.parametrize("enforce", [(), ("--enforce-iam",)], ids=["default", "enforce-iam"])
def test_partly_read_resources_name_each_part_not_applied(
    enforce: tuple[str, ...], tmp_path: Path
) -> None:
    """CloudFront, VPC, IAM and scaling settings samrun does not apply are each named once,
    with what they are; OAC/OAI are subsumed (not named); the distribution is still served."""
    path = tmp_path / "template.yaml"
    path.write_text(PARTIAL)
    state = str(tmp_path / "state")
    done = run_samrun("plan", str(path), "--json", "--state-dir", state, *enforce)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    found = {(n["what"], n["name"], n["type"]): n["reason"] for n in document["not_run"]}
    for key, words in NAMED.items():
        assert key in found, key
        assert words in found[key], (key, found[key])
    keys = [(n["what"], n["name"], n["type"]) for n in document["not_run"]]
    assert len(keys) == len(set(keys))
    types = {n["type"] for n in document["not_run"]}
    assert not types & {
        "AWS::CloudFront::Distribution",
        "AWS::CloudFront::OriginAccessControl",
        "AWS::CloudFront::CloudFrontOriginAccessIdentity",
    }
    [cdn] = document["distributions"]
    assert cdn["error_responses"] == [
        {"code": 404, "page_path": "/404.html", "response_code": 404, "min_ttl": 10}
    ]


def test_a_default_certificate_and_allow_all_are_not_named(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(
        "Resources:\n  Site: {Type: AWS::S3::Bucket}\n  Cdn:\n"
        "    Type: AWS::CloudFront::Distribution\n    Properties:\n      DistributionConfig:\n"
        "        ViewerCertificate: {CloudFrontDefaultCertificate: true}\n"
        "        Origins: [{Id: s, DomainName: !GetAtt Site.RegionalDomainName,"
        " S3OriginConfig: {}}]\n"
        "        DefaultCacheBehavior: {TargetOriginId: s, ViewerProtocolPolicy: allow-all,"
        " ForwardedValues: {QueryString: true}}\n"
    )
    assert load_graph(path).not_run == ()
