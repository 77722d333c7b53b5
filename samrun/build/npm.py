"""Node.js dependencies: `npm ci` where a lock file pins them, else `npm install --omit=dev`,
run on a copy of the manifest in the state folder, never in the user's sources.

Also installs the npm packages samrun itself needs once per state folder (or per shared folder):
the AWS SDK for JavaScript v3 that Lambda's Node.js runtimes include, and esbuild.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

from samrun.build import steps
from samrun.build.cache import staging
from samrun.build.items import LOCK_FILES, BuildItem

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
