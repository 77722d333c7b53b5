"""A CDK app as `cdk synth` wrote it (tests/fixtures/cdk, see its README): plan, up, invoke."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.aws.helpers import aws_client, queue_url
from tests.conftest import FIXTURES, ROOT, SamrunProcess, invoke_http, wait_until
from tests.sources.helpers import poller

CDK = FIXTURES / "cdk"
STACK = "CdkAppStack.template.json"
NODE, PYTHON, IMAGE = "NodeHandler5860BD3A", "PyHandler75C1D713", "ImageHandlerBF86FD31"
SCHEMA = json.loads((ROOT / "schemas" / "plan.schema.json").read_text())


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """A copy of the CDK project (cdk.json, sources, cdk.out): tests may change it."""
    return Path(shutil.copytree(CDK / "app", tmp_path / "app"))


def samrun(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "samrun", *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=cwd,
    )


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=60) as response:
        assert response.status == 200
        return json.loads(response.read())


def test_plan_lists_every_function_with_its_asset(app: Path, tmp_path: Path) -> None:
    done = samrun("plan", f"cdk.out/{STACK}", "--json", "--state-dir", str(tmp_path / "s"), cwd=app)
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    jsonschema.validate(plan, SCHEMA)
    functions = {f["logical_id"]: f for f in plan["functions"]}
    assets = json.loads((app / "cdk.out" / STACK).read_text())["Resources"]
    for lid in (NODE, PYTHON):
        expected = app / "cdk.out" / assets[lid]["Metadata"]["aws:asset:path"]
        assert functions[lid]["code_uri"] == str(expected.resolve())
        assert functions[lid]["construct_path"] == f"CdkAppStack/{lid[:-8]}/Resource"
    (layer,) = plan["layers"]
    assert Path(layer["code_uri"]).parent == (app / "cdk.out").resolve()
    build = functions[IMAGE]["image_build"]
    assert Path(build["context"]).parent == (app / "cdk.out").resolve()
    assert build["dockerfile"] == "Dockerfile"
    assert build["build_args"] == {"GREETING": "hello-from-cdk"}
    assert functions[IMAGE]["code_uri"] == build["tag"]
    assert not [n for n in plan["not_run"] if n["what"] == "function"]
    table = samrun("plan", f"cdk.out/{STACK}", "--state-dir", str(tmp_path / "s"), cwd=app)
    assert "CONSTRUCT" in table.stdout and "CdkAppStack/PyHandler/Resource" in table.stdout


@pytest.fixture
def server(app: Path, samrun_up: Any) -> SamrunProcess:
    started: SamrunProcess = samrun_up(app / "cdk.out" / STACK)
    return started


def test_routes_url_queue_and_layer_answer(server: SamrunProcess) -> None:
    api = server.api
    assert get(f"{api}/node") == {"from": "node", "version": "v1"}
    assert get(f"{api}/http/node") == {"from": "node", "version": "v1"}
    greeting = {"from": "python", "greeting": "hello from the layer"}  # imported from the layer
    assert get(f"{api}/py") == greeting
    assert get(f"{api}/http/py") == greeting
    url = server.addresses[f"function URL of {NODE}"]
    assert get(f"{url}/") == {"from": "node", "version": "v1"}
    sqs = aws_client(server, "sqs")
    sqs.send_message(QueueUrl=queue_url(sqs, "WorkQueue94013F35"), MessageBody="cdk-job")
    server.wait_for(r"queue-batch cdk-job", timeout=60)
    wait_until(lambda: poller(server, NODE)["deleted"] == 1, timeout=30)


@pytest.mark.parametrize(
    "name", ["CdkAppStack/PyHandler/Resource", "CdkAppStack/PyHandler", "PyHandler"]
)
def test_invoke_by_construct_path_or_id(app: Path, tmp_path: Path, name: str) -> None:
    done = samrun("invoke", f"cdk.out/{STACK}", name, "--state-dir", str(tmp_path / "s"), cwd=app)
    assert done.returncode == 0, done.stderr
    assert "hello from the layer" in done.stdout


def test_lambda_api_takes_construct_ids(server: SamrunProcess) -> None:
    status, _, body = invoke_http(server.lambda_endpoint, "PyHandler")
    assert status == 200 and "hello from the layer" in body["body"]


def test_function_filter_takes_a_construct_path(app: Path, tmp_path: Path) -> None:
    done = samrun(
        "plan", f"cdk.out/{STACK}", "--json", "--function", "CdkAppStack/PyHandler",
        "--state-dir", str(tmp_path / "s"), cwd=app,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [f["logical_id"] for f in json.loads(done.stdout)["functions"]] == [PYTHON]


def test_what_cdk_adds_is_accepted_quietly(app: Path, tmp_path: Path) -> None:
    """CDKMetadata naming a condition the (trimmed) template lacks, the bootstrap version rule
    and parameter, and CDK's custom resources: named in the not-run list, never a refusal."""
    path = app / "cdk.out" / STACK
    template = json.loads(path.read_text())
    assert "CheckBootstrapVersion" in template["Rules"]
    assert "BootstrapVersion" in template["Parameters"]
    template["Resources"]["CDKMetadata"] = {
        "Type": "AWS::CDK::Metadata",
        "Properties": {"Analytics": "v2:deflate64:H4sIAAAAAAAA"},
        "Metadata": {"aws:cdk:path": "CdkAppStack/CDKMetadata/Default"},
        "Condition": "CDKMetadataAvailable",
    }
    for kind in ("Custom::LogRetention", "Custom::S3AutoDeleteObjects"):
        template["Resources"][kind.split("::")[1]] = {
            "Type": kind,
            "Properties": {"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:x"},
        }
    path.write_text(json.dumps(template))
    done = samrun("plan", str(path), "--json", "--state-dir", str(tmp_path / "s"), cwd=app)
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert len(plan["functions"]) == 3
    not_run = {n["type"]: n["reason"] for n in plan["not_run"]}
    assert "CDKMetadataAvailable" in not_run["AWS::CDK::Metadata"]  # left out, named
    assert "log retention" in not_run["Custom::LogRetention"]
    assert "auto-delete" in not_run["Custom::S3AutoDeleteObjects"]


