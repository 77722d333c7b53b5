"""What `cdk synth` records in a resource's `Metadata`: where an asset's local copy is.

CDK writes a function's `Code` (a layer's `Content`) as an object in its bootstrap bucket; the
local truth is `aws:asset:path` (a folder or file under cdk.out, relative to the template), and
`aws:asset:property` says which property it stands for. SAM CLI reads the same keys.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ASSET_PATH = "aws:asset:path"
ASSET_PROPERTY = "aws:asset:property"
CONSTRUCT_PATH = "aws:cdk:path"
_ASSET_PARAMETER = re.compile(r"AssetParameters([0-9a-f]{64})(S3Bucket|S3VersionKey|ArtifactHash)")


@dataclass(frozen=True, slots=True)
class DockerAsset:
    """An image asset: built from `dockerfile` in `context` with its build args and target."""

    context: Path
    dockerfile: str
    build_args: Mapping[str, str] = field(default_factory=dict)
    target: str | None = None


def _metadata(resource: Any) -> Mapping[str, Any]:
    metadata = resource.get("Metadata") if isinstance(resource, dict) else None
    return metadata if isinstance(metadata, dict) else {}


def asset_path(resource: Any, prop: str, base_dir: Path) -> Path | None:
    """The local asset that stands for `prop` (`Code`, `Content`), or None when not a CDK asset."""
    metadata = _metadata(resource)
    path, replaced = metadata.get(ASSET_PATH), metadata.get(ASSET_PROPERTY)
    if not isinstance(path, str) or not path or replaced not in (prop, None):
        return None
    return (base_dir / path).resolve()


def docker_asset(resource: Any, base_dir: Path) -> DockerAsset | None:
    """An image function's Docker asset (`aws:asset:dockerfile-path`, build args and target)."""
    metadata = _metadata(resource)
    path = metadata.get(ASSET_PATH)
    if not isinstance(path, str) or not path or metadata.get(ASSET_PROPERTY) != "Code.ImageUri":
        return None
    args = metadata.get("aws:asset:docker-build-args")
    target = metadata.get("aws:asset:docker-build-target")
    return DockerAsset(
        context=(base_dir / path).resolve(),
        dockerfile=str(metadata.get("aws:asset:dockerfile-path") or "Dockerfile"),
        build_args={str(k): str(v) for k, v in args.items()} if isinstance(args, dict) else {},
        target=str(target) if target else None,
    )


def construct_path(resource: Any) -> str | None:
    """The construct path CDK gave the resource (`MyStack/Api/Handler/Resource`), if any."""
    path = _metadata(resource).get(CONSTRUCT_PATH)
    return path if isinstance(path, str) and path else None


def asset_parameter(name: str) -> str | None:
    """A stand-in value for an asset parameter of CDK v1 (`AssetParameters<hash>S3Bucket`,
    `...S3VersionKey` as `key||version`, `...ArtifactHash`), which `cdk deploy` fills in: the
    asset's local copy is what runs, so these only need to resolve."""
    found = _ASSET_PARAMETER.fullmatch(name)
    if found is None:
        return None
    digest, kind = found.groups()
    if kind == "S3Bucket":
        return "cdk-assets-local"
    if kind == "S3VersionKey":
        return f"assets/||{digest}.zip"
    return digest
