"""Where each function of the app runs: on --backend (process by default), or in a container.

A runtime this machine has no interpreter for (`dotnet8`, a Java with no JDK, a runtime samrun's
process backend does not know) runs on the docker backend, as image functions do, when a Docker
engine answers. When none does, the function is left out of the app the way a function the
template could not build is: named in the not-run list (startup, `plan`, /_samrun/state) with
the reason, and its name answers Lambda's InvalidRuntimeException. So `plan` never lists a
function as runnable when it is not.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace

from samrun.config import Config
from samrun.model import AppGraph, Function, NotRun, PackageType, Unavailable
from samrun.runtime.runtimes import RuntimeLocator
from samrun.selection import without_functions

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Placement:
    graph: AppGraph  # the app less the functions nothing here can run
    containers: Mapping[str, str]  # zip function -> why it runs in a container


def place(graph: AppGraph, config: Config, locator: RuntimeLocator | None = None) -> Placement:
    """Each zip function on the process backend whose runtime this machine lacks: in a
    container when an engine answers and an image is known for it, else left out and named.
    `--backend docker` runs every function in a container: only one with no image is left out."""
    locator = locator or RuntimeLocator(config.host_env)
    reasons: dict[str, str] = {}
    for function in graph.functions:
        runtime = function.config.runtime
        if function.config.package_type is PackageType.IMAGE or runtime is None:
            continue
        if config.backend == "docker":
            if not has_image(runtime, config.image_map):
                reasons[function.name] = no_image(runtime)
            continue
        problem = locator.missing(runtime)
        if problem is not None:
            reasons[function.name] = problem
    if not reasons:
        return Placement(graph, {})
    containers: dict[str, str] = {}
    engine_problem = engine(config) if config.backend != "docker" else None
    left_out: dict[str, str] = {}
    for name, reason in reasons.items():
        runtime = _runtime(graph, name)
        if config.backend == "docker":
            left_out[name] = reason
        elif not has_image(runtime, config.image_map):
            left_out[name] = f"{reason}, and {no_image(runtime)}"
        elif engine_problem is not None:
            left_out[name] = f"{reason}, and it needs a Docker engine: {engine_problem}"
        else:
            containers[name] = reason
    return Placement(leave_out(graph, left_out), containers)


def placed(graph: AppGraph, config: Config) -> AppGraph:
    """`graph` less what cannot run here (`place`); what runs in a container is said once."""
    placement = place(graph, config)
    for name, reason in placement.containers.items():
        logger.info("%s (%s) runs on the docker backend: %s", name, _runtime(graph, name), reason)
    return placement.graph


def backends(placement: Placement, config: Config) -> dict[str, str]:
    """Where each function of the placed app runs: `process` or `docker`."""
    return {
        f.name: "docker"
        if config.backend == "docker"
        or f.config.package_type is PackageType.IMAGE
        or f.name in placement.containers
        else "process"
        for f in placement.graph.functions
    }


def leave_out(graph: AppGraph, reasons: Mapping[str, str]) -> AppGraph:
    """`graph` without the functions in `reasons`: each named as not run, and its name answers
    InvalidRuntimeException, as Lambda answers a function whose runtime it cannot start."""
    if not reasons:
        return graph
    functions = {f.name: f for f in graph.functions if f.name in reasons}
    smaller = without_functions(graph, set(reasons))
    return replace(
        smaller,
        not_run=smaller.not_run
        + tuple(
            NotRun(what="function", name=f.logical_id, type=_runtime_of(f), reason=reasons[name])
            for name, f in functions.items()
        ),
        unavailable=smaller.unavailable
        + tuple(
            Unavailable(
                name=name,
                error="InvalidRuntimeException",
                message=f"The runtime {_runtime_of(f)} of {name} cannot run here: {reasons[name]}",
            )
            for name, f in functions.items()
        ),
    )


def has_image(runtime: str, image_map: Mapping[str, str]) -> bool:
    """Whether the docker backend knows an image for `runtime` (--image-map, or Lambda's)."""
    from samrun.errors import BackendError
    from samrun.runtime.docker_engine import official_image

    if runtime in image_map:
        return True
    try:
        official_image(runtime, "x86_64")
    except BackendError:
        return False
    return True


def no_image(runtime: str) -> str:
    return f"no Lambda image is known for {runtime} (--image-map {runtime}=IMAGE names one)"


def engine(config: Config) -> str | None:
    """Why no Docker engine answers, or None when one does."""
    from samrun.runtime.docker_engine import probe

    return probe(config.engine_env)


def _runtime(graph: AppGraph, name: str) -> str:
    function = graph.function(name)
    return _runtime_of(function) if function else "?"


def _runtime_of(function: Function) -> str:
    return function.config.runtime or str(function.config.package_type)
