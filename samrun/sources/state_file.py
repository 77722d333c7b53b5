"""A source's JSON state file, replaced whole so a crash leaves the old or the new one.

The temporary file is named for the writing thread: two threads that save the same file at once
(stream shards checkpointing together) never rename each other's half-written copy away.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any


def write_json(path: Path, body: Any, **dumps: Any) -> None:
    """Write `body` as JSON to `path` atomically (json.dumps options in `dumps`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.{threading.get_ident()}.tmp")
    temporary.write_text(json.dumps(body, **dumps))
    os.replace(temporary, path)
