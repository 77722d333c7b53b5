"""Watch mode's eyes: which files belong to the running app, and when a burst of saves is over.

`WatchTargets` says what each path means (the template or a file it includes, the --env-vars
file, the code of functions, the content of layers). `Watcher` runs one watchdog observer over
the fewest folders that cover them, hands every event to the asyncio loop, drops what does not
matter (editor temp files, caches, samrun's own state), and calls back with one `Change` once
the files have been quiet for `quiet_s`: a burst of saves is one reload. Callbacks never overlap;
what changes during one is collected for the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from samrun.errors import SamrunError
from samrun.model import AppGraph, Code
from samrun.template.loader import load_template

logger = logging.getLogger(__name__)

QUIET_S = 0.05  # a burst is over after this long without events (50 saves still give one reload)
MAX_WAIT_S = 2.0  # a never-ending stream of events still reloads this often
IGNORED_DIRS = frozenset({"__pycache__", ".git", ".aws-sam", ".samrun", ".mypy_cache", ".hg"})
IGNORED_NAMES = ("*.swp", "*.swx", "*.swo", "*~", ".#*", "#*#", "4913", ".DS_Store", "*.pyc")


def ignored(path: Path, extra_dirs: Iterable[Path] = ()) -> bool:
    """Editor temp files, caches, version control and samrun's own state."""
    if any(part in IGNORED_DIRS for part in path.parts):
        return True
    if any(path.is_relative_to(folder) for folder in extra_dirs):
        return True
    return any(fnmatch.fnmatchcase(path.name, pattern) for pattern in IGNORED_NAMES)


@dataclass(slots=True)
class Change:
    """What one quiet period collected."""

    template: bool = False
    env_vars: bool = False
    functions: set[str] = field(default_factory=set)  # code changed (Function.name)
    layers: set[str] = field(default_factory=set)  # content changed (Layer.logical_id)
    files: set[Path] = field(default_factory=set)  # code and layer files that changed

    def __bool__(self) -> bool:
        return self.template or self.env_vars or bool(self.functions or self.layers)

    def merge(self, other: Change) -> None:
        self.template |= other.template
        self.env_vars |= other.env_vars
        self.functions |= other.functions
        self.layers |= other.layers
        self.files |= other.files


def _local(code: Code | None) -> Path | None:
    """The code's folder in the user's sources (a build's source, not its output)."""
    if code is None or not (code.source or code.path):
        return None
    return Path(code.source or code.path or "").resolve()


