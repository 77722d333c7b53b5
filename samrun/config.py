"""One frozen Config, built once by the CLI from flags and SAMRUN_* variables, passed down."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from samrun.model import DEFAULT_ACCOUNT_ID, DEFAULT_REGION


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    template: Path
    host: str = "127.0.0.1"
    port: int = 3000  # API routes
    invoke_port: int = 3001  # Lambda API
    backend: str = "process"
    region: str = DEFAULT_REGION
    account_id: str = DEFAULT_ACCOUNT_ID
    parameter_overrides: Mapping[str, str] = field(default_factory=dict)
    env_vars: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # SAM CLI's format
    state_dir: Path = Path(".samrun")
    idle_ttl_s: float = 300.0  # an idle instance is reaped after this long
    max_sandboxes: int = 32  # most live sandboxes at once on this machine
    init_timeout_s: float = 10.0  # Lambda's init phase limit
    host_env: Mapping[str, str] = field(default_factory=dict)  # PATH, HOME for functions
    watch: bool = False
    log_format: str = "text"
