"""What samrun reads from CDK's resource Metadata, and the names a construct path gives."""

from __future__ import annotations

from pathlib import Path

from samrun.model import construct_names
from samrun.template.cdk import (
    DockerAsset,
    asset_parameter,
    asset_path,
    construct_path,
    docker_asset,
)

BASE = Path("/app/cdk.out")


def test_asset_path_stands_for_its_property_only() -> None:
    resource = {"Metadata": {"aws:asset:path": "asset.abc", "aws:asset:property": "Content"}}
    assert asset_path(resource, "Content", BASE) == BASE / "asset.abc"
    assert asset_path(resource, "Code", BASE) is None
    assert asset_path({"Metadata": {"aws:cdk:path": "S/F/Resource"}}, "Code", BASE) is None
    assert asset_path({"Properties": {}}, "Code", BASE) is None


def test_docker_asset_reads_dockerfile_build_args_and_target() -> None:
    metadata = {
        "aws:asset:path": "asset.img",
        "aws:asset:property": "Code.ImageUri",
        "aws:asset:dockerfile-path": "docker/Dockerfile.lambda",
        "aws:asset:docker-build-args": {"A": "1"},
        "aws:asset:docker-build-target": "runtime",
    }
    assert docker_asset({"Metadata": metadata}, BASE) == DockerAsset(
        context=BASE / "asset.img",
        dockerfile="docker/Dockerfile.lambda",
        build_args={"A": "1"},
        target="runtime",
    )
    zip_asset = {"Metadata": {"aws:asset:path": "asset.z", "aws:asset:property": "Code"}}
    assert docker_asset(zip_asset, BASE) is None


def test_construct_names_with_and_without_stack_and_resource() -> None:
    assert construct_path({"Metadata": {"aws:cdk:path": "S/Api/Handler/Resource"}}) == (
        "S/Api/Handler/Resource"
    )
    paths, ids = construct_names("S/Api/Handler/Resource")
    assert paths == {"S/Api/Handler/Resource", "S/Api/Handler", "Api/Handler"}
    assert ids == {"Handler"}
    assert construct_names(None) == (frozenset(), frozenset())


def test_cdk_v1_asset_parameters_get_stand_ins() -> None:
    digest = "ab" * 32
    assert asset_parameter(f"AssetParameters{digest}S3VersionKey") == f"assets/||{digest}.zip"
    assert asset_parameter(f"AssetParameters{digest}ArtifactHash") == digest
    assert asset_parameter(f"AssetParameters{digest}S3Bucket")
    assert asset_parameter("BootstrapVersion") is None
