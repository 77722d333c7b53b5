"""Lay out a function's code (/var/task) and its layers (/opt) inside the state folder.

A code folder is used where it is, so an edit shows at the next cold start; a .zip or inline code
is unpacked once per content hash. Layers merge in order, later layers winning, as Lambda
extracts them into /opt. No entry may land outside its folder (zip slip).
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path

from samrun.errors import InvalidParameterValue
from samrun.model import Code, FunctionConfig
from samrun.state_lock import LOCK_NAME

MAX_UNZIPPED_BYTES = 250 * 1024 * 1024
INLINE_FILES = {"python": "index.py", "nodejs": "index.js"}


def prepare_code(code: Code, runtime: str | None, state_dir: Path) -> Path:
    """The folder that becomes LAMBDA_TASK_ROOT."""
    if code.inline is not None:
        return write_inline(code.inline, runtime, state_dir)
    if code.path is None:
        raise InvalidParameterValue(
            f"code is not available locally: {code.remote or code.image_uri}"
        )
    path = Path(code.path)
    if path.is_dir():
        return path
    if path.is_file() and zipfile.is_zipfile(path):
        return extract_zip(path, state_dir / "code")
    raise InvalidParameterValue(f"code not found: {path}")


def write_inline(source: str, runtime: str | None, state_dir: Path) -> Path:
    family = "nodejs" if (runtime or "").startswith("nodejs") else "python"
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    folder = state_dir / "code" / f"inline-{digest}"
    target = folder / INLINE_FILES[family]
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True)
        target.write_text(source)
    return folder


def extract_zip(archive: Path, root: Path) -> Path:
    """Unpack `archive` under `root` once per content; refuse entries that escape the folder."""
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()[:16]
    folder = root / f"zip-{digest}"
    if folder.is_dir():
        return folder
    staging = root / f".zip-{digest}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        unpack_safely(archive, staging)
        staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def unpack_safely(archive: Path, target: Path) -> None:
    base = target.resolve()
    with zipfile.ZipFile(archive) as zipped:
        members = zipped.infolist()
        if sum(member.file_size for member in members) > MAX_UNZIPPED_BYTES:
            raise InvalidParameterValue(
                f"Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes: {archive}"
            )
        for member in members:
            destination = (base / member.filename).resolve()
            if not destination.is_relative_to(base):
                raise InvalidParameterValue(
                    f"refused zip entry {member.filename!r} of {archive}: it escapes its folder"
                )
        for member in members:
            extracted = Path(zipped.extract(member, base))
            mode = (member.external_attr >> 16) & 0o777
            if mode and not member.is_dir():
                extracted.chmod(mode)


def prepare_layers(layer_paths: Sequence[Path], state_dir: Path) -> Path | None:
    """The folder that stands for /opt: one layer folder as is, else a merged copy."""
    folders = layer_folders(layer_paths, state_dir)
    if not folders:
        return None
    if len(folders) == 1:
        return folders[0]
    key = hashlib.sha256("\0".join(str(f) for f in folders).encode()).hexdigest()[:16]
    merged = state_dir / "opt" / key
    shutil.rmtree(merged, ignore_errors=True)
    for folder in folders:  # later layers win, as Lambda extracts them in order
        shutil.copytree(folder, merged, dirs_exist_ok=True, symlinks=True)
    return merged


def layer_folders(layer_paths: Sequence[Path], state_dir: Path) -> list[Path]:
    """Each layer as a folder: a folder as it is, a .zip unpacked once in the state folder."""
    return [
        path if path.is_dir() else extract_zip(path, state_dir / "layers") for path in layer_paths
    ]


SKIPPED = ("__pycache__", ".git", ".aws-sam", ".samrun")


def not_code(folder: str | os.PathLike[str], names: list[str]) -> set[str]:
    """The entries of `folder` that are never a function's code: caches, VCS, and any samrun
    state folder (a `--state-dir` inside the code folder would otherwise copy itself forever)."""
    return {
        name for name in names if name in SKIPPED or (Path(folder) / name / LOCK_NAME).is_file()
    }


def code_files(config: FunctionConfig) -> list[Path]:
    path = Path(config.code.path) if config.code.path else None
    if path is None or not path.exists():
        return []
    if path.is_file():
        return [path]
    files: list[Path] = []
    for root, dirs, names in os.walk(path):
        dirs[:] = sorted(set(dirs) - not_code(root, dirs))
        files.extend(Path(root) / name for name in sorted(names))
    return files


def code_sha256(config: FunctionConfig) -> str:
    """Lambda's CodeSha256 (base64 SHA-256); for a folder, over its files' paths and bytes."""
    digest = hashlib.sha256()
    if config.code.inline is not None:
        digest.update(config.code.inline.encode())
    base = Path(config.code.path) if config.code.path else None
    for file in code_files(config):
        if base is not None and base.is_dir():
            digest.update(str(file.relative_to(base)).encode() + b"\0")
        digest.update(file.read_bytes())
    return base64.b64encode(digest.digest()).decode()


def code_size(config: FunctionConfig) -> int:
    if config.code.inline is not None:
        return len(config.code.inline.encode())
    return sum(file.stat().st_size for file in code_files(config))


def snapshot(code: Code, state_dir: Path, sha256: str) -> Code:
    """An immutable copy of local code, named by its content: what a published version runs."""
    if code.path is None:
        return code  # inline code and images are immutable already
    source = Path(code.path)
    digest = base64.b64decode(sha256).hex()[:24]
    target = state_dir / "snapshots" / (digest + (source.suffix if source.is_file() else ""))
    if not target.exists():
        staging = target.with_name(target.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, staging, symlinks=True, ignore=not_code)
        else:
            shutil.copy2(source, staging)
        staging.rename(target)
    return Code(path=str(target), dependencies=code.dependencies)  # builds are immutable
