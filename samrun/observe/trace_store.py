"""The trace store: X-Ray segment documents in SQLite in the state folder, for `samrun traces`.

Bounded: past `limit` documents the oldest are dropped first. Written from one sink thread,
read by `samrun traces` (another process), so the file is opened per reader and WAL keeps
readers and the writer apart. A file that cannot be read as the store is replaced, never a
traceback: traces are a view, not data the user owns.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

FILE_NAME = "traces.sqlite3"
DEFAULT_LIMIT = 20000  # segment documents
SCHEMA = """
CREATE TABLE IF NOT EXISTS segments (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    trace_id TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    start_time REAL NOT NULL,
    document TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS segments_trace ON segments (trace_id);
"""


class TraceStore:
    def __init__(self, state_dir: Path, limit: int = DEFAULT_LIMIT) -> None:
        self.path = state_dir / FILE_NAME
        self.limit = limit
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def describe(self) -> str:
        return f"traces: kept in {self.path} (the last {self.limit} segments)"

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._db = self._open()
            except sqlite3.DatabaseError:
                self.path.unlink(missing_ok=True)
                self._db = self._open()
        return self._db

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, timeout=5)
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(SCHEMA)
        return db

    def add(self, documents: list[dict[str, Any]]) -> None:
        rows = [
            (
                str(doc.get("trace_id", "")),
                str(doc.get("id", "")),
                str(doc.get("name", "")),
                float(doc.get("start_time") or 0.0),
                json.dumps(doc, separators=(",", ":")),
            )
            for doc in documents
        ]
        with self._lock:
            db = self._connect()
            with db:
                db.executemany(
                    "INSERT INTO segments (trace_id, id, name, start_time, document)"
                    " VALUES (?, ?, ?, ?, ?)",
                    rows,
                )
                db.execute(
                    "DELETE FROM segments WHERE seq <= (SELECT MAX(seq) FROM segments) - ?",
                    (self.limit,),
                )

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


def read(
    state_dir: Path, *, trace_id: str | None = None, since_s: float | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Segment documents by trace id, oldest trace first; `since_s`: traces that started within
    the last so many seconds. Empty when there is no store yet."""
    path = state_dir / FILE_NAME
    if not path.exists():
        return {}
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return {}
    args: tuple[object, ...]
    try:
        if trace_id:
            query, args = (
                "SELECT trace_id, document FROM segments WHERE trace_id = ? ORDER BY seq",
                (trace_id,),
            )
        else:
            cutoff = time.time() - since_s if since_s is not None else 0.0
            query, args = (
                "SELECT trace_id, document FROM segments WHERE trace_id IN"
                " (SELECT trace_id FROM segments GROUP BY trace_id HAVING MIN(start_time) >= ?)"
                " ORDER BY seq",
                (cutoff,),
            )
        traces: dict[str, list[dict[str, Any]]] = {}
        for tid, document in db.execute(query, args):
            traces.setdefault(tid, []).append(json.loads(document))
        return traces
    except sqlite3.Error as exc:
        logger.warning("cannot read the trace store %s: %s", path, exc)
        return {}
    finally:
        db.close()
