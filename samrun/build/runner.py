"""Run an app's builds, cached, and return the graph whose code points at what they built.

The graph that comes in holds the template's code folders; the graph that goes out has, for
each built function, `Code.dependencies` (a folder the runtime puts beside the code), or for a
bundle, a Makefile build or a built layer, a `Code.path` in the state folder and `Code.source`
naming the folder it was built from (watch mode watches that one).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from samrun.build import bundler, esbuild, java, makefile, npm, pip, steps
from samrun.build.cache import artifact_dir, log_file, staging
from samrun.build.items import BuildItem, items_of, not_built, sdk_imports
from samrun.build.progress import Progress
from samrun.errors import BuildFailed
from samrun.model import AppGraph, Code, FunctionConfig, LayerRef

logger = logging.getLogger("samrun.build")

# The AWS SDK for JavaScript v3 clients most used from Lambda functions (Lambda's nodejs18.x and
# later runtimes carry the whole SDK; these cover what samrun's users call most).
NODE_SDK_PACKAGES = (
    "@aws-sdk/client-dynamodb",
    "@aws-sdk/lib-dynamodb",
    "@aws-sdk/client-s3",
    "@aws-sdk/client-sqs",
    "@aws-sdk/client-sns",
    "@aws-sdk/client-lambda",
    "@aws-sdk/client-eventbridge",
    "@aws-sdk/client-secrets-manager",
    "@aws-sdk/client-ssm",
    "@aws-sdk/client-sfn",
    "@aws-sdk/client-kinesis",
    "@aws-sdk/client-sts",
)
NODE_SDK_FOLDER = "aws-sdk-js-v3"


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildOptions:
    state_dir: Path
    host_env: Mapping[str, str] = field(default_factory=dict)
    node_sdk_dir: Path | None = None  # shared between apps; default: in the state folder
    for_lambda: bool = False  # functions run in Lambda's images (docker): build for them
    debugged: frozenset[str] = frozenset()  # --debug's functions: bundled for a debugger


def node_sdk_folder(state_dir: Path, shared: Path | None) -> Path:
    """Where the AWS SDK for JavaScript lives: a folder whose node_modules holds @aws-sdk."""
    return shared if shared is not None else state_dir / NODE_SDK_FOLDER


def describe(item: BuildItem) -> str:
    return f"{item.builder}, {item.runtime}" if item.runtime else item.builder


def run_item(item: BuildItem, options: BuildOptions, progress: Progress) -> Path:
    """The folder that holds `item`'s build, building it unless the cache has it."""
    variant = ""
    if item.builder == "pip":
        variant = pip.variant(item, options.for_lambda, options.host_env)
    if item.builder == "bundler":
        variant = bundler.variant(item, options.host_env)
    if item.builder == "esbuild" and debugged(item, options.debugged):
        item = replace(item, properties={**item.properties, **esbuild.DEBUG_PROPERTIES})
    if item.builder == "esbuild" and esbuild.source_maps(item.properties):
        variant = "sources"  # its maps name the user's files (not those of a scratch copy)
    final = artifact_dir(item, options.state_dir, variant)
    if final.is_dir():
        progress.cached(item.label, describe(item))
        return final
    log = log_file(options.state_dir, f"{item.kind}-{item.label}")
    log.write_text("")
    ws = steps.Workspace(options.state_dir, options.host_env, log, options.for_lambda)
    what = f"{item.kind} {item.label}"
    try:
        with progress.running(item.label, describe(item)), staging(final) as out:
            BUILDERS[(item.kind, item.builder)](item, out, ws)
    except steps.StepFailed as failed:
        for line in failed.tail:
            print(f"  {line}", file=sys.stderr, flush=True)
        raise BuildFailed(f"build of {what} failed: {failed.reason}; log: {log}") from None
    except OSError as exc:
        raise BuildFailed(f"build of {what} failed: {exc}; log: {log}") from None
    return final


def debugged(item: BuildItem, names: frozenset[str]) -> bool:
    """Whether `item` builds a function `--debug` names (by its name or logical id)."""
    return bool(names) and (item.logical_id in names or not names.isdisjoint(item.names))


def copy_layer(item: BuildItem, out: Path, ws: steps.Workspace) -> None:
    """A runtime BuildMethod with no manifest: the content under python/ or nodejs/."""
    folder = "python" if item.runtime.startswith("python") else "nodejs"
    steps.copy_tree(item.source, out / folder, ws.state_dir)


