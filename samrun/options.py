"""Flags to `Config`: what each command-line option means, checked before anything starts.

Shared by every command; the SAM CLI spellings (`--parameter-overrides`, `--env-vars`) are read
as SAM CLI reads them.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from samrun import cdk_project
from samrun.config import Config
from samrun.errors import SamrunError
from samrun.runtime.debugging import DebugSpec, free_port, split_args
from samrun.runtime.vpc_config import load_settings


def find_template(given: str | None, stack: str | None = None) -> Path:
    """TEMPLATE defaults to template.yaml, then template.yml, in the current folder (as SAM CLI);
    in a CDK project (cdk.json), the template `cdk synth` wrote for the stack."""
    if given:
        path = Path(given)
        if path.is_dir() and (path / "manifest.json").is_file():  # cdk.out itself
            return cdk_project.assembly_template(path, stack)
        if (
            path.is_dir()
            and cdk_project.is_cdk_project(path)
            and not (path / "template.yaml").exists()
        ):
            return cdk_project.stack_template(path, stack)
        return path / "template.yaml" if path.is_dir() else path
    for name in ("template.yaml", "template.yml", "template.json"):
        if Path(name).exists():
            return Path(name)
    if cdk_project.is_cdk_project(Path()):
        return cdk_project.stack_template(Path(), stack)
    return Path("template.yaml")


def parse_overrides(values: Sequence[str]) -> dict[str, str]:
    """SAM CLI's `--parameter-overrides`: `K=V` pairs, or `ParameterKey=K,ParameterValue=V`;
    one argument may hold several, separated by spaces, quoted as a shell quotes them."""
    overrides: dict[str, str] = {}
    for value in values:
        for token in _override_tokens(value):
            pair = _override_pair(token)
            if pair is None:
                raise SamrunError(f"--parameter-overrides: expected KEY=VALUE, got {value!r}")
            overrides[pair[0]] = pair[1]
    return overrides


def _override_pair(token: str) -> tuple[str, str] | None:
    if token.startswith("ParameterKey="):
        key_part, sep, value_part = token.partition(",ParameterValue=")
        key = key_part.removeprefix("ParameterKey=")
        return (key, value_part) if sep and key else None
    key, sep, val = token.partition("=")
    return (key, val) if sep and key else None


def _override_tokens(value: str) -> list[str]:
    """The pairs in one argument: split as a shell would when every piece is a pair (SAM CLI's
    `"A=x B=y"`), else the argument whole (`K=a value with spaces`)."""
    try:
        tokens = shlex.split(value)
    except ValueError:
        return [value]
    if tokens and all(_override_pair(t) is not None for t in tokens):
        return tokens
    return [value]


def parse_ports(
    values: Sequence[str], flag: str = "--alb-port", what: str = "LISTENER"
) -> dict[str, int]:
    """`--alb-port Listener=8080 …`: the local port of each named ALB listener (and
    `--cloudfront-port Distribution=8080` of each distribution)."""
    ports: dict[str, int] = {}
    for value in values:
        name, sep, port = value.partition("=")
        if not sep or not name or not port.isdigit() or not 0 < int(port) < 65536:
            raise SamrunError(f"{flag}: expected {what}=PORT, got {value!r}")
        ports[name] = int(port)
    return ports


def parse_layer_map(values: Sequence[str]) -> dict[str, str]:
    """`--layer-map ARN=PATH …`: local content (a folder or .zip) for layers the app only names
    by ARN, such as a public layer."""
    found: dict[str, str] = {}
    for value in values:
        arn, sep, path = value.partition("=")
        if not sep or not arn.startswith("arn:") or not path:
            raise SamrunError(f"--layer-map: expected LAYER_ARN=PATH, got {value!r}")
        if not Path(path).exists():
            raise SamrunError(f"--layer-map {arn}: {path} does not exist")
        found[arn] = str(Path(path).resolve())
    return found


def load_env_vars(path: str | None) -> dict[str, dict[str, str]]:
    """SAM CLI's `--env-vars` file: {"Function": {"K": "V"}, "Parameters": {"K": "V"}}."""
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise SamrunError(f"--env-vars {path}: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise SamrunError(f"--env-vars {path}: expected an object of objects, as SAM CLI reads it")
    return {name: {k: str(v) for k, v in env.items()} for name, env in data.items()}


def docker_options(args: argparse.Namespace) -> dict[str, Any]:
    """--image-map, --skip-pull, --container-host, and the engine's DOCKER_* variables."""
    images: dict[str, str] = {}
    for value in getattr(args, "image_map", None) or []:
        runtime, sep, image = value.partition("=")
        if not sep or not runtime or not image:
            raise SamrunError(f"--image-map: expected RUNTIME=IMAGE, got {value!r}")
        images[runtime] = image
    return {
        "image_map": images,
        "skip_pull": getattr(args, "skip_pull", False),
        "container_host": getattr(args, "container_host", None),
        "engine_env": {k: v for k, v in os.environ.items() if k.startswith("DOCKER_")},
    }


def debug_options(args: argparse.Namespace) -> dict[str, DebugSpec]:
    """`--debug NAME[=PORT]` (up, repeatable), `--debug[=PORT]` (invoke: its function), and SAM
    CLI's `--debug-port/-d PORT` with `--debug-function NAME`: function name -> its debugger.
    A name is checked against the app when it starts."""
    invoked = getattr(args, "function", None)  # `invoke`'s target: what `--debug` there means
    given: dict[str, int | None] = {}
    debug = getattr(args, "debug", None)
    if invoked is not None and debug is not None:
        given[invoked.partition(":")[0]] = _port(debug, "--debug") if debug else None
    elif isinstance(debug, list):
        for value in debug:
            name, sep, port = value.partition("=")
            if not name:
                raise SamrunError(f"--debug: expected FUNCTION[=PORT], got {value!r}")
            given[name] = _port(port, f"--debug {name}") if sep else None
    sam_port = getattr(args, "debug_port", None)
    if sam_port is not None:
        name = getattr(args, "debug_function", None) or invoked
        if name is None:
            raise SamrunError("--debug-port: name the function with --debug-function NAME")
        given[name.partition(":")[0]] = _port(str(sam_port), "--debug-port")
    if not given:
        return {}
    wait = getattr(args, "debug_wait", None)
    return {
        name: DebugSpec(
            port=port if port is not None else free_port(),
            wait=invoked is not None if wait is None else wait,  # invoke waits by default
            args=split_args(getattr(args, "debug_args", None)),
            debugger_path=getattr(args, "debugger_path", None),
        )
        for name, port in given.items()
    }


def _port(text: str, flag: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise SamrunError(f"{flag}: expected a port (1-65535), got {text!r}")
    return int(text)


def build_config(args: argparse.Namespace) -> Config:
    return Config(
        template=find_template(
            getattr(args, "template", None), getattr(args, "stack", None)
        ).resolve(),
        host=getattr(args, "host", "127.0.0.1"),
        port=getattr(args, "port", 3000),
        invoke_port=getattr(args, "invoke_port", 3001),
        backend=getattr(args, "backend", "process"),
        region=args.region,
        account_id=args.account_id,
        parameter_overrides=parse_overrides(args.parameter_overrides),
        env_vars=load_env_vars(getattr(args, "env_vars", None)),
        state_dir=Path(args.state_dir).resolve(),
        idle_ttl_s=getattr(args, "idle_ttl", 300.0),
        time_scale=getattr(args, "time_scale", 1.0),
        aws_endpoint=getattr(args, "aws_endpoint", None),
        aws_profile=getattr(args, "aws_profile", None),
        account_concurrency=getattr(args, "account_concurrency", 1000),
        burst_concurrency=getattr(args, "burst_concurrency", 1000),
        alb_ports=parse_ports(getattr(args, "alb_port", [])),
        cloudfront_ports=parse_ports(
            getattr(args, "cloudfront_port", []), "--cloudfront-port", "DISTRIBUTION"
        ),
        cloudfront_cache=not getattr(args, "no_cache", False),
        layer_map=parse_layer_map(getattr(args, "layer_map", [])),
        max_sandboxes=getattr(args, "max_sandboxes", 32),
        watch=getattr(args, "watch", False),
        watch_publish=getattr(args, "watch_publish", False),
        env_vars_file=Path(args.env_vars).resolve() if getattr(args, "env_vars", None) else None,
        price_file=Path(args.price_file).resolve() if getattr(args, "price_file", None) else None,
        cloudwatch=not getattr(args, "no_cloudwatch", False),
        dashboard=dashboard_on(args),
        freeze=not getattr(args, "no_freeze", False),
        enforce_iam=getattr(args, "enforce_iam", False)
        or os.environ.get("SAMRUN_ENFORCE_IAM", "") in ("1", "true"),
        allow_origins=tuple(getattr(args, "allow_origin", None) or ()),
        functions=tuple(getattr(args, "functions", None) or ()),
        debug=debug_options(args),
        disable_authorizer=getattr(args, "disable_authorizer", False),
        otlp_endpoint=otlp_traces_url(getattr(args, "otlp_endpoint", None)),
        trace_sample_rate=trace_rate(getattr(args, "trace_sample_rate", None)),
        xray_upload=xray_upload(args),
        vpc=load_settings(getattr(args, "vpc_config", None), getattr(args, "vpc_allow", [])),
        host_env={
            k: os.environ[k] for k in ("PATH", "HOME", "LANG", "PYENV_ROOT") if k in os.environ
        },
        node_sdk_dir=node_sdk_dir(),
        **docker_options(args),
    )


def trace_rate(rate: float | None) -> float | None:
    if rate is not None and not 0.0 <= rate <= 1.0:
        raise SamrunError(f"--trace-sample-rate {rate}: give a share from 0 to 1 (1: trace all)")
    return rate


def dashboard_on(args: argparse.Namespace) -> bool:
    """The browser dashboard is `up`'s (a one-shot `invoke` or `smoke` has no page to show)."""
    return getattr(args, "command", None) == "up" and not getattr(args, "no_dashboard", False)


def xray_upload(args: argparse.Namespace) -> bool:
    """Real X-Ray only when asked for, and only with real AWS's credentials."""
    upload = bool(getattr(args, "xray_upload", False))
    if upload and not getattr(args, "aws_profile", None):
        raise SamrunError(
            "--xray-upload sends traces to real X-Ray and needs --aws-profile; without it, "
            "traces go to the local endpoint's X-Ray API"
        )
    return upload


def otlp_traces_url(value: str | None) -> str | None:
    """`--otlp-endpoint URL`: a collector's base URL gets OTLP/HTTP's `/v1/traces` (as
    OTEL_EXPORTER_OTLP_ENDPOINT does); a URL with a path is used as it is."""
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SamrunError(
            f"--otlp-endpoint: expected an http(s) URL such as http://localhost:4318, got {value!r}"
        )
    try:
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError:
        raise SamrunError(f"--otlp-endpoint {value}: not a valid port") from None
    return value.rstrip("/") + "/v1/traces" if parts.path in ("", "/") else value


def node_sdk_dir() -> Path | None:
    """SAMRUN_NODE_SDK_DIR: one install of the AWS SDK for JavaScript shared by every app."""
    value = os.environ.get("SAMRUN_NODE_SDK_DIR")
    return Path(value).resolve() if value else None
