"""Layers named only by ARN are listed, warned about at startup, and `--layer-map ARN=PATH`
provides them, or, with `--aws-profile`, a download from the profile's endpoint (a moto server
here) (tests/fixtures/templates/compat/remote_layer.yaml)."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import invoke_http
from tests.template.conftest import TEMPLATES, run_samrun

TEMPLATE = TEMPLATES / "compat" / "remote_layer.yaml"
ARN = "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python311-x86_64:7"
LAYER = TEMPLATES / "compat" / "powertools"
FAKE = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def test_plan_lists_the_remote_layer(tmp_path: Path) -> None:
    result = run_samrun("plan", str(TEMPLATE), "--json", "--state-dir", str(tmp_path))
    doc = json.loads(result.stdout)
    assert doc["functions"][0]["layers"] == [ARN]
    assert [(n["what"], n["name"]) for n in doc["not_run"]] == [("layer", ARN)]
    mapped = run_samrun(
        "plan",
        str(TEMPLATE),
        "--json",
        "--state-dir",
        str(tmp_path),
        "--layer-map",
        f"{ARN}={LAYER}",
    )
    assert json.loads(mapped.stdout)["not_run"] == []


def test_up_warns_without_a_map_and_runs_with_one(samrun_up: Any) -> None:
    bare = samrun_up(TEMPLATE)
    warned = [line for line in bare.lines if ARN in line]
    assert len(warned) == 1 and "--layer-map" in warned[0]
    status, _, body = invoke_http(bare.lambda_endpoint, "Tool", {})
    assert body["errorType"] == "ModuleNotFoundError"  # the layer is not there
    bare.stop()
    mapped = samrun_up(TEMPLATE, "--layer-map", f"{ARN}={LAYER}")
    assert not any(ARN in line for line in mapped.lines)
    status, _, body = invoke_http(mapped.lambda_endpoint, "Tool", {})
    assert (status, body) == (200, {"powertools": "samrun-test-stand-in"})


def test_a_map_to_a_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    result = run_samrun(
        "plan", str(TEMPLATE), "--state-dir", str(tmp_path), "--layer-map", f"{ARN}=/nope"
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"samrun: --layer-map {ARN}: /nope does not exist"


@pytest.fixture
def aws_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto server standing in for AWS, reached through a profile whose `endpoint_url` names
    it (botocore reads it from AWS_CONFIG_FILE). moto answers GetLayerVersionByArn with a bare
    `s3://` Location; AWS answers a presigned URL of the layer's zip, so moto is made to answer
    one of its own S3, which serves the zip."""
    from moto.awslambda.models import LayerVersion
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **FAKE)
    original = LayerVersion.get_layer_version

    def presigned(self: Any) -> dict[str, Any]:
        shape: dict[str, Any] = original(self)
        code = self.content or {}
        params = {"Bucket": code.get("S3Bucket"), "Key": code.get("S3Key")}
        shape["Content"]["Location"] = s3.generate_presigned_url("get_object", Params=params)
        return shape

    monkeypatch.setattr(LayerVersion, "get_layer_version", presigned)
    config = tmp_path / "aws-config"
    config.write_text(
        "[profile local-moto]\n"
        "region = us-east-1\n"
        f"endpoint_url = {endpoint}\n"
        "aws_access_key_id = testing\n"
        "aws_secret_access_key = testing\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    layer = io.BytesIO()
    with zipfile.ZipFile(layer, "w") as archive:
        for path in sorted(LAYER.rglob("*.py")):
            archive.write(path, path.relative_to(LAYER).as_posix())
    s3.create_bucket(Bucket="layers")
    s3.put_object(Bucket="layers", Key="powertools.zip", Body=layer.getvalue())
    published = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1", **FAKE)
    arn = published.publish_layer_version(
        LayerName="Powertools",
        Content={"S3Bucket": "layers", "S3Key": "powertools.zip"},
        CompatibleRuntimes=["python3.11"],
    )["LayerVersionArn"]
    yield arn
    server.stop()


def test_a_layer_named_by_arn_is_downloaded_with_aws_profile(
    samrun_up: Any, aws_profile: str, tmp_path: Path
) -> None:
    app = tmp_path / "app"
    shutil.copytree(TEMPLATE.parent / "src", app / "src")
    (app / "template.yaml").write_text(TEMPLATE.read_text().replace(ARN, aws_profile))
    server = samrun_up(app / "template.yaml", "--aws-profile", "local-moto")
    assert any(f"layer {aws_profile}: downloaded" in line for line in server.lines)
    assert not any("not run" in line and aws_profile in line for line in server.lines)
    status, _, body = invoke_http(server.lambda_endpoint, "Tool", {})
    assert (status, body) == (200, {"powertools": "samrun-test-stand-in"})
    saved = list((tmp_path / ".samrun" / "remote-layers").glob("*.zip"))
    assert len(saved) == 1
    server.stop()
    again = samrun_up(app / "template.yaml", "--aws-profile", "local-moto")  # kept: no download
    assert not any("downloaded" in line for line in again.lines)
    status, _, body = invoke_http(again.lambda_endpoint, "Tool", {})
    assert (status, body) == (200, {"powertools": "samrun-test-stand-in"})
