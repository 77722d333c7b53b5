"""The SAM transform's output, kept in the state folder under a hash of everything it depends on.

Importing samtranslator and running it is most of the time `samrun invoke`, `plan` and `up` take
to start on an unchanged template (about 0.7 s); with a cached result none of it runs. The key
covers the template as the transform sees it (local paths already swapped for placeholders,
DefinitionUri files inlined), the parameter values, the region, the placeholders' local paths and
the versions of samtranslator and samrun, so any change is a miss.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import os
from pathlib import Path
from typing import Any

KEEP = 32  # cached transforms kept per state folder, the most recently used


def versions() -> list[str]:
    return [importlib.metadata.version(name) for name in ("aws-sam-translator", "samrun")]


def cache_key(
    sam: dict[str, Any], parameters: dict[str, Any], region: str, paths: dict[str, Path]
) -> str:
    material = [sam, parameters, region, {k: str(v) for k, v in paths.items()}, versions()]
    text = json.dumps(material, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def read(
    folder: Path, key: str
) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]] | None:
    """(CloudFormation template, SAM template with Globals merged, what SAM rejected), or None
    on a miss."""
    path = folder / f"{key}.json"
    try:
        cached = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # recently used: kept longest
    return cached["cfn"], cached["sam"], cached.get("rejected", [])


def write(
    folder: Path,
    key: str,
    cfn: dict[str, Any],
    sam: dict[str, Any],
    rejected: list[dict[str, Any]],
) -> None:
    """Atomically; a cache that cannot be written is no error."""
    with contextlib.suppress(OSError, TypeError, ValueError):
        folder.mkdir(parents=True, exist_ok=True)
        staging = folder / f".{key}.{os.getpid()}.partial"
        staging.write_text(json.dumps({"cfn": cfn, "sam": sam, "rejected": rejected}))
        staging.replace(folder / f"{key}.json")
        entries = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for stale in entries[KEEP:]:
            stale.unlink()