def test_project_folder_without_synth_says_to_run_it(app: Path, tmp_path: Path) -> None:
    shutil.rmtree(app / "cdk.out")
    done = samrun("plan", "--state-dir", str(tmp_path / "s"), cwd=app)
    assert done.returncode == 2
    assert "run `cdk synth` first" in done.stderr and "Traceback" not in done.stderr


def test_several_stacks_need_a_stack_name(app: Path, tmp_path: Path) -> None:
    manifest_path = app / "cdk.out" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    artifacts = manifest["artifacts"]
    (app / "cdk.out" / "Other.template.json").write_text((app / "cdk.out" / STACK).read_text())
    other = json.loads(json.dumps(artifacts["CdkAppStack"]))
    other["displayName"] = "Other"
    other["properties"]["templateFile"] = "Other.template.json"
    artifacts["Other"] = other
    manifest_path.write_text(json.dumps(manifest))
    state = ["--state-dir", str(tmp_path / "s")]
    done = samrun("plan", *state, cwd=app)
    assert done.returncode == 2
    assert "--stack NAME (CdkAppStack, Other)" in done.stderr
    done = samrun("plan", "--json", "--stack", "Other", *state, cwd=app)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["template"].endswith("Other.template.json")
    done = samrun("plan", "cdk.out", "--json", "--stack", "Other", *state, cwd=app)
    assert done.returncode == 0, done.stderr  # the cloud assembly folder itself
    assert json.loads(done.stdout)["template"].endswith("Other.template.json")
    done = samrun("plan", "--stack", "Nope", *state, cwd=app)
    assert done.returncode == 2 and "--stack Nope: no such stack" in done.stderr


