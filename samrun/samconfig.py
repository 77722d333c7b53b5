"""SAM CLI's project configuration file (samconfig.toml / .yaml / .yml), read as SAM CLI reads it.

A file holds environments (`[default]`, `[dev]`...), each with one table per SAM CLI command
(`[default.local_start_api.parameters]`) and `[ENV.global.parameters]` for every command; a
command's own table wins over `global`. Each samrun command reads the tables of the SAM CLI
commands it stands for (`SECTIONS`); `up` (and `plan`, `smoke`) read `local_start_lambda` then
`local_start_api`, so where both set a key the API's wins, except `port`, which is the Lambda
API's port (`--invoke-port`) in `local_start_lambda` and the routes' port in `local_start_api`.

The file is found as SAM CLI finds it: `--config-file` (relative to the project folder), else
samconfig.toml, then .yaml, then .yml in the project folder: the folder of the template named on
the command line, else the current folder. Flags given on the command line win over the file;
relative paths in the file are relative to the file's folder.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from samrun.errors import SamrunError

DEFAULT_ENV = "default"
FILE_NAMES = ("samconfig.toml", "samconfig.yaml", "samconfig.yml")  # SAM CLI's order
SECTIONS: Mapping[str, tuple[str, ...]] = {
    "up": ("local_start_lambda", "local_start_api"),
    "plan": ("local_start_lambda", "local_start_api"),
    "smoke": ("local_start_lambda", "local_start_api"),
    "invoke": ("local_invoke",),
    "trigger": ("local_invoke",),
    "build": ("build",),
    "validate": ("validate",),
}
"""samrun command -> the SAM CLI commands whose tables it reads, weakest first (after global)."""

KEYS: Mapping[str, str] = {
    "parameter_overrides": "parameter_overrides",
    "env_vars": "env_vars",
    "template_file": "template",
    "template": "template",
    "region": "region",
    "host": "host",
    "port": "port",
    "skip_pull_image": "skip_pull",
    "container_host": "container_host",
    "disable_authorizer": "disable_authorizer",
    "event": "event",
    "trace_sample_rate": "trace_sample_rate",  # samrun's own keys, beside SAM CLI's
    "xray_upload": "xray_upload",
}
"""SAM CLI's key (or samrun's own) -> the samrun flag (its argparse dest) that it sets."""
PATH_KEYS = frozenset({"env_vars", "template_file", "template", "event"})
SECTION_KEYS: Mapping[tuple[str, str], str] = {("local_start_lambda", "port"): "invoke_port"}
"""Where one SAM CLI command's key means another samrun flag than `KEYS` says."""

IGNORED = frozenset(
    {
        "warm_containers",  # samrun keeps instances warm as Lambda does
        "layer_cache_basedir",  # layers live in the state folder
        "docker_network",
        "container_host_interface",
        "add_host",
        "invoke_image",
        "shutdown",
        "force_image_build",
        "debug",
        "beta_features",
        "save_params",
        "profile",  # SAM CLI's credentials for containers; samrun's --aws-profile means real AWS
        "cached",
        "parallel",
        "use_container",
        "build_dir",
        "base_dir",
        "cache_dir",
        "manifest",
        "lint",
        "log_file",
        "skip_prepare_infra",
        "hook_name",
        "terraform_project_root_path",
        "mount_with",
        "mount_symlinks",
        "static_dir",
        "ssl_cert_file",
        "ssl_key_file",
        "no_memory_limit",
        "container_env_vars",
    }
)
"""SAM CLI keys samrun has no use for: skipped without a word (others are named once)."""


@dataclass(frozen=True, slots=True)
class SamConfig:
    """What one command read from the file: flag dest -> value, and what it did not use."""

    path: Path
    env: str
    values: Mapping[str, Any]
    warnings: tuple[str, ...] = ()

    def describe(self) -> str:
        return f"{self.path} [{self.env}]"


def find(config_file: str | None, template: str | None, cwd: Path) -> Path | None:
    """The file to read, or None when the project has none (an explicit one must exist)."""
    folder = project_folder(template, cwd)
    if config_file:
        path = folder / config_file
        if not path.is_file():
            raise SamrunError(f"--config-file {config_file}: {path} does not exist")
        return path
    return next((folder / n for n in FILE_NAMES if (folder / n).is_file()), None)


def project_folder(template: str | None, cwd: Path) -> Path:
    """The folder of the template named on the command line, else the current one."""
    if not template:
        return cwd
    path = cwd / template
    return path if path.is_dir() else path.parent


def read(path: Path, env: str, command: str, *, env_given: bool = False) -> SamConfig:
    """The values `command` takes from environment `env` of the file at `path`."""
    document = _parse(path)
    if env not in document:
        if env_given:
            known = ", ".join(sorted(k for k, v in document.items() if isinstance(v, dict)))
            raise SamrunError(f"{path}: no environment {env!r} (it has: {known or 'none'})")
        return SamConfig(path, env, {})
    tables = document[env]
    if not isinstance(tables, dict):
        raise SamrunError(f"{path}: [{env}] must be a table of commands")
    values: dict[str, Any] = {}
    unused: list[str] = []
    for section in ("global", *SECTIONS.get(command, ())):
        parameters = _parameters(path, env, section, tables.get(section))
        for key, value in parameters.items():
            dest = SECTION_KEYS.get((section, key)) or KEYS.get(key)
            if dest is None:
                if section != "global" and key not in IGNORED:  # global serves every command
                    unused.append(f"[{env}.{section}.parameters] {key}")
                continue
            values[dest] = _value(path, key, value)
    warnings = (f"{path}: not used by samrun: {', '.join(unused)}",) if unused else ()
    return SamConfig(path, env, values, warnings)


def _parse(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise SamrunError(f"{path}: cannot read it: {exc}") from None
    try:
        if path.suffix == ".toml":
            document: Any = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            document = yaml.safe_load(text)
        else:
            raise SamrunError(f"{path}: a samconfig file is .toml, .yaml or .yml")
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise SamrunError(f"{path}: malformed: {' '.join(str(exc).split())}") from None
    if not isinstance(document, dict):
        raise SamrunError(f"{path}: expected a table of environments, as SAM CLI writes it")
    version = document.get("version")
    if isinstance(version, bool) or not isinstance(version, int | float):
        raise SamrunError(f"{path}: 'version' is missing or not a number (SAM CLI's is 0.1)")
    return document


def _parameters(path: Path, env: str, section: str, table: Any) -> dict[str, Any]:
    if table is None:
        return {}
    parameters = table.get("parameters") if isinstance(table, dict) else None
    if not isinstance(parameters, dict):
        raise SamrunError(f"{path}: [{env}.{section}] must hold a table 'parameters'")
    return parameters


def _value(path: Path, key: str, value: Any) -> Any:
    """Paths made absolute from the file's folder; lists and scalars as the file has them."""
    if key in PATH_KEYS:
        if not isinstance(value, str) or not value:
            raise SamrunError(f"{path}: {key} must be a path")
        return str((path.parent / value).resolve())
    if isinstance(value, dict):
        raise SamrunError(f"{path}: {key} must be a value or a list, not a table")
    return value
