"""`samrun debug-config`: attach configurations for IDEs that agree with `samrun up --debug`.

Ports follow one convention, so a configuration written once keeps matching: with `--port-base N`
the app's debuggable functions take N, N+1, ... in template order; without it, Python functions
take 5678, 5679, ... and Node.js functions 9229, 9230, ... (debugpy's and Node's defaults). Naming
one function only filters what is printed: its port stays the one it has among all of them. The
`samrun up --debug NAME=PORT ...` line printed alongside starts the app to match.

Functions in containers (the docker backend, PackageType Image) see their code at /var/task, so
their configurations carry the mapping from /var/task to the function's folder; on the process
backend the code runs from its own path and needs none.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from samrun.errors import SamrunError
from samrun.model import AppGraph, Function, PackageType
from samrun.runtime.debugging import LOOPBACK

PREFIX = "samrun: "  # the names of the entries samrun writes, and replaces
PYTHON_PORT = 5678
NODE_PORT = 9229
REMOTE_ROOT = "/var/task"
LANGUAGE_NAMES = {"python": "Python", "nodejs": "Node.js"}


@dataclass(frozen=True, slots=True)
class Target:
    """One function an IDE attaches to."""

    name: str
    language: str  # python | nodejs
    port: int
    code: Path | None  # the function's folder on this machine (what /var/task holds)
    in_container: bool  # the IDE maps /var/task to `code`
    esbuild: bool  # bundled by esbuild into the state folder (source maps lead back)


def language_of(function: Function) -> str | None:
    """python | nodejs, or None when samrun cannot say which debugger the function takes."""
    runtime = function.config.runtime or ""
    for family in LANGUAGE_NAMES:
        if runtime.startswith(family):
            return family
    if function.config.package_type is PackageType.IMAGE:
        return image_language(function)
    return None


def image_language(function: Function) -> str | None:
    """An image function's language, from its Dockerfile's FROM lines or its image's name."""
    hints = [function.config.code.image_uri or ""]
    build = function.config.image_build
    if build is not None:
        try:
            text = (Path(build.context) / build.dockerfile).read_text(errors="replace")
        except OSError:
            text = ""
        hints += [line for line in text.splitlines() if line.strip().upper().startswith("FROM")]
    joined = " ".join(hints).lower()
    if "python" in joined:
        return "python"
    if "node" in joined:
        return "nodejs"
    return None


def code_folder(function: Function) -> Path | None:
    """The folder /var/task holds: CodeUri, or an image's build context."""
    config = function.config
    if config.package_type is PackageType.IMAGE:
        return Path(config.image_build.context) if config.image_build else None
    path = Path(config.code.path) if config.code.path else None
    return path if path is not None and path.is_dir() else None


def debug_targets(
    graph: AppGraph, *, docker: bool, port_base: int | None
) -> tuple[list[Target], list[str]]:
    """Every debuggable function with its port (template order), and a note for each other."""
    targets: list[Target] = []
    notes: list[str] = []
    next_port = {"python": PYTHON_PORT, "nodejs": NODE_PORT}
    for function in graph.functions:
        language = language_of(function)
        if language is None:
            runtime = function.config.runtime or "an image of unknown language"
            notes.append(
                f"{function.name}: no attach configuration for {runtime} (a `provided` "
                "bootstrap is debugged with --debug-args, through its own debugger's client)"
            )
            continue
        if port_base is not None:
            port = port_base + len(targets)
        else:
            port = next_port[language]
            next_port[language] += 1
        image = function.config.package_type is PackageType.IMAGE
        targets.append(
            Target(
                name=function.name,
                language=language,
                port=port,
                code=code_folder(function),
                in_container=docker or image,
                esbuild=function.build is not None and function.build.method == "esbuild",
            )
        )
    if port_base is not None and targets and targets[-1].port > 65535:
        raise SamrunError(f"--port-base {port_base}: the ports would pass 65535")
    return targets, notes


def pick(targets: list[Target], name: str | None, graph: AppGraph) -> list[Target]:
    """All of them, or the one `name` means (a clear error when it cannot be debugged)."""
    if name is None:
        return targets
    function = graph.function(name)
    if function is None:
        known = ", ".join(sorted(f.name for f in graph.functions)) or "none"
        raise SamrunError(f"debug-config {name}: no such function (the app's: {known})")
    found = [t for t in targets if t.name == function.name]
    if not found:
        raise SamrunError(
            f"debug-config {name}: samrun has no attach configuration for "
            f"{function.config.runtime or 'this image'}"
        )
    return found


