"""Node.js dependencies: `npm ci` where a lock file pins them, else `npm install --omit=dev`,
run on a copy of the manifest in the state folder, never in the user's sources.

Also installs the npm packages samrun itself needs once per state folder (or per shared folder):
the AWS SDK for JavaScript v3 that Lambda's Node.js runtimes include, and esbuild.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from samrun.build import steps
from samrun.build.cache import staging
from samrun.build.items import LOCK_FILES, BuildItem
from samrun.build.references import NPM_SECTIONS, file_dependencies

NPM_ENV = {
    "npm_config_update_notifier": "false",
    "npm_config_fund": "false",
    "npm_config_audit": "false",
}
HINT = "install Node.js, which brings npm"
# samrun's own packages: npm's cache first, and a short wait where no registry answers (an
# offline machine still starts its app, without them, within a minute).
REGISTRY_FLAGS = ("--prefer-offline", "--fetch-retries=1", "--fetch-timeout=20000")


def install(folder: Path, log: Path, *, production: bool = True) -> None:
    """Install the dependencies of the package.json in `folder` into `folder/node_modules`."""
    npm = steps.tool("npm", HINT)
    omit = ["--omit=dev"] if production else []
    if any((folder / name).is_file() for name in LOCK_FILES):
        argv = [npm, "ci", *omit]
    else:
        argv = [npm, "install", *omit]
    steps.run(argv, what=f"npm {argv[1]}", cwd=folder, log=log, env=NPM_ENV)


def copy_manifest(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", *LOCK_FILES, ".npmrc"):
        if (source / name).is_file():
            shutil.copy2(source / name, target / name)
    moved = {
        os.path.relpath(path, source): os.path.relpath(path, target)
        for path in file_dependencies(source).values()
    }
    if moved:  # `file:` dependencies: the copy names the same folders from where it is
        _repoint(target / "package.json", moved, lock=False)
        for name in LOCK_FILES:
            if (target / name).is_file():
                _repoint(target / name, moved, lock=True)


def _repoint(file: Path, moved: dict[str, str], *, lock: bool) -> None:
    """Rewrite the relative paths of `file:` dependencies (package.json's specs; a lock file's
    package keys, `resolved` links and v1 `version`s) from the sources' folder to the copy's."""

    def path(text: str) -> str:
        for old, new in moved.items():
            if text == old or text.startswith(old + "/"):
                return new + text[len(old) :]
        return text

    def spec(text: Any) -> Any:
        if isinstance(text, str) and text.startswith("file:"):
            return "file:" + path(os.path.normpath(text.removeprefix("file:")))
        return text

    data = json.loads(file.read_text())
    if not lock:
        for section in NPM_SECTIONS:
            deps = data.get(section)
            if isinstance(deps, dict):
                data[section] = {name: spec(value) for name, value in deps.items()}
    else:
        _repoint_lock(data, path, spec)
    file.write_text(json.dumps(data, indent=2))


def _repoint_lock(data: dict[str, Any], path: Any, spec: Any) -> None:
    packages = data.get("packages")
    if isinstance(packages, dict):
        data["packages"] = {path(key): entry for key, entry in packages.items()}
        for entry in data["packages"].values():
            if not isinstance(entry, dict):
                continue
            if isinstance(entry.get("resolved"), str):
                entry["resolved"] = path(entry["resolved"])
            if isinstance(entry.get("dependencies"), dict):
                entry["dependencies"] = {k: spec(v) for k, v in entry["dependencies"].items()}
    for entry in (data.get("dependencies") or {}).values():  # lock file v1
        if isinstance(entry, dict):
            entry["version"] = spec(entry.get("version"))


def build_function(item: BuildItem, out: Path, ws: steps.Workspace) -> None:
    """A function's packages into `out/node_modules`, which goes on NODE_PATH."""
    copy_manifest(item.source, out)
    install(out, ws.log)
    (out / "node_modules").mkdir(exist_ok=True)


def build_layer(item: BuildItem, out: Path, ws: steps.Workspace) -> None:
    """A layer as `sam build` lays it out: its content and packages under nodejs/."""
    nodejs = out / "nodejs"
    steps.copy_tree(item.source, nodejs, ws.state_dir)
    if (nodejs / "package.json").is_file():
        install(nodejs, ws.log)


def install_packages(folder: Path, packages: Sequence[str], log: Path) -> Path:
    """`packages` from the npm registry into `folder/node_modules`, once: a folder that holds
    them all is the cache (its `.packages` file says what it holds); one that lacks some is
    installed again with what it held and what is wanted. Returns the node_modules folder."""
    if not installed(folder, packages):
        wanted = sorted(set(packages) | held(folder))
        npm = steps.tool("npm", HINT)
        folder.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(folder, ignore_errors=True)
        with staging(folder) as partial:
            (partial / "package.json").write_text(json.dumps({"private": True}))
            argv = [npm, "install", "--omit=dev", "--no-package-lock", *REGISTRY_FLAGS, *wanted]
            steps.run(argv, what="npm install", cwd=partial, log=log, env=NPM_ENV)
            (partial / ".packages").write_text("\n".join(wanted))
    return folder / "node_modules"


def held(folder: Path) -> set[str]:
    try:
        return set((folder / ".packages").read_text().split())
    except OSError:
        return set()


def installed(folder: Path, packages: Sequence[str]) -> bool:
    return (folder / "node_modules").is_dir() and set(packages) <= held(folder)
