"""The environment a function sees: Lambda's reserved variables, then the template's, then the
`--env-vars` overrides (SAM CLI's file format)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from samrun.model import FunctionConfig, names_aws_lambda

# Credentials a local function gets: fake, so no SDK call can reach a real account by accident.
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AWS_SESSION_TOKEN": "samrun-local-session",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceIdentity:
    function_name: str
    version: str
    region: str
    initialization_type: str  # on-demand | provisioned-concurrency
    runtime_api: str  # host:port
    instance_id: str
    lambda_endpoint: str  # samrun's Lambda API, for AWS_ENDPOINT_URL_LAMBDA
    aws_endpoint: str | None = None  # the local AWS endpoint for every other service
    credentials: Mapping[str, str] | None = None  # --aws-profile's; None: fake local ones


def lambda_environment(
    config: FunctionConfig,
    who: InstanceIdentity,
    *,
    code_dir: Path,
    tmp_dir: Path,
    language_paths: Mapping[str, str],
    opt_dir: Path | None,
    overrides: Mapping[str, str],
    host_env: Mapping[str, str],
) -> dict[str, str]:
    """Reserved variables win; the template's, then the overrides, come before them."""
    env = {key: value for key, value in host_env.items() if key in ("HOME", "LANG")}
    opt_bin = [str(opt_dir / "bin")] if opt_dir else []
    opt_lib = [str(opt_dir / "lib")] if opt_dir else []
    env.update(
        PATH=":".join([*opt_bin, host_env.get("PATH", "/usr/local/bin:/usr/bin:/bin")]),
        LD_LIBRARY_PATH=":".join([str(code_dir), str(code_dir / "lib"), *opt_lib]),
        LANG="en_US.UTF-8",
        TZ=":UTC",
        TMPDIR=str(tmp_dir),
        AWS_LAMBDA_RUNTIME_API=who.runtime_api,
        AWS_ENDPOINT_URL_LAMBDA=who.lambda_endpoint,
        **language_paths,
    )
    if who.aws_endpoint:
        env["AWS_ENDPOINT_URL"] = who.aws_endpoint
    env.update(local_lambda_endpoint(config.environment, who.lambda_endpoint))
    env.update(overrides)
    env.update(reserved(config, who, code_dir))
    return env


def local_lambda_endpoint(variables: Mapping[str, str], lambda_endpoint: str) -> dict[str, str]:
    """The template's variables, with an AWS_ENDPOINT_URL_LAMBDA that names AWS's own Lambda
    endpoint (the durable SDK's samples default to it) pointed at samrun's Lambda API: the
    functions, their durable executions and callbacks live there, not in a real account."""
    env = dict(variables)
    if names_aws_lambda(env.get("AWS_ENDPOINT_URL_LAMBDA", "")):
        env["AWS_ENDPOINT_URL_LAMBDA"] = lambda_endpoint
    return env


def reserved(config: FunctionConfig, who: InstanceIdentity, code_dir: Path) -> dict[str, str]:
    """The variables Lambda sets and a function cannot override."""
    today = datetime.now(UTC).strftime("%Y/%m/%d")
    return {
        "_HANDLER": config.handler or "",
        "AWS_REGION": who.region,
        "AWS_DEFAULT_REGION": who.region,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{config.runtime}" if config.runtime else "",
        "AWS_LAMBDA_FUNCTION_NAME": who.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": who.version,
        "AWS_LAMBDA_INITIALIZATION_TYPE": who.initialization_type,
        "AWS_LAMBDA_LOG_GROUP_NAME": config.logging.log_group or f"/aws/lambda/{who.function_name}",
        # as Lambda names an instance's stream: date, [version], 32 hex digits
        "AWS_LAMBDA_LOG_STREAM_NAME": f"{today}/[{who.version}]{uuid.uuid4().hex}",
        "AWS_LAMBDA_RUNTIME_API": who.runtime_api,
        "LAMBDA_TASK_ROOT": str(code_dir),
        "LAMBDA_RUNTIME_DIR": str(Path(__file__).parent / "bootstraps"),
        **(who.credentials or LOCAL_CREDENTIALS),
        **log_format(config),
    }


def log_format(config: FunctionConfig) -> dict[str, str]:
    """LoggingConfig as the runtimes read it: JSON format and the application log level."""
    if config.logging.log_format.upper() != "JSON":
        return {}
    return {
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_LOG_LEVEL": (config.logging.application_log_level or "INFO").upper(),
    }