class Paths:
    """Paths as launch.json writes them: under the workspace (the template's folder) with
    ${workspaceFolder}, else absolute."""

    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace.resolve()

    def __call__(self, path: Path) -> str:
        path = path.resolve()
        if path == self.workspace:
            return "${workspaceFolder}"
        if path.is_relative_to(self.workspace):
            return "${workspaceFolder}/" + path.relative_to(self.workspace).as_posix()
        return path.as_posix()


def vscode_entry(target: Target, paths: Paths, state_dir: Path) -> dict[str, Any]:
    """One `launch.json` configuration that attaches to `target`."""
    title = f"{PREFIX}{target.name} ({LANGUAGE_NAMES[target.language]})"
    if target.language == "python":
        entry: dict[str, Any] = {
            "name": title,
            "type": "debugpy",
            "request": "attach",
            "connect": {"host": LOOPBACK, "port": target.port},
            "justMyCode": True,
        }
        if target.in_container and target.code is not None:
            entry["pathMappings"] = [{"localRoot": paths(target.code), "remoteRoot": REMOTE_ROOT}]
        return entry
    entry = {
        "name": title,
        "type": "node",
        "request": "attach",
        "address": LOOPBACK,
        "port": target.port,
        "restart": True,  # a reload starts the next instance on the same port: attach again
        "continueOnAttach": True,  # --debug-wait holds node at its first line (--inspect-brk)
        "sourceMaps": True,
        "skipFiles": ["<node_internals>/**", "**/samrun/runtime/bootstraps/**", "/var/runtime/**"],
    }
    if target.in_container and target.code is not None:
        entry["localRoot"] = paths(target.code)
        entry["remoteRoot"] = REMOTE_ROOT
    if target.esbuild:  # the bundle is in the state folder; its map names the sources in place
        built = paths(state_dir / "build")
        entry["outFiles"] = [
            "${workspaceFolder}/**/*.(m|c|)js",
            f"{built}/**/*.(m|c|)js",
            "!**/node_modules/**",
        ]
        entry["resolveSourceMapLocations"] = [
            "${workspaceFolder}/**",
            f"{paths(state_dir)}/**",
            "!**/node_modules/**",
        ]
    return entry


def up_command(template: Path, targets: Sequence[Target], extra: Sequence[str]) -> str:
    """The `samrun up` line whose debuggers listen where the configurations attach."""
    words = ["samrun", "up", str(template), *extra, "--debug"]
    words += [f"{t.name}={t.port}" for t in targets]
    return shlex.join(words)


def vscode_document(targets: Sequence[Target], paths: Paths, state_dir: Path) -> str:
    entries = [vscode_entry(t, paths, state_dir) for t in targets]
    return json.dumps({"version": "0.2.0", "configurations": entries}, indent=4)


def pycharm_text(targets: Sequence[Target], command: str) -> str:
    """PyCharm's settings, as steps: its own Python debugger speaks pydevd, not debugpy's Debug
    Adapter Protocol, so Python attaches through a DAP client plugin (LSP4IJ); Node.js through
    PyCharm's "Attach to Node.js/Chrome" configuration (the inspector protocol)."""
    lines = [f"# Start the app with its debuggers listening:\n#   {command}", ""]
    for target in targets:
        where = f"{LOOPBACK}:{target.port}"
        title = f"{PREFIX}{target.name} ({LANGUAGE_NAMES[target.language]})"
        lines.append(f"{title} -> {where}")
        if target.language == "python":
            parameters: dict[str, Any] = {
                "name": title,
                "type": "python",
                "request": "attach",
                "redirectOutput": True,
                "connect": {"host": LOOPBACK, "port": target.port},
            }
            if target.in_container and target.code is not None:
                mapping = {"localRoot": str(target.code), "remoteRoot": REMOTE_ROOT}
                parameters["pathMappings"] = [mapping]
            lines += [
                "  PyCharm's own debugger speaks pydevd, not debugpy's Debug Adapter Protocol",
                "  (JetBrains PY-63403): attach with the LSP4IJ plugin's DAP client (free):",
                "  Run > Edit Configurations > + > Debug Adapter Protocol",
                f"    Name: {title}",
                "    Server tab: create a new server from the 'Python - Debugpy' template",
                "    Configuration tab: Debug mode: Attach; DAP parameters:",
                *("      " + line for line in json.dumps(parameters, indent=2).splitlines()),
                f"      (Address: {LOOPBACK}, Port: {target.port})",
            ]
        else:
            lines += [
                "  Run > Edit Configurations > + > Attach to Node.js/Chrome",
                f"    Name: {title}",
                f"    Host: {LOOPBACK}   Port: {target.port}",
                "    Reconnect automatically: on (a reload starts the next instance there)",
            ]
            if target.in_container and target.code is not None:
                lines.append(f"    Remote URLs of local files: {target.code} -> {REMOTE_ROOT}")
        if target.in_container and target.code is not None:
            lines.append(f"  Path mapping: {target.code} = {REMOTE_ROOT} (code in the container)")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


