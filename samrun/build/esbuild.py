"""`Metadata: BuildMethod: esbuild`: a Node.js or TypeScript function bundled as `sam build`
bundles it. The sources are copied to a scratch folder, their production dependencies installed
there, and esbuild (from the npm registry, installed once into the state folder) writes the
bundle into the build's folder, which then stands for the function's code.

BuildProperties, as SAM CLI reads them: EntryPoints, External, Format (cjs), Loader, MainFields,
Minify (true), OutExtension, Sourcemap, Target (es2020), Banner, Footer.

A source map names the files the bundle came from as the user has them (not the scratch copy
esbuild read), so a debugger's breakpoints in the TypeScript sources, and stack traces under
`--enable-source-maps`, point into the project. A debugged function (`--debug`) is bundled with
a source map and unminified (DEBUG_PROPERTIES), so its variables keep their names in the debugger.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from samrun.build import npm, steps
from samrun.build.items import BuildItem

ESBUILD_PACKAGES = ("esbuild@0",)
SOURCE_SUFFIXES = (".ts", ".js", ".mjs", ".cjs", ".mts", ".cts", ".tsx", ".jsx")
DEBUG_PROPERTIES = {"Sourcemap": True, "Minify": False}  # what a debugged function is built with


def esbuild_binary(state_dir: Path, log: Path) -> str:
    folder = state_dir / "tools" / "esbuild"
    modules = npm.install_packages(folder, ESBUILD_PACKAGES, log)
    return str(modules / ".bin" / "esbuild")


def entry_points(item: BuildItem, folder: Path) -> list[str]:
    """BuildProperties.EntryPoints, else the handler's module file (app.handler -> app.ts)."""
    given = item.properties.get("EntryPoints")
    if isinstance(given, list) and given:
        return [str(entry) for entry in given]
    module = (item.handler or "index.handler").rsplit(".", 1)[0]
    for suffix in SOURCE_SUFFIXES:
        if (folder / (module + suffix)).is_file():
            return [module + suffix]
    raise steps.StepFailed(f"no entry point for handler {item.handler!r} in {item.source}")


def _flag(value: Any) -> bool:
    return str(value).lower() in ("true", "1", "yes")


def source_maps(properties: Mapping[str, Any]) -> bool:
    """Whether the build writes source maps (BuildProperties.Sourcemap)."""
    return _flag(properties.get("Sourcemap", False))


def esbuild_args(properties: Mapping[str, Any], out: Path) -> list[str]:
    args = [
        "--bundle",
        "--platform=node",
        f"--outdir={out}",
        f"--format={properties.get('Format', 'cjs')}",
        f"--target={properties.get('Target', 'es2020')}",
    ]
    if _flag(properties.get("Minify", True)):
        args.append("--minify")
    if source_maps(properties):
        args.append("--sourcemap")
    args += [f"--external:{name}" for name in properties.get("External") or []]
    if properties.get("MainFields"):
        fields = properties["MainFields"]
        args.append(f"--main-fields={','.join(fields) if isinstance(fields, list) else fields}")
    for entry in properties.get("Loader") or []:  # ".png=file"
        args.append(f"--loader:{entry}")
    for entry in properties.get("OutExtension") or []:  # ".js=.mjs"
        args.append(f"--out-extension:{entry}")
    for key in ("Banner", "Footer"):
        for entry in properties.get(key) or []:  # "js=text"
            args.append(f"--{key.lower()}:{entry}")
    return args


def build_function(item: BuildItem, out: Path, ws: steps.Workspace) -> None:
    esbuild = esbuild_binary(ws.state_dir, ws.log)
    scratch = ws.scratch(f"esbuild-{item.logical_id}")
    steps.copy_tree(item.source, scratch, ws.state_dir)
    if (scratch / "package.json").is_file():
        npm.install(scratch, ws.log)
    argv = [esbuild, *esbuild_args(item.properties, out), *entry_points(item, scratch)]
    steps.run(argv, what="esbuild", cwd=scratch, log=ws.log)
    if source_maps(item.properties):
        for source_map in out.rglob("*.map"):
            point_at_sources(source_map, scratch, item.source)


def point_at_sources(source_map: Path, scratch: Path, source: Path) -> None:
    """Rewrite the `sources` of `source_map` that name a file of the scratch copy to name that
    file in `source` (the user's folder), relative to the map as esbuild writes them. Installed
    packages (node_modules, only in the scratch copy) and files the copy alone has stay."""
    data = json.loads(source_map.read_text())
    sources = data.get("sources")
    if not isinstance(sources, list) or data.get("sourceRoot"):
        return
    folder = source_map.parent
    scratch_dir, source_dir = os.path.abspath(scratch), os.path.abspath(source)
    rewritten = []
    for name in sources:
        path = os.path.normpath(os.path.join(folder, name)) if isinstance(name, str) else ""
        inside = os.path.relpath(path, scratch_dir) if path else os.pardir
        original = os.path.join(source_dir, inside)
        if inside.startswith(os.pardir) or "node_modules" in Path(inside).parts:
            rewritten.append(name)
        elif os.path.isfile(original):
            rewritten.append(os.path.relpath(original, folder))
        else:
            rewritten.append(name)
    data["sources"] = rewritten
    source_map.write_text(json.dumps(data))
