"""The Lambda API's response shapes (FunctionConfiguration, GetFunction), from the graph."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

from samrun.invoke.arn import function_arn
from samrun.model import LATEST, AppGraph, Function, FunctionConfig

LAST_MODIFIED = "1970-01-01T00:00:00.000+0000"


def function_configuration(
    graph: AppGraph, function: Function, version: str = LATEST, config: FunctionConfig | None = None
) -> dict[str, Any]:
    config = config or function.config
    qualified = None if version == LATEST and config is function.config else version
    shape: dict[str, Any] = {
        "FunctionName": function.name,
        "FunctionArn": function_arn(graph.region, graph.account_id, function.name, qualified),
        "Runtime": config.runtime,
        "Role": function.role or f"arn:aws:iam::{graph.account_id}:role/{function.name}-role",
        "Handler": config.handler,
        "CodeSize": code_size(config),
        "Description": config.description,
        "Timeout": config.timeout_s,
        "MemorySize": config.memory_mb,
        "LastModified": LAST_MODIFIED,
        "CodeSha256": code_sha256(config),
        "Version": version,
        "Environment": {"Variables": dict(config.environment)},
        "TracingConfig": {"Mode": config.tracing or "PassThrough"},
        "Layers": [{"Arn": layer.arn, "CodeSize": 0} for layer in config.layers],
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": config.package_type.value,
        "Architectures": list(config.architectures),
        "EphemeralStorage": {"Size": config.ephemeral_storage_mb},
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{function.name}"},
    }
    if config.runtime is None:
        del shape["Runtime"], shape["Handler"]
    return shape


def get_function_shape(
    graph: AppGraph, function: Function, version: str = LATEST, config: FunctionConfig | None = None
) -> dict[str, Any]:
    config = config or function.config
    location = config.code.path or config.code.image_uri or config.code.remote or ""
    shape: dict[str, Any] = {
        "Configuration": function_configuration(graph, function, version, config),
        "Code": {
            "RepositoryType": "S3",
            "Location": Path(location).as_uri() if location.startswith("/") else location,
        },
        "Tags": {},
    }
    if function.reserved_concurrency is not None:
        shape["Concurrency"] = {"ReservedConcurrentExecutions": function.reserved_concurrency}
    return shape


def code_files(config: FunctionConfig) -> list[Path]:
    path = Path(config.code.path) if config.code.path else None
    if path is None or not path.exists():
        return []
    if path.is_file():
        return [path]
    skip = {"__pycache__", ".git", ".aws-sam", ".samrun", "node_modules/.cache"}
    files = []
    for root, dirs, names in os.walk(path):
        dirs[:] = sorted(d for d in dirs if d not in skip)
        files.extend(Path(root) / name for name in sorted(names))
    return files


def code_sha256(config: FunctionConfig) -> str:
    """Lambda's CodeSha256 (base64 SHA-256); for a folder, over its files' paths and bytes."""
    digest = hashlib.sha256()
    if config.code.inline is not None:
        digest.update(config.code.inline.encode())
    base = Path(config.code.path) if config.code.path else None
    for file in code_files(config):
        if base is not None and base.is_dir():
            digest.update(str(file.relative_to(base)).encode() + b"\0")
        digest.update(file.read_bytes())
    return base64.b64encode(digest.digest()).decode()


def code_size(config: FunctionConfig) -> int:
    if config.code.inline is not None:
        return len(config.code.inline.encode())
    return sum(file.stat().st_size for file in code_files(config))
