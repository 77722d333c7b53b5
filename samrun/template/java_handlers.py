"""Where a Java handler's class lives, for `validate`: `pkg.Class::method` or `pkg.Class` is
`pkg/Class.class` among the classes the code holds (a folder of classes, its `lib/*.jar`, a
`.jar` or a `.zip` CodeUri, with the jars a zip holds under `lib/`), as Lambda's Java runtime
loads it. Code that needs a build (a Maven or Gradle project) has no classes yet: its sources are
looked for instead (`pkg/Class.java` under any source folder, or a Kotlin, Groovy or Scala one).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

BUILD_FILES = ("pom.xml", "build.gradle", "build.gradle.kts")
SOURCE_SUFFIXES = (".java", ".kt", ".groovy", ".scala")
SKIPPED = frozenset({".git", "target", "build", ".gradle", "node_modules", ".samrun", ".aws-sam"})
MAX_NESTED_JAR_BYTES = 64 * 1024 * 1024


def class_name(handler: str) -> str:
    """`pkg.Class` of `pkg.Class::method` (or of `pkg.Class`)."""
    return handler.split("::", 1)[0].strip()


def needs_build(code: Path, build_method: str | None) -> bool:
    """A Maven or Gradle project (BuildMethod, or its build file in the code folder)."""
    if build_method in ("maven", "gradle"):
        return True
    return code.is_dir() and any((code / name).is_file() for name in BUILD_FILES)


def java_handler_problem(code: Path, handler: str, build_method: str | None) -> str | None:
    """What is missing for `handler` to load from `code`, or None when its class is there."""
    name = class_name(handler)
    if not name:
        return f"handler {handler!r} names no class (pkg.Class::method or pkg.Class)"
    path = name.replace(".", "/")
    if needs_build(code, build_method):
        sources = tuple(path + suffix for suffix in SOURCE_SUFFIXES)
        if any(found in sources for found in _source_tails(code, sources)):
            return None
        return f"handler {handler!r} needs the source {path}.java in {code} (a project to build)"
    wanted = path + ".class"
    if wanted in class_files(code):
        return None
    return f"handler {handler!r} needs {wanted} in {code} (its classes, lib/*.jar, a .jar or .zip)"


def _source_tails(code: Path, sources: tuple[str, ...]) -> Iterator[str]:
    """For each source file whose name is one of `sources`' names: its path's tail as long as
    the wanted one (`src/main/java/pkg/Class.java` -> `pkg/Class.java`)."""
    names = {s.rsplit("/", 1)[-1] for s in sources}
    depth = sources[0].count("/") + 1
    if not code.is_dir():
        return
    for path in code.rglob("*"):
        parts = path.relative_to(code).parts
        if path.name in names and not SKIPPED & set(parts[:-1]) and path.is_file():
            yield "/".join(parts[-depth:])


def class_files(code: Path) -> frozenset[str]:
    """Every entry the code's classes, its jars and archives hold (paths with `/`)."""
    found: set[str] = set()
    if code.is_dir():
        for path in code.rglob("*"):
            if not path.is_file():
                continue
            relative = path.relative_to(code).as_posix()
            found.add(relative)
            if relative.startswith("lib/") and path.suffix == ".jar":
                found |= _archive_entries(path)
    elif code.is_file():
        found |= _archive_entries(code)
    return frozenset(found)


def _archive_entries(archive: Path | io.BytesIO, nested: bool = True) -> set[str]:
    """A jar's or zip's entries, and (`nested`) those of the jars it holds under lib/."""
    try:
        with zipfile.ZipFile(archive) as opened:
            entries = set(opened.namelist())
            if not nested:
                return entries
            for info in opened.infolist():
                jar = info.filename.startswith("lib/") and info.filename.endswith(".jar")
                if jar and info.file_size <= MAX_NESTED_JAR_BYTES:
                    entries |= _archive_entries(io.BytesIO(opened.read(info)), nested=False)
            return entries
    except (OSError, zipfile.BadZipFile, ValueError):
        return set()
