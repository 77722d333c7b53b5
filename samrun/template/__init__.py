"""Templates in, `AppGraph` out: the only package that knows YAML, CloudFormation and SAM.

load_graph(path, ...)        -> AppGraph       (raises TemplateError, located file:line:col)
validate_template(path, ...) -> list[Problem]  (cfn-lint plus samrun's own checks)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from samrun.model import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, AppGraph
from samrun.template.build import build_graph, compile_template
from samrun.template.layer_map import unused as unused_layer_keys
from samrun.template.loader import load_template
from samrun.template.outline import check_outline
from samrun.template.validate import Problem, validate_template

__all__ = ["Problem", "load_graph", "validate_template"]


def load_graph(
    path: Path,
    *,
    parameter_overrides: Mapping[str, str] = {},
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
    stack_name: str = "samrun",
    cache_dir: Path | None = None,
    layer_map: Mapping[str, str] = {},
) -> AppGraph:
    """The app graph of the template at `path`, with every value resolved that can be locally.
    With `cache_dir`, the SAM transform of an unchanged template is read back, not run."""
    loaded = load_template(Path(path))
    check_outline(loaded)
    compiled = compile_template(
        loaded,
        parameter_overrides=parameter_overrides,
        region=region,
        account_id=account_id,
        stack_name=stack_name,
        cache_dir=cache_dir,
        layer_map=layer_map,
    )
    graph = build_graph(compiled)
    return with_unused_layer_keys(graph, layer_map)


def with_unused_layer_keys(graph: AppGraph, layer_map: Mapping[str, str]) -> AppGraph:
    """`graph` warning about each --layer-map key that matches no layer of the whole app."""
    remote = [r.arn for f in graph.functions for r in f.config.layers if r.logical_id is None]
    unused = unused_layer_keys(layer_map, remote, graph.region, graph.account_id)
    return replace(graph, warnings=(*graph.warnings, *unused)) if unused else graph
