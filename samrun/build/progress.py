"""Build progress a person can follow: one line per function or layer, `cached` or `built in
N s`; on a terminal, a spinner with the elapsed time while a build runs."""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from collections.abc import Iterator
from typing import TextIO

logger = logging.getLogger("samrun.build")

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class Progress:
    """Reports builds through samrun's log; spins on `stream` when it is a terminal."""

    def __init__(self, stream: TextIO | None = None, *, show_cached: bool = True) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._spin = self._stream.isatty()
        self._show_cached = show_cached  # watch mode's rebuilds say only what they built
        self.reported = 0  # builds reported, cached or built

    def not_built(self, line: str) -> None:
        """What `sam build` would build and samrun does not (said once: not on rebuilds)."""
        if self._show_cached:
            logger.warning("not built: %s", line)

    def cached(self, label: str, detail: str) -> None:
        self.reported += 1
        if self._show_cached:
            logger.info("build %s (%s): cached", label, detail)

    @contextlib.contextmanager
    def running(self, label: str, detail: str) -> Iterator[None]:
        self.reported += 1
        began = time.monotonic()
        done = threading.Event()
        spinner = None
        if self._spin:
            spinner = threading.Thread(
                target=self._spinner, args=(f"build {label} ({detail})", began, done), daemon=True
            )
            spinner.start()
        try:
            yield
        finally:
            done.set()
            if spinner is not None:
                spinner.join()
                self._stream.write("\r\033[K")
                self._stream.flush()
        logger.info("build %s (%s): built in %.1f s", label, detail, time.monotonic() - began)

    def _spinner(self, text: str, began: float, done: threading.Event) -> None:
        frame = 0
        while not done.wait(0.1):
            elapsed = time.monotonic() - began
            self._stream.write(f"\r{SPINNER[frame % len(SPINNER)]} {text}: {elapsed:.0f} s")
            self._stream.flush()
            frame += 1
