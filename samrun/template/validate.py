"""`samrun validate`: cfn-lint, then samrun's own checks of what Lambda would refuse to run.

Every problem is located in the template as written (`file:line:col`), using the loader's marks:
a property set in Globals is reported where Globals sets it. cfn-lint is imported here only, as
it takes about a second to import.
"""

from __future__ import annotations

import datetime
import functools
import importlib.resources
import json
import zipfile
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from samrun.errors import Location, TemplateError
from samrun.model import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, AppGraph, Code, Function
from samrun.template.archives import unsafe_entries
from samrun.template.build import build_graph, compile_template
from samrun.template.java_handlers import java_handler_problem
from samrun.template.loader import LoadedTemplate, load_template
from samrun.template.outline import outline_errors

MAX_ENVIRONMENT_BYTES = 4096
MAX_LAYERS = 5
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024
_NODE_SUFFIXES = (".js", ".mjs", ".cjs")
JAVA_BUILDS = ("maven", "gradle")  # BuildMethods whose handler class is looked for as a source
# cfn-lint's errors for a deprecated runtime AWS no longer creates or updates: samrun still runs
# what it can of them locally, so they are warnings here (an unknown runtime stays an error)
DEPRECATED_RUNTIME_RULES = frozenset({"E2531", "E2533"})


@dataclass(frozen=True, slots=True)
class Problem:
    location: Location
    rule: str
    message: str
    is_error: bool = True

    def render(self) -> str:
        return f"{self.location}: [{self.rule}] {self.message}"


def _lint(loaded: LoadedTemplate, text: str, region: str) -> list[Problem]:
    from cfnlint.api import ManualArgs, lint

    problems = []
    try:
        matches = lint(text, config=ManualArgs(regions=[region]))
    except Exception as exc:  # cfn-lint's own bug must not hide samrun's checks
        where = Location(str(loaded.path), 1, 1)
        return [Problem(where, "cfn-lint", f"cfn-lint failed: {exc!r}", is_error=False)]
    for match in matches:
        where = Location(str(loaded.path), match.linenumber or 1, match.columnnumber or 1)
        severity = getattr(match.rule, "severity", "error")
        is_error = severity == "error" and match.rule.id not in DEPRECATED_RUNTIME_RULES
        problems.append(Problem(where, match.rule.id, match.message, is_error))
    return problems


