"""Events saved from the dashboard's Invoke tab, kept in the state folder (dashboard/events/).

A name becomes a file name, so it is checked against a strict pattern (no separators, no dots
first, nothing `..` could climb with); an event is JSON and at most MAX_BYTES; at most MAX_COUNT
are kept, so a page cannot fill the disk.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
MAX_BYTES = 256 * 1024  # Lambda's asynchronous payload limit: plenty for a test event
MAX_COUNT = 200


class SavedEventError(ValueError):
    """A name, an event or a count the store refuses; its message is shown on the page."""


class SavedEvents:
    def __init__(self, state_dir: Path) -> None:
        self.folder = state_dir / "dashboard" / "events"

    def names(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob("*.json") if NAME.match(p.stem))

    def load(self, name: str) -> str:
        path = self._path(name)
        if not path.is_file():
            raise FileNotFoundError(name)
        return path.read_text(encoding="utf-8")

    def save(self, name: str, event: str) -> None:
        path = self._path(name)
        if len(event.encode()) > MAX_BYTES:
            raise SavedEventError(f"a saved event is at most {MAX_BYTES // 1024} KB")
        try:
            json.loads(event)
        except ValueError as exc:
            raise SavedEventError(f"the event is not JSON: {exc}") from None
        if not path.exists() and len(self.names()) >= MAX_COUNT:
            raise SavedEventError(f"at most {MAX_COUNT} events are saved: delete one first")
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".tmp")
        partial.write_text(event, encoding="utf-8")
        os.replace(partial, path)  # a reader never sees half an event

    def delete(self, name: str) -> bool:
        path = self._path(name)
        if not path.is_file():
            return False
        path.unlink()
        return True

    def _path(self, name: str) -> Path:
        if not NAME.match(name):
            raise SavedEventError(
                "a saved event's name is 1-64 letters, digits, '-' or '_' (starting with a "
                "letter or digit)"
            )
        return self.folder / f"{name}.json"
