"""The files a manifest pulls in, which decide a build's result as much as the manifest does:
pip's `-r`/`-c` files (in turn) and local paths (`./pkg`, `-e ../lib`, `file:`, a wheel), npm's
`.npmrc` and `file:` dependencies. They join the build key (`cache.build_key`).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path

NPM_SECTIONS = ("dependencies", "optionalDependencies", "peerDependencies", "devDependencies")
_INCLUDES = ("-r", "--requirement", "-c", "--constraint")
_EDITABLE = ("-e", "--editable")


def requirement_files(requirements: Path, cwd: Path, seen: set[Path] | None = None) -> list[Path]:
    """`requirements` and what it refers to: included files (relative to the file that names
    them) and local paths (relative to `cwd`, where pip runs), files or folders."""
    seen = set() if seen is None else seen
    requirements = requirements.resolve()
    if requirements in seen or not requirements.is_file():
        return []
    seen.add(requirements)
    found = [requirements]
    for line in requirements.read_text(errors="replace").splitlines():
        for kind, value in _options(line):
            if kind in _INCLUDES:
                found += requirement_files(requirements.parent / value, cwd, seen)
            else:
                local = _local_path(value, cwd)
                if local is not None:
                    found.append(local)
    return found


def _options(line: str) -> Iterator[tuple[str, str]]:
    """(option, value) of one requirements line: includes, editables, and bare requirements."""
    line = line.split(" #", 1)[0].strip()
    if not line or line.startswith("#"):
        return
    try:
        words = shlex.split(line)
    except ValueError:
        return
    for option in (*_INCLUDES, *_EDITABLE):
        if words[0] == option and len(words) > 1:
            yield option, words[1]
            return
        for joined in (f"{option}=", option if not option.startswith("--") else None):
            if joined and words[0].startswith(joined) and len(words[0]) > len(joined):
                yield option, words[0][len(joined) :]
                return
    if not words[0].startswith("-"):
        yield "", words[0]


def _local_path(value: str, cwd: Path) -> Path | None:
    """A requirement that is a local file or folder, or None (a name, a URL)."""
    if value.startswith("file:"):
        value = value.removeprefix("file://").removeprefix("file:")
    elif not value.startswith((".", "/")) and not value.endswith((".whl", ".tar.gz", ".zip")):
        return None
    path = (cwd / value.split("#", 1)[0]).resolve()
    return path if path.exists() else None


def npm_files(folder: Path) -> list[Path]:
    """`.npmrc` and each `file:` dependency of `folder/package.json` (a folder or tarball)."""
    found = [folder / ".npmrc"] if (folder / ".npmrc").is_file() else []
    for target in file_dependencies(folder).values():
        if target.exists():
            found.append(target)
    return found


def file_dependencies(folder: Path) -> dict[str, Path]:
    """name -> local path of each `file:` dependency of `folder/package.json`."""
    try:
        manifest = json.loads((folder / "package.json").read_text())
    except (OSError, ValueError):
        return {}
    found = {}
    for section in NPM_SECTIONS:
        deps = manifest.get(section) if isinstance(manifest, dict) else None
        for name, spec in deps.items() if isinstance(deps, dict) else ():
            if isinstance(spec, str) and spec.startswith("file:"):
                found[str(name)] = (folder / spec.removeprefix("file:")).resolve()
    return found
