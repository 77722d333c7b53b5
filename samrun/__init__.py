"""samrun: run AWS SAM and CloudFormation Lambda applications locally, with Lambda's semantics."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from samrun.config import Config
    from samrun.errors import SamrunError
    from samrun.model import AppGraph

__all__ = ["AppGraph", "Config", "SamrunError"]
__version__ = "0.1.0"

# imported when first asked for: a helper run as `python -m samrun.runtime...` (a spare's
# launcher, runtime/isolated_exec.py) needs none of them
_HOMES = {"AppGraph": "samrun.model", "Config": "samrun.config", "SamrunError": "samrun.errors"}


def __getattr__(name: str) -> object:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'samrun' has no attribute {name!r}")