def included_files(
    data: Mapping[str, Any], base: Path, _seen: frozenset[Path] = frozenset()
) -> set[Path]:
    """Local files a template pulls in: DefinitionUri (OpenAPI, state machines), AWS::Include
    locations, and nested applications' templates with what they pull in in turn."""
    found: set[Path] = set()
    children: set[Path] = set()

    def visit(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                local = isinstance(value, str) and "://" not in value
                if key in ("DefinitionUri", "Location", "TemplateURL") and local:
                    found.add((base / value).resolve())
                    if key != "DefinitionUri":
                        children.add((base / value).resolve())
                visit(value)
        elif isinstance(node, list):
            for item in node:
                visit(item)

    visit(data)
    for child in children - _seen:
        found |= _child_includes(child, _seen | {child})
    return found


def _child_includes(path: Path, seen: frozenset[Path]) -> set[Path]:
    """What a nested application's template includes (nothing when it is not a template)."""
    if path.suffix not in (".yaml", ".yml", ".json", ".template") or not path.is_file():
        return set()
    try:
        data = load_template(path).data
    except SamrunError:  # the reload reports it, located; the file itself stays watched
        return set()
    return included_files(data, path.parent, seen)


@dataclass(frozen=True, slots=True)
class WatchTargets:
    """Every watched path and what a change to it means."""

    template: Path
    includes: frozenset[Path] = frozenset()
    env_vars: Path | None = None
    code: Mapping[Path, frozenset[str]] = field(default_factory=dict)  # path -> function names
    layers: Mapping[Path, frozenset[str]] = field(default_factory=dict)  # path -> layer ids

    @classmethod
    def of(
        cls,
        graph: AppGraph,
        template: Path,
        *,
        includes: Iterable[Path] = (),
        env_vars: Path | None = None,
    ) -> WatchTargets:
        code: dict[Path, set[str]] = {}
        for function in graph.functions:
            path = _local(function.config.code)
            build = function.config.image_build
            if path is None and build is not None:  # its image is rebuilt at the next start
                path = Path(build.context).resolve()
            if path is not None:
                code.setdefault(path, set()).add(function.name)
        layers: dict[Path, set[str]] = {}
        for layer in graph.layers:
            path = _local(layer.code)
            if path is not None:
                layers.setdefault(path, set()).add(layer.logical_id)
        for function in graph.functions:  # layers known only through a function's reference
            for ref in function.config.layers:
                path = _local(ref.code)
                if path is not None and path not in layers:
                    layers[path] = frozenset({ref.logical_id or ref.arn})  # type: ignore[assignment]
        return cls(
            template=template.resolve(),
            includes=frozenset(p.resolve() for p in includes),
            env_vars=env_vars.resolve() if env_vars else None,
            code={p: frozenset(n) for p, n in code.items()},
            layers={p: frozenset(n) for p, n in layers.items()},
        )

    def classify(self, path: Path) -> Change:
        """What a change to `path` means; an empty Change when it is none of the app's."""
        change = Change()
        if path == self.template or path in self.includes:
            change.template = True
        if path == self.env_vars:
            change.env_vars = True
        if change:
            return change  # the template may sit in a code folder (CodeUri: .); it is not code
        for root, names in self.code.items():
            if path == root or path.is_relative_to(root):
                change.functions |= names
                change.files.add(path)
        for root, names in self.layers.items():
            if path == root or path.is_relative_to(root):
                change.layers |= names
                change.files.add(path)
        return change

    def roots(self) -> list[tuple[Path, bool]]:
        """(folder, recursive) pairs to observe: the fewest that cover every target."""
        trees = {p for p in (*self.code, *self.layers) if p.is_dir()}
        files = {self.template, *self.includes, *(p for p in (*self.code, *self.layers))}
        if self.env_vars:
            files.add(self.env_vars)
        trees = {t for t in trees if not any(t != o and t.is_relative_to(o) for o in trees)}
        flat = {f.parent for f in files - trees if not any(f.is_relative_to(t) for t in trees)}
        return [(t, True) for t in sorted(trees)] + [(d, False) for d in sorted(flat) if d.is_dir()]


class _Forward(FileSystemEventHandler):
    """On watchdog's thread: pass every path an event names to the loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, on_path: Callable[[Path], None]):
        self._loop = loop
        self._on_path = on_path

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        if event.is_directory and event.event_type == "modified":
            return  # a folder's entries changed: the entries' own events say which
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            if raw:
                text = raw.decode() if isinstance(raw, bytes) else raw
                try:
                    self._loop.call_soon_threadsafe(self._on_path, Path(text))
                except RuntimeError:  # the loop closed while watchdog was still reporting
                    return


Callback = Callable[[Change], Awaitable[None]]


class Watcher:
    """One observer over the app's files; `on_change` runs once per quiet period, serially."""

    def __init__(
        self,
        targets: WatchTargets,
        on_change: Callback,
        *,
        ignore_dirs: Iterable[Path] = (),
        quiet_s: float = QUIET_S,
        max_wait_s: float = MAX_WAIT_S,
    ) -> None:
        self.targets = targets
        self._on_change = on_change
        self._ignore_dirs = tuple(p.resolve() for p in ignore_dirs)
        self._quiet_s = quiet_s
        self._max_wait_s = max_wait_s
        self._pending = Change()
        self._first_event = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._due = asyncio.Event()
        self._observer: Any = None
        self._runner: asyncio.Task[None] | None = None
        self._lock = threading.Lock()
        self.last_event = 0.0  # loop time of the latest relevant event (benchmarks read it)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._observe()
        self._runner = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._timer:
            self._timer.cancel()
        if self._runner:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        await asyncio.to_thread(self._unobserve)

    async def retarget(self, targets: WatchTargets) -> None:
        """Watch a new set of paths (after a template reload). The new observer starts before
        the old one stops, so no change is missed in between (a duplicate is merged anyway)."""
        old_roots = self.targets.roots()
        self.targets = targets
        if targets.roots() != old_roots:
            old = self._observer
            self._observe()
            await asyncio.to_thread(self._stop_observer, old)

    def _observe(self) -> None:
        observer = Observer()
        handler = _Forward(self._loop, self.on_path)
        for folder, recursive in self.targets.roots():
            observer.schedule(handler, str(folder), recursive=recursive)
        observer.daemon = True
        observer.start()
        with self._lock:
            self._observer = observer

    def _unobserve(self) -> None:
        with self._lock:
            observer, self._observer = self._observer, None
        self._stop_observer(observer)

    @staticmethod
    def _stop_observer(observer: Any) -> None:
        if observer is not None:
            observer.stop()
            observer.join(timeout=5)

    def on_path(self, path: Path) -> None:
        """On the loop: fold one changed path into the pending change; re-arm the quiet timer."""
        if ignored(path, self._ignore_dirs):
            return
        change = self.targets.classify(path)
        if not change:
            return
        now = self._loop.time()
        if not self._pending:
            self._first_event = now
        self._pending.merge(change)
        self.last_event = now
        if self._timer:
            self._timer.cancel()
        delay = min(self._quiet_s, max(0.0, self._first_event + self._max_wait_s - now))
        self._timer = self._loop.call_later(delay, self._due.set)

    async def _run(self) -> None:
        while True:
            await self._due.wait()
            self._due.clear()
            change, self._pending = self._pending, Change()
            if not change:
                continue
            try:
                await self._on_change(change)
            except Exception:  # the watcher's edge: a failed reload must not end watch mode
                logger.exception("reload failed")
