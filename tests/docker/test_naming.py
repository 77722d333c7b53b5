"""Pure rules of the docker backend: which image a runtime gets, which engine is local."""

from __future__ import annotations

import pytest

from samrun.runtime.docker import retarget
from samrun.runtime.docker_engine import is_local_engine, official_image
from samrun.template.sam import image_tag


@pytest.mark.parametrize(
    ("runtime", "arch", "image"),
    [
        ("python3.13", "x86_64", "public.ecr.aws/lambda/python:3.13-x86_64"),
        ("python3.11", "arm64", "public.ecr.aws/lambda/python:3.11-arm64"),
        ("nodejs22.x", "x86_64", "public.ecr.aws/lambda/nodejs:22-x86_64"),
        ("provided.al2023", "arm64", "public.ecr.aws/lambda/provided:al2023-arm64"),
        ("java21", "x86_64", "public.ecr.aws/lambda/java:21-x86_64"),
        ("ruby3.3", "x86_64", "public.ecr.aws/lambda/ruby:3.3-x86_64"),
    ],
)
def test_official_image_of_each_runtime(runtime: str, arch: str, image: str) -> None:
    assert official_image(runtime, arch) == image


@pytest.mark.parametrize(
    ("docker_host", "local"),
    [
        (None, True),
        ("unix:///var/run/docker.sock", True),
        ("tcp://127.0.0.1:2375", True),
        ("tcp://localhost:2376", True),
        ("tcp://192.0.2.10:2376", False),
        ("ssh://builder@192.0.2.10", False),
    ],
)
def test_remote_engines_are_told_from_local_ones(docker_host: str | None, local: bool) -> None:
    assert is_local_engine(docker_host) is local


def test_addresses_are_retargeted_to_the_container_host() -> None:
    assert retarget("127.0.0.1:4567", "10.0.0.5") == "10.0.0.5:4567"
    assert retarget("http://127.0.0.1:3001", "10.0.0.5") == "http://10.0.0.5:3001"


def test_built_images_are_tagged_as_sam_build_tags_them() -> None:
    assert image_tag("HelloFunction", {"Dockerfile": "Dockerfile", "DockerTag": "py3"}) == (
        "hellofunction:py3"
    )
    assert image_tag("Hello", {"Dockerfile": "Dockerfile"}) == "hello:latest"
    assert image_tag("Hello", {"DockerTag": "x"}) is None