class _Checks:
    """samrun's own checks of one graph, each located at the property that sets the value."""

    def __init__(self, loaded: LoadedTemplate, graph: AppGraph) -> None:
        self.loaded, self.graph = loaded, graph

    def where(self, function: Function, *props: str) -> Location:
        for prop in props:
            for path in (
                ("Resources", function.logical_id, "Properties", prop),
                ("Globals", "Function", prop),
            ):
                if path in self.loaded.marks:
                    return self.loaded.locate(path)
        return self.loaded.locate(("Resources", function.logical_id))

    def run(self) -> Iterator[Problem]:
        for function in self.graph.functions:
            yield from self.limits(function)
            yield from self.handler(function)
            yield from self.runtime(function)
            yield from self.archive(function)
        for layer in self.graph.layers:
            where: tuple[str, ...] = ("Resources", layer.logical_id, "Properties")
            for prop in ("ContentUri", "Content"):
                if (*where, prop) in self.loaded.marks:
                    where = (*where, prop)
            yield from _archive_problems(layer.logical_id, layer.code, self.loaded.locate(where))
        for warning in self.graph.warnings:
            if warning.startswith(f"{self.loaded.path}:"):
                continue  # a located notice: validate_template reports it as it is
            logical_id = warning.split(".", 1)[0].split(":", 1)[0]
            yield Problem(
                self.loaded.locate(("Resources", logical_id)),
                "samrun-unresolved",
                warning,
                is_error=False,
            )

    def limits(self, function: Function) -> Iterator[Problem]:
        config = function.config
        name = function.logical_id
        if not 128 <= config.memory_mb <= 10240:
            yield Problem(
                self.where(function, "MemorySize"),
                "samrun-memory",
                f"{name}: MemorySize {config.memory_mb} is outside 128-10240 MB",
            )
        if not 1 <= config.timeout_s <= 900:
            yield Problem(
                self.where(function, "Timeout"),
                "samrun-timeout",
                f"{name}: Timeout {config.timeout_s} is outside 1-900 seconds",
            )
        if not 512 <= config.ephemeral_storage_mb <= 10240:
            yield Problem(
                self.where(function, "EphemeralStorage"),
                "samrun-storage",
                f"{name}: EphemeralStorage {config.ephemeral_storage_mb} is outside 512-10240 MB",
            )
        size = sum(len(k) + len(v) for k, v in config.environment.items())
        if size > MAX_ENVIRONMENT_BYTES:
            yield Problem(
                self.where(function, "Environment"),
                "samrun-environment",
                f"{name}: environment variables take {size} bytes; Lambda allows "
                f"{MAX_ENVIRONMENT_BYTES}",
            )
        if len(config.layers) > MAX_LAYERS:
            yield Problem(
                self.where(function, "Layers"),
                "samrun-layers",
                f"{name}: {len(config.layers)} layers; Lambda allows {MAX_LAYERS}",
            )
        codes = [config.code, *(layer.code for layer in config.layers if layer.code)]
        total = sum(_unzipped_size(code) for code in codes)
        if total > MAX_UNZIPPED_BYTES:
            yield Problem(
                self.where(function, "CodeUri", "Code"),
                "samrun-code-size",
                f"{name}: code and layers take {total // 2**20} MB unzipped; Lambda "
                f"allows {MAX_UNZIPPED_BYTES // 2**20} MB",
            )

    def runtime(self, function: Function) -> Iterator[Problem]:
        """A runtime Lambda never had is an error (deprecated ones are cfn-lint's warnings)."""
        runtime = function.config.runtime
        runtimes = lambda_runtimes()
        if runtime is not None and runtime not in runtimes:
            today = datetime.date.today().isoformat()
            current = sorted(name for name, end in runtimes.items() if not end or end > today)
            yield Problem(
                self.where(function, "Runtime"),
                "samrun-runtime",
                f"{function.logical_id}: {runtime!r} is not a Lambda runtime; "
                f"current ones are {', '.join(current)}",
            )

    def archive(self, function: Function) -> Iterator[Problem]:
        where = self.where(function, "CodeUri", "Code")
        yield from _archive_problems(function.logical_id, function.config.code, where)

    def handler(self, function: Function) -> Iterator[Problem]:
        config, name = function.config, function.logical_id
        path = config.code.path
        if path is None or config.runtime is None:
            return
        method = function.build.method if function.build is not None else "python"
        java = config.runtime.startswith("java")
        if not method.startswith(("python", "nodejs")) and not (java and method in JAVA_BUILDS):
            return  # esbuild, makefile, go1.x…: the handler is in what the build writes
        code = Path(path)
        if not code.exists():
            yield Problem(
                self.where(function, "CodeUri", "Code"),
                "samrun-code",
                f"{name}: code path {path} does not exist",
            )
            return
        if java:  # a class in the classes, jars or zip (or its source, in a project to build)
            # (built already, as watch mode checks it: its classes are in the build's folder)
            built_by = method if method in JAVA_BUILDS and not config.code.source else None
            problem = java_handler_problem(code, config.handler or "", built_by)
            if problem is not None:
                yield Problem(
                    self.where(function, "Handler"), "samrun-handler", f"{name}: {problem}"
                )
            return
        names = _code_files(code)
        wanted = _handler_files(config.runtime, config.handler or "")
        if wanted and not any(w in names for w in wanted):
            yield Problem(
                self.where(function, "Handler"),
                "samrun-handler",
                f"{name}: handler {config.handler!r} needs {' or '.join(wanted)} in {path}",
            )


def check_graph(
    loaded: LoadedTemplate, graph: AppGraph, functions: Collection[str] | None = None
) -> list[Problem]:
    """samrun's own checks, without cfn-lint (watch mode runs them on every reload): all of
    them, or the limits and handler of the `functions` named (names or logical ids) only."""
    checks = _Checks(loaded, graph)
    if functions is None:
        return list(checks.run())
    chosen = [f for f in graph.functions if {f.name, f.logical_id} & set(functions)]
    return [p for f in chosen for p in (*checks.limits(f), *checks.handler(f))]


