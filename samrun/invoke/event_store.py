"""The durable half of the asynchronous queue: accepted events in SQLite, in the state folder.

One connection, used from one dedicated thread; every change goes through `apply`, one
transaction per batch, so many accepts share one commit (group commit). WAL with
`synchronous=NORMAL`: a committed event survives the death of samrun (kill -9), which is the
promise; a power cut may lose the last few commits, which is SQLite's documented trade-off.

A file that is not samrun's queue (corrupt, not SQLite, another schema) is moved aside to a
dated name with its WAL, never deleted, and the queue starts empty; a file samrun cannot open
at all (a full disk, no permission) is a SamrunError, said in one line.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from samrun.errors import SamrunError

logger = logging.getLogger(__name__)

FILE_NAME = "async-events.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL,
    function TEXT NOT NULL,
    qualifier TEXT NOT NULL,
    payload BLOB NOT NULL,
    trace_id TEXT,
    client_context TEXT,
    enqueued_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    due_at REAL NOT NULL,
    tenant_id TEXT
);
"""
ADDED = {"tenant_id": "TEXT"}  # columns added since: a queue without them gets them (NULL)
COLUMNS = {
    "id",
    "request_id",
    "function",
    "qualifier",
    "payload",
    "trace_id",
    "client_context",
    "enqueued_at",
    "attempts",
    "due_at",
}
OUR_TABLES = {"events", "sqlite_sequence"}
NOT_OURS = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)  # other errors: the disk, rights


class ForeignQueue(Exception):
    """The file is a database, but not samrun's queue."""


@dataclass(slots=True, kw_only=True)
class QueuedEvent:
    """One accepted event; `attempts` counts runs that returned (not throttles)."""

    request_id: str
    function: str  # Function.name
    qualifier: str  # as the caller named it: $LATEST, a version or an alias
    payload: bytes
    trace_id: str | None
    client_context: str | None
    enqueued_at: float  # wall clock, for MaximumEventAgeInSeconds
    attempts: int = 0
    due_at: float = 0.0
    id: int = 0
    throttles: int = 0  # not persisted: throttle backoff restarts after a restart
    tenant_id: str | None = None  # a PER_TENANT function's tenant (TenancyConfig)
    source: str = ""  # what sent it (schedule, sns, s3...), for the dashboard; not persisted


Op = tuple[str, QueuedEvent]  # ("insert" | "update" | "delete", event)


class EventStore:
    """Blocking SQLite calls, all on `self.executor`'s one thread."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / FILE_NAME
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="samrun-events")
        self._db: sqlite3.Connection | None = None

    def open(self) -> list[QueuedEvent]:
        """Open (or create) the queue file; every event still in it, oldest first."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return self._open()
        except (sqlite3.DatabaseError, ForeignQueue) as exc:
            if isinstance(exc, sqlite3.DatabaseError) and exc.sqlite_errorcode not in NOT_OURS:
                self.close()
                raise SamrunError(f"cannot open the async queue {self.path}: {exc}") from None
            self.close()
            aside = self._move_aside()
            logger.warning(
                "async queue: %s is not samrun's queue (%s): moved aside to %s; "
                "starting with an empty queue",
                self.path,
                exc,
                aside.name,
            )
        try:
            return self._open()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise SamrunError(f"cannot open the async queue {self.path}: {exc}") from None

    def _move_aside(self) -> Path:
        """Rename the file (and its WAL and shared memory) to a dated name; delete nothing."""
        stamp = time.strftime("%Y%m%dT%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.unreadable-{stamp}")
        n = 1
        while aside.exists():
            n += 1
            aside = self.path.with_name(f"{self.path.name}.unreadable-{stamp}-{n}")
        for suffix in ("-wal", "-shm", ""):
            source = Path(f"{self.path}{suffix}")
            if source.exists():
                os.replace(source, f"{aside}{suffix}")
        return aside

    def _open(self) -> list[QueuedEvent]:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db = db
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables - OUR_TABLES:
            raise ForeignQueue(f"tables {', '.join(sorted(tables - OUR_TABLES))}")
        if "events" in tables:
            columns = {row[1] for row in db.execute("PRAGMA table_info(events)")}
            if COLUMNS - columns:
                raise ForeignQueue(f"no column {', '.join(sorted(COLUMNS - columns))}")
            for name, kind in ADDED.items():
                if name not in columns:  # an older samrun's queue
                    db.execute(f"ALTER TABLE events ADD COLUMN {name} {kind}")
        db.execute("PRAGMA journal_mode=WAL")  # only now: a foreign file is left as it was
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(SCHEMA)
        rows = db.execute(
            "SELECT id, request_id, function, qualifier, payload, trace_id, client_context,"
            " enqueued_at, attempts, due_at, tenant_id FROM events ORDER BY id"
        ).fetchall()
        return [
            QueuedEvent(
                id=row[0],
                request_id=row[1],
                function=row[2],
                qualifier=row[3],
                payload=bytes(row[4]),
                trace_id=row[5],
                client_context=row[6],
                enqueued_at=row[7],
                attempts=row[8],
                due_at=row[9],
                tenant_id=row[10],
            )
            for row in rows
        ]

    def apply(self, ops: list[Op]) -> None:
        """One transaction for the whole batch; inserted events get their ids."""
        db = self._db
        assert db is not None
        db.execute("BEGIN")
        try:
            for kind, event in ops:
                if kind == "insert":
                    cursor = db.execute(
                        "INSERT INTO events (request_id, function, qualifier, payload, trace_id,"
                        " client_context, enqueued_at, attempts, due_at, tenant_id)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            event.request_id,
                            event.function,
                            event.qualifier,
                            event.payload,
                            event.trace_id,
                            event.client_context,
                            event.enqueued_at,
                            event.attempts,
                            event.due_at,
                            event.tenant_id,
                        ),
                    )
                    event.id = cursor.lastrowid or 0
                elif kind == "update":
                    db.execute(
                        "UPDATE events SET attempts = ?, due_at = ? WHERE id = ?",
                        (event.attempts, event.due_at, event.id),
                    )
                else:
                    db.execute("DELETE FROM events WHERE id = ?", (event.id,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
