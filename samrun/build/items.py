"""What an app asks `sam build` to build: one `BuildItem` per function or layer with a manifest
or a `Metadata: BuildMethod`, as SAM CLI decides it.

Functions are built by their runtime when their code folder holds a manifest (requirements.txt
for Python, package.json with dependencies for Node.js, a Gemfile for Ruby), or by their
BuildMethod (esbuild, makefile). Layers are built only when they name a BuildMethod, as SAM CLI
builds them.
Functions that share a code folder, runtime and architecture share one build.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from samrun.model import AppGraph, BuildSpec, Code, PackageType

MANIFESTS = {"pip": "requirements.txt", "npm": "package.json"}
JAVA_BUILDS = {"maven": ("pom.xml",), "gradle": ("build.gradle", "build.gradle.kts")}
# Manifests of runtimes `sam build` builds and samrun does not: named at startup, never ignored.
OTHER_MANIFESTS = {
    "dotnet": ("*.csproj", "*.fsproj"),
    "go": ("go.mod",),
    "provided": ("Cargo.toml", "go.mod"),
}
LOCK_FILES = ("package-lock.json", "npm-shrinkwrap.json")


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildItem:
    """One build: where its sources are, which builder runs, for which runtime and machine."""

    names: tuple[str, ...]  # the functions or layer it is for, as the user named them
    kind: str  # function | layer
    builder: str  # pip | npm | bundler | esbuild | makefile | maven | gradle
    code: Code  # the source Code that the build's result replaces
    source: Path
    runtime: str
    architecture: str  # x86_64 | arm64
    handler: str | None = None
    logical_id: str = ""  # make build-LOGICALID
    properties: Mapping[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return ", ".join(self.names)


def has_requirements(folder: Path) -> bool:
    """A requirements.txt that names at least one requirement (not only comments)."""
    path = folder / MANIFESTS["pip"]
    if not path.is_file():
        return False
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return any(lines)


def has_node_dependencies(folder: Path) -> bool:
    path = folder / MANIFESTS["npm"]
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return path.is_file()  # unreadable: let npm say what is wrong with it
    return isinstance(data, dict) and bool(data.get("dependencies"))


def builder_for(runtime: str, folder: Path, spec: BuildSpec | None) -> str | None:
    """The builder `sam build` would run for code in `folder`, or None: nothing to build."""
    method = spec.method if spec else None
    if method in ("esbuild", "makefile", *JAVA_BUILDS):
        return method
    family = method or runtime
    if family.startswith("java"):  # as `sam build` picks Maven or Gradle for a java* runtime
        return java_builder(folder)
    if family.startswith("python") and has_requirements(folder):
        return "pip"
    if family.startswith("nodejs") and has_node_dependencies(folder):
        return "npm"
    if family.startswith("ruby") and (folder / "Gemfile").is_file():
        return "bundler"
    return None


def java_builder(folder: Path) -> str | None:
    """maven for a pom.xml, gradle for a build.gradle(.kts), else None (classes or jars as
    they are)."""
    for builder, files in JAVA_BUILDS.items():
        if any((folder / name).is_file() for name in files):
            return builder
    return None


def _folder(code: Code) -> Path | None:
    if code.path is None or code.dependencies or code.source:
        return None  # no local folder, or built already
    path = Path(code.path)
    return path if path.is_dir() else None


def items_of(graph: AppGraph) -> list[BuildItem]:
    """Every build the app needs, functions first, in template order."""
    items: dict[tuple[Any, ...], BuildItem] = {}
    for function in graph.functions:
        config = function.config
        folder = _folder(config.code)
        if config.package_type is PackageType.IMAGE or folder is None or not config.runtime:
            continue
        builder = builder_for(config.runtime, folder, function.build)
        if builder is None:
            continue
        arch = config.architectures[0] if config.architectures else "x86_64"
        key: tuple[Any, ...] = (config.code, builder, config.runtime, arch)
        if builder in ("esbuild", "makefile"):  # per function: handler, target, properties
            key += (function.logical_id,)
        if key in items:
            items[key] = replace(items[key], names=(*items[key].names, function.name))
            continue
        items[key] = BuildItem(
            names=(function.name,),
            kind="function",
            builder=builder,
            code=config.code,
            source=folder,
            runtime=config.runtime,
            architecture=arch,
            handler=config.handler,
            logical_id=function.logical_id,
            properties=function.build.properties if function.build else {},
        )
    for layer in graph.layers:
        folder = _folder(layer.code)
        if layer.build is None or folder is None:
            continue
        method = layer.build.method
        builder = "makefile" if method == "makefile" else builder_for(method, folder, None)
        if builder is None:  # a runtime BuildMethod with no manifest: the content as it is
            builder = "copy" if method.startswith(("python", "nodejs")) else None
        if builder is None:
            continue
        arch = layer.build.architecture or (layer.compatible_architectures or ("x86_64",))[0]
        runtime = method if method != "makefile" else (layer.compatible_runtimes or ("",))[0]
        items[(layer.code, "layer", layer.logical_id)] = BuildItem(
            names=(layer.logical_id,),
            kind="layer",
            builder=builder,
            code=layer.code,
            source=folder,
            runtime=runtime,
            architecture=arch,
            logical_id=layer.logical_id,
        )
    return list(items.values())


def not_built(graph: AppGraph) -> list[str]:
    """Manifests `sam build` would build and samrun does not (pom.xml, go.mod, Gemfile…): one
    line each, said at startup. An unknown BuildMethod is the template's own warning."""
    lines = []
    for function in graph.functions:
        folder = _folder(function.config.code)
        runtime = function.config.runtime or ""
        if folder is None or function.build is not None:
            continue
        if function.config.package_type is PackageType.IMAGE:
            continue
        family = next((f for f in OTHER_MANIFESTS if runtime.startswith(f)), None)
        found = [m for p in OTHER_MANIFESTS.get(family or "", ()) for m in folder.glob(p)]
        if found:
            lines.append(
                f"{function.name}: {found[0].name} ({runtime}) is not built by samrun; "
                "its code runs as it is"
            )
    return lines


SDK_IMPORT = re.compile(r"""['"`](@aws-sdk/[a-z0-9][a-z0-9-]*)['"`/]""")
SCRIPT_SUFFIXES = frozenset({".js", ".mjs", ".cjs", ".ts", ".mts", ".cts", ".jsx", ".tsx"})
SCANNED_DIRS_SKIPPED = frozenset({"node_modules", ".git", ".aws-sam", ".samrun", "dist"})
MAX_SCANNED_BYTES = 1 << 20


def sdk_imports(graph: AppGraph) -> set[str]:
    """The `@aws-sdk/*` packages Node.js functions' sources name (require, import): Lambda's
    runtime carries the whole SDK, so each one a function uses is installed, declared or not."""
    found: set[str] = set()
    folders = {
        Path(f.config.code.source or f.config.code.path or "")
        for f in graph.functions
        if (f.config.runtime or "").startswith("nodejs")
        and (f.config.code.source or f.config.code.path)
    }
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in _scripts(folder):
            try:
                if path.stat().st_size <= MAX_SCANNED_BYTES:
                    found.update(SDK_IMPORT.findall(path.read_text(errors="replace")))
            except OSError:
                continue
    return found


def _scripts(folder: Path) -> list[Path]:
    scripts = []
    for path in folder.rglob("*"):
        parts = path.relative_to(folder).parts
        if path.suffix in SCRIPT_SUFFIXES and not SCANNED_DIRS_SKIPPED & set(parts):
            scripts.append(path)
    return scripts