@dataclass(frozen=True, slots=True)
class Output:
    """What `debug-config` prints (stdout), and says beside it (stderr)."""

    text: str
    notes: list[str]


def debug_config(
    graph: AppGraph,
    template: Path,
    state_dir: Path,
    *,
    function: str | None,
    ide: str,
    write: bool,
    port_base: int | None,
    docker: bool,
) -> Output:
    """The configurations of `function` (or of every debuggable one), printed, or merged into
    the template folder's .vscode/launch.json with `write`."""
    targets, notes = debug_targets(graph, docker=docker, port_base=port_base)
    chosen = pick(targets, function, graph)
    if function is not None:
        notes = []
    if not chosen:
        raise SamrunError("debug-config: the app has no Python or Node.js function to debug")
    shown = shown_path(template)
    command = up_command(shown, chosen, ["--backend", "docker"] if docker else [])
    paths = Paths(template.parent)
    if ide == "pycharm":
        if write:
            raise SamrunError("--write writes VS Code's launch.json: drop --ide pycharm")
        return Output(pycharm_text(chosen, command), notes)
    if not write:
        start = f"start the app to match: {command}"
        return Output(vscode_document(chosen, paths, state_dir) + "\n", [*notes, start])
    written, replaced = write_launch(
        template.parent, [vscode_entry(t, paths, state_dir) for t in chosen]
    )
    said = f"wrote {len(chosen)} configuration(s) to {written}"
    said += f" (replacing {replaced} samrun wrote before)" if replaced else ""
    return Output("", [*notes, said, f"start the app to match: {command}"])


def shown_path(path: Path) -> Path:
    """`path` as the user would type it here: relative to the current folder when inside it."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def write_launch(folder: Path, entries: list[dict[str, Any]]) -> tuple[Path, int]:
    """Merge `entries` into FOLDER/.vscode/launch.json: samrun's earlier entries (named
    "samrun: ...") are replaced, every other one and every comment kept. (path, replaced)"""
    from samrun import launch_json

    path = folder / ".vscode" / "launch.json"
    try:
        text: str | None = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = None
    except (OSError, UnicodeDecodeError) as exc:
        raise SamrunError(f"{path}: cannot read it ({exc}); nothing written") from None

    def ours(entry: Any) -> bool:
        return isinstance(entry, dict) and str(entry.get("name", "")).startswith(PREFIX)

    replaced = 0
    if text is not None:
        try:
            found = launch_json.parse(text).value if text.strip() else {}
        except launch_json.JsoncError as exc:
            raise SamrunError(
                f"{path}: not valid JSON with comments ({exc}); nothing written"
            ) from None
        configurations = found.get("configurations") if isinstance(found, dict) else None
        replaced = (
            sum(1 for e in configurations or [] if ours(e))
            if isinstance(configurations, list)
            else 0
        )
    try:
        merged = launch_json.merge(text, entries, ours)
    except SamrunError as exc:
        raise SamrunError(f"{path}: {exc}; nothing written") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.samrun-partial")
    partial.write_text(merged, encoding="utf-8")
    partial.replace(path)  # whole or not at all
    return path, replaced
