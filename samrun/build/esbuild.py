"""`Metadata: BuildMethod: esbuild`: a Node.js or TypeScript function bundled as `sam build`
bundles it. The sources are copied to a scratch folder, their production dependencies installed
there, and esbuild (from the npm registry, installed once into the state folder) writes the
bundle into the build's folder, which then stands for the function's code.

BuildProperties, as SAM CLI reads them: EntryPoints, External, Format (cjs), Loader, MainFields,
Minify (true), OutExtension, Sourcemap, Target (es2020), Banner, Footer.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from samrun.build import npm, steps
from samrun.build.items import BuildItem

ESBUILD_PACKAGES = ("esbuild@0",)
SOURCE_SUFFIXES = (".ts", ".js", ".mjs", ".cjs", ".mts", ".cts", ".tsx", ".jsx")


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
    if _flag(properties.get("Sourcemap", False)):
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
