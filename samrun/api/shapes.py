"""The Lambda API's response shapes (FunctionConfiguration, GetFunction), from the graph."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from samrun.invoke.arn import function_arn
from samrun.model import LATEST, AppGraph, Function, FunctionConfig
from samrun.runtime.code import code_sha256, code_size

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
        "LoggingConfig": logging_shape(config, function.name),
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


def logging_shape(config: FunctionConfig, name: str) -> dict[str, str]:
    logging = config.logging
    shape = {
        "LogFormat": "JSON" if logging.log_format.upper() == "JSON" else "Text",
        "LogGroup": logging.log_group or f"/aws/lambda/{name}",
    }
    if shape["LogFormat"] == "JSON":
        shape["ApplicationLogLevel"] = (logging.application_log_level or "INFO").upper()
        shape["SystemLogLevel"] = (logging.system_log_level or "INFO").upper()
    return shape
