"""Check an edit before the running app takes it: the template loads and passes samrun's own
checks, handlers exist, changed Python files compile, the --env-vars file parses.

Every problem is one line in `samrun validate`'s form, `file:line:col: [rule] message`; a refused
edit raises `EditRefused` with those lines, and the last good app keeps serving.

An edit is judged by what it changes: `up` starts with whatever these checks find (a missing
handler file is Runtime.ImportModuleError at invoke), so only a problem the edit brings blocks
it. A template edit is refused for problems the running template does not have already; a code
edit for syntax errors in the files it changed, the handlers whose files it changed, and the
size of the code it changed, never for another function's own problems.
"""

from __future__ import annotations

import ast
import json
import sys
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from samrun.errors import Location, TemplateError
from samrun.model import AppGraph, Function
from samrun.template.build import build_graph, compile_template
from samrun.template.loader import LoadedTemplate, load_template
from samrun.template.validate import Problem, _handler_files, check_graph


class EditRefused(Exception):
    """An edit the app cannot take; `problems` are located, one line each."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True, slots=True)
class Loaded:
    graph: AppGraph
    template: LoadedTemplate


ProblemKey = tuple[str, str]  # (rule, message): a problem wherever the edit moved its line
CODE_RULES = frozenset({"samrun-code", "samrun-handler"})  # what a code edit can break
SIZE_RULE = "samrun-code-size"


def known_problems(loaded: LoadedTemplate | None, graph: AppGraph) -> frozenset[ProblemKey]:
    """The errors the running app has already: an edit that keeps them is not refused."""
    if loaded is None:
        return frozenset()
    problems = [*check_graph(loaded, graph), *handler_names(loaded, graph, None)]
    return frozenset((p.rule, p.message) for p in problems if p.is_error)


def load_checked(
    path: Path,
    *,
    parameter_overrides: Mapping[str, str],
    region: str,
    account_id: str,
    known: frozenset[ProblemKey] = frozenset(),
) -> Loaded:
    """The template's graph, if it loads and samrun's own checks find no error in it but the
    `known` ones (`known_problems` of the running app)."""
    try:
        template = load_template(path)
        graph = build_graph(
            compile_template(
                template,
                parameter_overrides=parameter_overrides,
                region=region,
                account_id=account_id,
                stack_name="samrun",
            )
        )
    except TemplateError as exc:
        where = exc.location or Location(str(path), 1, 1)
        raise EditRefused([Problem(where, exc.rule, exc.message).render()]) from None
    problems = check_graph(template, graph)
    problems += handler_names(template, graph, None)
    errors = [p.render() for p in problems if p.is_error and (p.rule, p.message) not in known]
    if errors:
        raise EditRefused(errors)
    return Loaded(graph, template)


def check_code(
    loaded: LoadedTemplate, graph: AppGraph, functions: Collection[str], files: Iterable[Path]
) -> None:
    """After a code edit of `files`: the .py files changed compile, the handlers whose files
    changed still exist, the code changed is not over Lambda's size limit."""
    changed = {path.resolve() for path in files}
    touched = [f.name for f in graph.functions if f.name in functions and _touches(f, changed)]
    problems = [
        p.render()
        for p in check_graph(loaded, graph, functions)
        if p.is_error and p.rule == SIZE_RULE
    ]
    problems += [
        p.render()
        for p in check_graph(loaded, graph, touched)
        if p.is_error and p.rule in CODE_RULES
    ]
    problems += [p.render() for p in handler_names(loaded, graph, touched)]
    newest = _newest_python(graph, functions)
    if newest is not None:
        problems += syntax_errors((f for f in files if f.suffix == ".py"), newest)
    if problems:
        raise EditRefused(problems)


def _touches(function: Function, changed: set[Path]) -> bool:
    """The edit changed (or removed) a file the function's handler is loaded from."""
    config = function.config
    if not config.code.path or not config.runtime:
        return False
    root = Path(config.code.path).resolve()
    wanted = _handler_files(config.runtime, config.handler or "")
    return not wanted or any((root / name).resolve() in changed for name in wanted)


def _newest_python(graph: AppGraph, functions: Collection[str]) -> tuple[int, int] | None:
    """The newest python3.X runtime among `functions`, if samrun's own Python can parse it."""
    versions = []
    for function in graph.functions:
        runtime = function.config.runtime or ""
        if function.name in functions and runtime.startswith("python3."):
            minor = runtime.removeprefix("python3.")
            if minor.isdigit():
                versions.append((3, int(minor)))
    if not versions or max(versions) > sys.version_info[:2]:
        return None  # newer syntax than ours: the runtime itself reports the error at init
    return max(versions)


def syntax_errors(files: Iterable[Path], version: tuple[int, int]) -> list[str]:
    """`path:line:col: [syntax] message` for each file that does not parse."""
    problems = []
    for path in sorted(set(files)):
        try:
            source = path.read_bytes()
        except OSError:
            continue  # deleted or moved away: the handler check catches a missing module
        try:
            ast.parse(source, str(path), feature_version=version)
        except SyntaxError as exc:
            where = Location(str(path), exc.lineno or 1, exc.offset or 1)
            problems.append(f"{where}: [syntax] {exc.msg}")
        except ValueError as exc:  # null bytes
            problems.append(f"{Location(str(path), 1, 1)}: [syntax] {exc}")
    return problems


def handler_names(
    loaded: LoadedTemplate, graph: AppGraph, functions: Collection[str] | None
) -> list[Problem]:
    """Python handlers whose module parses but defines no such name (Runtime.HandlerNotFound)."""
    problems = []
    for function in graph.functions:
        if functions is not None and function.name not in functions:
            continue
        missing = _missing_handler(function)
        if missing:
            where = loaded.locate(("Resources", function.logical_id, "Properties", "Handler"))
            problems.append(Problem(where, "samrun-handler", f"{function.logical_id}: {missing}"))
    return problems


def _missing_handler(function: Function) -> str | None:
    config = function.config
    if not (config.runtime or "").startswith("python") or not config.code.path:
        return None
    module, _, name = (config.handler or "").rpartition(".")
    source = Path(config.code.path) / (module.replace(".", "/") + ".py")
    try:
        tree = ast.parse(source.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return None  # missing files and syntax errors are reported by the other checks
    defined: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            defined.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            if any(alias.name == "*" for alias in node.names):
                return None
            defined.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif not isinstance(node, ast.Expr):
            return None  # if/try/with at top level may define it: do not guess
    if name in defined or "__getattr__" in defined:
        return None
    return f"handler {config.handler!r}: {source.name} defines no {name!r}"


def read_env_vars(path: Path) -> dict[str, dict[str, str]]:
    """SAM CLI's --env-vars file, or EditRefused located at the JSON error."""
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise EditRefused([f"{Location(str(path), 1, 1)}: [env-vars] {exc.strerror}"]) from None
    except ValueError as exc:
        where = Location(str(path), getattr(exc, "lineno", 1), getattr(exc, "colno", 1))
        raise EditRefused([f"{where}: [env-vars] invalid JSON: {exc}"]) from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        where = Location(str(path), 1, 1)
        raise EditRefused([f"{where}: [env-vars] expected an object of objects"])
    return {name: {k: str(v) for k, v in env.items()} for name, env in data.items()}
