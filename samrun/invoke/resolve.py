"""Which function version an invocation runs: $LATEST, a published version, or an alias."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from samrun.errors import ResourceNotFound
from samrun.invoke.arn import FunctionRef, function_arn, parse_function_ref
from samrun.model import LATEST, AppGraph, Function, FunctionConfig


@dataclass(frozen=True, slots=True)
class Target:
    """A resolved invocation target: the version that runs, and the ARN the caller named."""

    function: Function
    version: str  # $LATEST, "1", ...
    config: FunctionConfig
    invoked_arn: str


class FunctionDirectory:
    """Looks functions up by name, logical id or ARN, in one graph."""

    def __init__(self, graph: AppGraph, rng: random.Random | None = None) -> None:
        self.graph = graph
        self._rng = rng or random.Random()
        self._functions: dict[str, Function] = {}
        for function in graph.functions:
            self._functions.setdefault(function.logical_id, function)
        for function in graph.functions:
            self._functions[function.name] = function
        self._versions = {(v.function, v.version): v for v in graph.versions}
        self._aliases = {(a.function, a.name): a for a in graph.aliases}

    def function(self, ref: FunctionRef) -> Function:
        function = self._functions.get(ref.name)
        if function is None or not self._same_place(ref):
            raise ResourceNotFound(f"Function not found: {self._arn(ref.name, ref.qualifier)}")
        return function

    def resolve(self, name: str, qualifier: str | None = None) -> Target:
        ref = parse_function_ref(name, qualifier)
        function = self.function(ref)
        wanted = ref.qualifier or LATEST
        invoked_arn = self._arn(function.name, ref.qualifier)
        if wanted == LATEST:
            return Target(function, LATEST, function.config, invoked_arn)
        alias = self._aliases.get((function.name, wanted))
        version = self._pick(alias.version, alias.additional_version_weights) if alias else wanted
        published = self._versions.get((function.name, version))
        if published is None:
            raise ResourceNotFound(f"Function not found: {self._arn(function.name, wanted)}")
        return Target(function, version, published.config, invoked_arn)

    def _pick(self, version: str, weights: Mapping[str, float]) -> str:
        """An alias's routing: each additional version gets its weight, the rest the main one."""
        draw = self._rng.random()
        for other, weight in weights.items():
            if draw < weight:
                return other
            draw -= weight
        return version

    def _same_place(self, ref: FunctionRef) -> bool:
        return ref.region in (None, self.graph.region) and ref.account in (
            None,
            self.graph.account_id,
        )

    def _arn(self, name: str, qualifier: str | None) -> str:
        return function_arn(self.graph.region, self.graph.account_id, name, qualifier)