def test_up_in_the_project_finds_the_stack_and_watch_takes_a_new_synth(
    app: Path, tmp_path: Path
) -> None:
    server = SamrunProcess(
        ["up", "--watch", "--port", "0", "--invoke-port", "0", "--state-dir", str(tmp_path / "s")],
        cwd=app,
    )
    try:
        assert get(f"{server.api}/node") == {"from": "node", "version": "v1"}
        # as `cdk synth` writes: the new asset folder first, then the template and manifests
        new = CDK / "cdk.out.v2"
        for asset in new.glob("asset.*"):
            if not (app / "cdk.out" / asset.name).exists():
                shutil.copytree(asset, app / "cdk.out" / asset.name)
        for file in new.glob("*.json"):
            shutil.copy(file, app / "cdk.out" / file.name)
        wait_until(lambda: get(f"{server.api}/node")["version"] == "v2", timeout=60, interval=0.5)
        assert get(f"{server.api}/http/node") == {"from": "node", "version": "v2"}
    finally:
        server.stop()


@pytest.mark.parametrize(
    "name", ["ParentStack/Inner/InnerHandler", "Inner/InnerHandler", "InnerHandler"]
)
def test_a_cdk_nested_stack_runs_as_a_nested_application(tmp_path: Path, name: str) -> None:
    app = Path(shutil.copytree(CDK / "nested", tmp_path / "nested"))
    state = ["--state-dir", str(tmp_path / "s")]
    done = samrun("plan", "--json", *state, cwd=app)  # found through cdk.json
    assert done.returncode == 0, done.stderr
    (function,) = json.loads(done.stdout)["functions"]
    assert function["logical_id"].endswith("/InnerHandler0989901A")
    assert Path(function["code_uri"]).parent == (app / "cdk.out").resolve()
    assert len(function["name"]) <= 64
    done = samrun("invoke", name, *state, cwd=app)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"from": "inner"}


def test_cdk_bucket_notifications_drive_the_function(tmp_path: Path, samrun_up: Any) -> None:
    """`bucket.addEventNotification` is CDK's Custom::S3BucketNotifications: realised as the
    bucket's own notification configuration is (its prefix filter too)."""
    app = Path(shutil.copytree(CDK / "bucket", tmp_path / "bucket"))
    server: SamrunProcess = samrun_up(app / "cdk.out" / "BucketStack.template.json")
    s3 = aws_client(server, "s3")
    s3.put_object(Bucket="uploads4f6eb0fd", Key="in/report.csv", Body=b"a,b")
    server.wait_for(r"^OnUpload071E41C7 \| .*queue-batch", timeout=60)


def test_cdk_v1_asset_parameters_need_no_values(app: Path, tmp_path: Path) -> None:
    """CDK v1 wrote a function's Code from `AssetParameters<hash>...` parameters that `cdk
    deploy` fills in; the asset's local copy runs, without warnings or overrides."""
    path = app / "cdk.out" / STACK
    template = json.loads(path.read_text())
    digest = template["Resources"][NODE]["Metadata"]["aws:asset:path"].removeprefix("asset.")
    name = f"AssetParameters{digest}"
    for suffix in ("S3Bucket", "S3VersionKey", "ArtifactHash"):
        template["Parameters"][name + suffix] = {"Type": "String"}
    key = {"Fn::Split": ["||", {"Ref": f"{name}S3VersionKey"}]}
    template["Resources"][NODE]["Properties"]["Code"] = {
        "S3Bucket": {"Ref": f"{name}S3Bucket"},
        "S3Key": {"Fn::Join": ["", [{"Fn::Select": [0, key]}, {"Fn::Select": [1, key]}]]},
    }
    path.write_text(json.dumps(template))
    done = samrun("plan", "--json", "--state-dir", str(tmp_path / "s"), cwd=app)
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr
    functions = {f["logical_id"]: f for f in json.loads(done.stdout)["functions"]}
    assert functions[NODE]["code_uri"] == str((app / "cdk.out" / f"asset.{digest}").resolve())
