"""The build cache: one folder per build key under `<state>/build`, published atomically.

A key hashes what decides a build's result: the builder, the manifest and lock file (pip, npm,
bundler), the runtime and architecture, and for builds that copy or compile the sources (esbuild,
makefile, layers, a Gemfile's `path:` gems) the sources themselves. An unchanged app finds every
key built and builds nothing; a changed manifest gets a new key, and the old folder stays until
the state folder is cleaned.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from samrun.build.bundler import MANIFEST_FILES, uses_local_gems
from samrun.build.items import LOCK_FILES, MANIFESTS, BuildItem
from samrun.build.references import npm_files, requirement_files

BUILDER_VERSION = "1"  # bump when a builder's output layout changes
SKIPPED_DIRS = frozenset({".git", "node_modules", "__pycache__", ".aws-sam", ".samrun", ".venv"})
# what a Java build writes into a project built by hand (Maven's target/, Gradle's build/ and
# caches): not sources, so a key does not change when the user builds the project themselves
JAVA_OUTPUT_DIRS = frozenset({"target", "build", ".gradle", ".idea", "out", "bin"})
JAVA_BUILDERS = ("maven", "gradle")


def source_files(
    folder: Path, skip: Path | None = None, skipped: frozenset[str] = frozenset()
) -> Iterator[Path]:
    """The files a build reads, in a stable order, without caches and samrun's state;
    `skipped`: more folder names left out at the top of `folder` (a Java build's outputs)."""
    for root, dirs, names in os.walk(folder):
        base = Path(root)
        top = skipped if base == folder else frozenset()
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in SKIPPED_DIRS and d not in top and (skip is None or base / d != skip)
        )
        yield from (base / name for name in sorted(names))


def build_key(item: BuildItem, state_dir: Path, variant: str = "") -> str:
    """`variant`: what else decides the result (pip: the interpreter the packages are for)."""
    digest = hashlib.sha256()
    head = [BUILDER_VERSION, item.builder, item.kind, item.runtime, item.architecture, variant]
    if item.builder in ("esbuild", "makefile"):
        head += [item.logical_id, item.handler or "", json.dumps(item.properties, sort_keys=True)]
    digest.update("\0".join(head).encode())
    whole_tree = item.kind == "layer" or item.builder in ("esbuild", "makefile")
    if item.builder in JAVA_BUILDERS:  # the build files and the sources, not what a build wrote
        files = list(source_files(item.source, state_dir.resolve(), JAVA_OUTPUT_DIRS))
    elif whole_tree or (item.builder == "bundler" and uses_local_gems(item.source)):
        files = list(source_files(item.source, skip=state_dir.resolve()))
    elif item.builder == "bundler":
        files = [item.source / name for name in MANIFEST_FILES if (item.source / name).is_file()]
    else:
        names = [MANIFESTS.get(item.builder, ""), *(LOCK_FILES if item.builder == "npm" else ())]
        files = [item.source / name for name in names if (item.source / name).is_file()]
    files += _referenced(item, files, state_dir)
    for file in files:
        digest.update(b"\0" + os.path.relpath(file, item.source).encode() + b"\0")
        digest.update(file.read_bytes())
    return digest.hexdigest()[:20]


def _referenced(item: BuildItem, manifest: list[Path], state_dir: Path) -> list[Path]:
    """The files the manifest refers to (`build.references`), folders walked, not yet hashed."""
    if item.builder == "pip":
        found = requirement_files(item.source / "requirements.txt", item.source)[1:]
    elif item.builder == "npm":
        found = npm_files(item.source)
    else:
        return []
    files: list[Path] = []
    for path in found:
        walked = source_files(path, skip=state_dir.resolve()) if path.is_dir() else [path]
        files += [f for f in walked if f not in manifest and f not in files and f.is_file()]
    return files


def artifact_dir(item: BuildItem, state_dir: Path, variant: str = "") -> Path:
    """Where the build of `item` lives (it may not exist yet)."""
    return state_dir / "build" / f"{item.builder}-{build_key(item, state_dir, variant)}"


@contextlib.contextmanager
def staging(final: Path) -> Iterator[Path]:
    """A fresh folder to build into; renamed to `final` when the block ends without error.
    Another samrun that published the same key first wins; ours is dropped."""
    partial = final.with_name(f".{final.name}.{os.getpid()}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        yield partial
        try:
            partial.rename(final)
        except OSError:
            if not final.is_dir():
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def log_file(state_dir: Path, name: str) -> Path:
    folder = state_dir / "build" / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return folder / f"{safe}.log"