BUILDERS = {
    ("function", "pip"): pip.build_function,
    ("function", "npm"): npm.build_function,
    ("function", "bundler"): bundler.build_function,
    ("function", "esbuild"): esbuild.build_function,
    ("function", "makefile"): makefile.build,
    ("function", "maven"): java.build_maven,
    ("function", "gradle"): java.build_gradle,
    ("layer", "pip"): pip.build_layer,
    ("layer", "npm"): npm.build_layer,
    ("layer", "makefile"): makefile.build,
    ("layer", "copy"): copy_layer,
}


def built_code(item: BuildItem, folder: Path) -> Code:
    if item.kind == "function" and item.builder in ("pip", "bundler"):
        return replace(item.code, dependencies=str(folder))
    if item.kind == "function" and item.builder == "npm":
        return replace(item.code, dependencies=str(folder / "node_modules"))
    return Code(path=str(folder), source=str(item.source))


def build_app(graph: AppGraph, options: BuildOptions, progress: Progress | None = None) -> AppGraph:
    """Build what `graph` needs (BuildFailed on the first failure) and return the graph that
    runs the builds."""
    progress = progress or Progress()
    for line in not_built(graph):
        progress.not_built(line)
    functions: dict[str, Code] = {}
    layers: dict[str, Code] = {}
    for item in items_of(graph):
        code = built_code(item, run_item(item, options, progress))
        for name in item.names:
            (functions if item.kind == "function" else layers)[name] = code
    if any((f.config.runtime or "").startswith("nodejs") for f in graph.functions):
        ensure_node_sdk(options, progress, sorted({*NODE_SDK_PACKAGES, *sdk_imports(graph)}))
    return with_built_code(graph, functions, layers) if functions or layers else graph


def ensure_node_sdk(
    options: BuildOptions, progress: Progress, packages: Sequence[str] = NODE_SDK_PACKAGES
) -> Path | None:
    """The AWS SDK for JavaScript v3 (`packages`: the most used clients and those the app's
    sources name), installed once; a warning (not a failure) without npm or the registry:
    functions then run without it, as they would with a missing package."""
    folder = node_sdk_folder(options.state_dir, options.node_sdk_dir)
    label, detail = "AWS SDK for JavaScript v3", "npm, nodejs functions"
    if npm.installed(folder, packages):
        progress.cached(label, detail)
        return folder
    log = log_file(options.state_dir, "aws-sdk-js-v3")
    log.write_text("")
    try:
        with progress.running(label, detail):
            npm.install_packages(folder, packages, log)
    except (steps.StepFailed, OSError) as failed:
        logger.warning(
            "nodejs functions run without the AWS SDK for JavaScript: %s; log: %s", failed, log
        )
        return None
    return folder


def with_built_code(
    graph: AppGraph, functions: Mapping[str, Code], layers: Mapping[str, Code]
) -> AppGraph:
    """`graph` with each built function's and layer's code replaced, wherever it appears."""

    def refs(config: FunctionConfig) -> tuple[LayerRef, ...]:
        return tuple(
            replace(ref, code=layers[ref.logical_id])
            if ref.logical_id is not None and ref.logical_id in layers and ref.code is not None
            else ref
            for ref in config.layers
        )

    def config_of(name: str, config: FunctionConfig, original: Code) -> FunctionConfig:
        code = functions[name] if name in functions and config.code == original else config.code
        return replace(config, code=code, layers=refs(config))

    originals = {f.name: f.config.code for f in graph.functions}
    return replace(
        graph,
        functions=tuple(
            replace(f, config=config_of(f.name, f.config, f.config.code)) for f in graph.functions
        ),
        versions=tuple(
            replace(v, config=config_of(v.function, v.config, originals.get(v.function, Code())))
            for v in graph.versions
        ),
        layers=tuple(
            replace(layer, code=layers.get(layer.logical_id, layer.code)) for layer in graph.layers
        ),
    )


def source_graph(graph: AppGraph) -> AppGraph:
    """`graph` as the template has it: every built code back to its sources (to build again)."""

    def config(c: FunctionConfig) -> FunctionConfig:
        refs = tuple(replace(r, code=unbuilt(r.code)) if r.code else r for r in c.layers)
        return replace(c, code=unbuilt(c.code), layers=refs)

    return replace(
        graph,
        functions=tuple(replace(f, config=config(f.config)) for f in graph.functions),
        versions=tuple(replace(v, config=config(v.config)) for v in graph.versions),
        layers=tuple(replace(layer, code=unbuilt(layer.code)) for layer in graph.layers),
    )


def unbuilt(code: Code) -> Code:
    """The source Code a built one came from."""
    if code.source is not None:
        return Code(path=code.source)
    if code.dependencies is not None:
        return replace(code, dependencies=None)
    return code
