"""Each durable execution's record as one JSON file in `<state>/durable/`, written atomically
(temporary file, fsync, rename), so a `kill -9` leaves either the old record or the new one."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

Record = dict[str, Any]


class ExecutionStore:
    def __init__(self, state_dir: Path) -> None:
        self.folder = state_dir / "durable"

    def _path(self, execution_id: str) -> Path:
        return self.folder / f"{execution_id}.json"

    def save(self, record: Record) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._path(record["id"])
        temporary = path.with_suffix(".tmp")
        with temporary.open("w") as out:
            json.dump(record, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)

    def delete(self, execution_id: str) -> None:
        self._path(execution_id).unlink(missing_ok=True)

    def load_all(self) -> list[Record]:
        """Every stored record (a torn or foreign file is skipped), oldest first."""
        records = []
        for path in sorted(self.folder.glob("*.json")) if self.folder.is_dir() else ():
            try:
                record = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(record, dict) and "arn" in record:
                records.append(record)
        return sorted(records, key=lambda r: float(r.get("start", 0)))
