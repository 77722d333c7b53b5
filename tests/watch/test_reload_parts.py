"""The parts of watch mode on their own: the graph diff, the event filter, classification, the
debounce over a real folder, and the checks an edit must pass."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from samrun.model import AppGraph, Code, Function, FunctionConfig, Layer, LayerRef, Route, RouteKind
from samrun.reload.check import syntax_errors
from samrun.reload.diff import diff_graphs, functions_using_layers
from samrun.watch import Change, Watcher, WatchTargets, ignored


def function(name: str, code: str = "/app/src", memory: int = 128, **kw: object) -> Function:
    config = FunctionConfig(
        runtime="python3.11", handler="app.handler", code=Code(path=code), memory_mb=memory
    )
    return Function(logical_id=name, name=name, arn=f"arn:{name}", config=config, **kw)  # type: ignore[arg-type]


def route(path: str, fn: str, kind: RouteKind = RouteKind.HTTP) -> Route:
    return Route(api="Api", kind=kind, method="GET", path=path, function=fn)


def graph(*functions: Function, routes: tuple[Route, ...] = (), **kw: object) -> AppGraph:
    return AppGraph(template_path="/app/template.yaml", functions=functions, routes=routes, **kw)  # type: ignore[arg-type]


def test_diff_of_equal_graphs_is_empty() -> None:
    old = graph(function("A"), routes=(route("/a", "A"),))
    new = graph(function("A"), routes=(route("/a", "A"),))
    diff = diff_graphs(old, new)
    assert not diff
    assert diff.describe() == "no change"


def test_diff_names_added_removed_and_reconfigured_functions() -> None:
    old = graph(function("A"), function("B"), function("C"))
    new = graph(function("A"), function("C", memory=256), function("D"))
    diff = diff_graphs(old, new)
    assert diff.functions.added == ("D",)
    assert diff.functions.removed == ("B",)
    assert diff.functions.changed == ("C",)
    assert diff.restarted == ("C", "B")
    assert diff.describe() == "functions +D, -B, ~C"


def test_settings_outside_the_config_keep_instances() -> None:
    diff = diff_graphs(graph(function("A")), graph(function("A", reserved_concurrency=5)))
    assert diff.settings == ("A",)
    assert diff.restarted == ()


def test_diff_of_routes_and_function_urls() -> None:
    old = graph(
        function("A"), routes=(route("/a", "A"), route("$default", "A", RouteKind.FUNCTION_URL))
    )
    new = graph(function("A"), routes=(route("/a", "B"), route("/b", "A")))
    diff = diff_graphs(old, new)
    assert diff.routes.added == ("GET /b",)
    assert diff.routes.changed == ("GET /a",)
    assert diff.function_urls.removed == ("A",)
    assert not diff.functions


def test_functions_using_a_layer() -> None:
    layer = LayerRef(arn="arn:layer:L:1", logical_id="L", code=Code(path="/app/layer"))
    with_layer = replace(function("A"), config=replace(function("A").config, layers=(layer,)))
    assert functions_using_layers(graph(with_layer, function("B")), ["L"]) == {"A"}


def test_filter_ignores_editor_files_caches_and_state() -> None:
    for name in ("a.py.swp", "a.py~", ".#a.py", "4913", "__pycache__/a.cpython-311.pyc"):
        assert ignored(Path("/app/src") / name), name
    for folder in (".git", ".aws-sam", ".samrun"):
        assert ignored(Path("/app") / folder / "x")
    assert ignored(Path("/state/tmp/x"), [Path("/state")])
    assert not ignored(Path("/app/src/app.py"))


def test_classify_paths(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "layer").mkdir()
    layer = Layer(
        logical_id="L", name="L", arn="arn:layer:L:1", code=Code(path=str(tmp_path / "layer"))
    )
    targets = WatchTargets.of(
        graph(
            function("A", str(tmp_path / "src")),
            function("B", str(tmp_path / "src")),
            layers=(layer,),
        ),
        tmp_path / "template.yaml",
        includes=[tmp_path / "openapi.yaml"],
        env_vars=tmp_path / "env.json",
    )
    assert targets.classify(tmp_path / "src" / "pkg" / "m.py").functions == {"A", "B"}
    assert targets.classify(tmp_path / "layer" / "python" / "x.py").layers == {"L"}
    assert targets.classify(tmp_path / "template.yaml").template
    assert targets.classify(tmp_path / "openapi.yaml").template
    assert targets.classify(tmp_path / "env.json").env_vars
    assert not targets.classify(tmp_path / "README.md")
    roots = dict(targets.roots())
    assert roots == {tmp_path / "src": True, tmp_path / "layer": True, tmp_path: False}


def test_syntax_errors_are_located(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def handler(event, context)\n    return 1\n")
    good = tmp_path / "good.py"
    good.write_text("x = 1\n")
    assert syntax_errors([bad, good, tmp_path / "gone.py"], (3, 11)) == [
        f"{bad}:1:28: [syntax] expected ':'"
    ]


async def test_a_burst_of_saves_is_one_change(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    targets = WatchTargets.of(graph(function("A", str(src))), tmp_path / "template.yaml")
    changes: list[Change] = []
    seen = asyncio.Event()

    async def on_change(change: Change) -> None:
        changes.append(change)
        seen.set()

    watcher = Watcher(targets, on_change, quiet_s=0.1)
    await watcher.start()
    try:
        for n in range(50):
            (src / "app.py").write_text(f"x = {n}\n")
            (src / "app.py.swp").write_text("editor state")
        await asyncio.wait_for(seen.wait(), 10)
        seen.clear()
        (tmp_path / "template.yaml").write_text("Resources: {}\n")  # a later, separate change
        await asyncio.wait_for(seen.wait(), 10)
    finally:
        await watcher.stop()
    assert [c.functions for c in changes] == [{"A"}, set()]
    assert changes[0].files == {src / "app.py"}
    assert changes[1].template