@functools.cache
def lambda_runtimes() -> dict[str, str | None]:
    """Every runtime Lambda has had, deprecated ones included, with the date it was (or will
    be) deprecated: cfn-lint's data, which its deprecation rules use too."""
    data = importlib.resources.files("cfnlint.data.AdditionalSpecs") / "LmbdRuntimeLifecycle.json"
    lifecycle = json.loads(data.read_text(encoding="utf-8"))
    return {name: dates.get("deprecated") for name, dates in lifecycle.items()}


def _archive_problems(name: str, code: Code | None, where: Location) -> Iterator[Problem]:
    if code is None or code.path is None:
        return
    for reason in unsafe_entries(Path(code.path)):
        yield Problem(where, "samrun-archive", f"{name}: {code.path}: {reason}")


def _handler_files(runtime: str, handler: str) -> tuple[str, ...]:
    """The files (relative to the code root) one of which must exist for `handler` to load."""
    module = handler.rsplit(".", 1)[0] if "." in handler else handler
    if runtime.startswith("python"):
        return (module.replace(".", "/") + ".py",)
    if runtime.startswith("nodejs"):
        return tuple(module + suffix for suffix in _NODE_SUFFIXES)
    if runtime.startswith("ruby"):  # lib/shop.Shop::Orders.create: lib/shop.rb
        return (handler.split(".", 1)[0] + ".rb",)
    if runtime.startswith("provided"):
        return ("bootstrap",)
    return ()


def _code_files(code: Path) -> frozenset[str]:
    if code.is_file() and zipfile.is_zipfile(code):
        with zipfile.ZipFile(code) as archive:
            return frozenset(archive.namelist())
    if code.is_dir():
        return frozenset(p.relative_to(code).as_posix() for p in code.rglob("*") if p.is_file())
    return frozenset()


def _unzipped_size(code: Code) -> int:
    if code.path is None:
        return 0
    path = Path(code.path)
    if path.is_file() and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return sum(info.file_size for info in archive.infolist())
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size if path.exists() else 0


def validate_template(
    path: Path,
    *,
    parameter_overrides: Mapping[str, str] = {},
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
    layer_map: Mapping[str, str] = {},
) -> list[Problem]:
    """Every problem found, errors and warnings, sorted by position; never raises for a template."""
    path = Path(path)
    try:
        loaded = load_template(path)
    except TemplateError as exc:
        return [_from_error(exc, path)]
    broken = outline_errors(loaded)
    if broken:  # cfn-lint and the transform would crash on it: say what breaks, and stop
        return [_from_error(exc, path) for exc in broken]
    text = path.read_text(encoding="utf-8-sig")
    problems = _lint(loaded, text, region)
    try:
        compiled = compile_template(
            loaded,
            parameter_overrides=parameter_overrides,
            region=region,
            account_id=account_id,
            stack_name="samrun",
            layer_map=layer_map,
        )
        graph = build_graph(compiled)
    except TemplateError as exc:
        problems.append(_from_error(exc, path))
    else:
        problems.extend(
            Problem(n.location, n.rule, n.message, n.error_in_validate)
            for n in compiled.context.notices
        )
        problems.extend(_from_error(error, path) for error in compiled.context.errors)
        children = [c for c in compiled.context.children if c.path is not None]
        prefixes = tuple(f"{c.logical_id}/" for c in children)  # checked in their own files
        problems.extend(
            p for p in _Checks(loaded, graph).run() if not p.message.startswith(prefixes)
        )
        for child in children:  # each local nested template, at its own lines
            if child.path is not None:
                problems.extend(
                    validate_template(
                        child.path,
                        parameter_overrides=child.parameters,
                        region=region,
                        account_id=account_id,
                        layer_map=layer_map,
                    )
                )
    unique = dict.fromkeys(problems)
    return sorted(unique, key=lambda p: _position(p, str(path)))


def _position(problem: Problem, parent: str) -> tuple[bool, str, int, int, str]:
    """The template's own problems first, then each child template's, by position."""
    where = problem.location
    return (where.file != parent, where.file, where.line, where.column, problem.rule)


def _from_error(exc: TemplateError, path: Path) -> Problem:
    return Problem(exc.location or Location(str(path), 1, 1), exc.rule, exc.message)
