"""The mappings the ESM API created, kept in the state folder across restarts, as Lambda keeps
them. A template's mappings are not stored: the template declares them again at each start.
Written whole and atomically (a temporary file renamed over the old), so a crash leaves the
old list or the new one, never half of one.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from samrun.model import EventSourceMapping
from samrun.sources.state_file import write_json

logger = logging.getLogger(__name__)

_FIELDS = {f.name for f in fields(EventSourceMapping)}


class MappingStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, EventSourceMapping]:
        """uuid -> mapping; an unreadable file is named and set aside, never a crash."""
        try:
            raw = json.loads(self.path.read_text())
            return {key: _esm(value) for key, value in raw.items()}
        except FileNotFoundError:
            return {}
        except (ValueError, TypeError, AttributeError) as exc:
            logger.warning("%s is unreadable (%s): the API's mappings start empty", self.path, exc)
            self.path.replace(self.path.with_suffix(".unreadable"))
            return {}

    def save(self, mappings: dict[str, EventSourceMapping]) -> None:
        body = {key: asdict(esm) for key, esm in mappings.items()}
        write_json(self.path, body, indent=1, sort_keys=True, default=str)


def _esm(value: dict[str, Any]) -> EventSourceMapping:
    known = {k: v for k, v in value.items() if k in _FIELDS}
    known["function_response_types"] = tuple(known.get("function_response_types") or ())
    known["filters"] = tuple(known.get("filters") or ())
    return EventSourceMapping(**known)
