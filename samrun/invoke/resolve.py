"""The running app's functions, and which version an invocation runs.

`FunctionDirectory` is seeded from the graph, and holds what the Lambda API changes at run time:
published versions, aliases, event invoke configs. `update_graph` takes a new graph (hot reload)
and keeps what the API made, as redeploying a stack keeps manual changes it does not own.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass

from samrun.errors import InvalidRuntime, LambdaApiError, ResourceNotFound
from samrun.invoke.arn import FunctionRef, function_arn, parse_function_ref
from samrun.model import (
    LATEST,
    Alias,
    AppGraph,
    Function,
    FunctionConfig,
    InvokeConfig,
    Unavailable,
    Version,
    bare_id,
    construct_names,
)

NESTED_NAME = re.compile(r"[A-Za-z0-9]+(?:/[A-Za-z0-9]+)+")
"""A nested stack's function by its logical ids (`Child/Function`, `A/B/Function`)."""


def unavailable_error(unavailable: Unavailable) -> LambdaApiError:
    """The error Lambda answers for a function the app declares and cannot run."""
    if unavailable.error == InvalidRuntime.code:
        return InvalidRuntime(unavailable.message)
    return ResourceNotFound(unavailable.message)


@dataclass(frozen=True, slots=True)
class Target:
    """A resolved invocation target: the version that runs, and the ARN the caller named."""

    function: Function
    version: str  # $LATEST, "1", ...
    config: FunctionConfig
    invoked_arn: str
    qualifier: str = LATEST  # as named: $LATEST, a version or an alias


VersionKey = tuple[str, str]  # (function name, version or alias or $LATEST)


class FunctionDirectory:
    """Looks functions up by name, logical id (a nested application's by `Child/Function`, or by
    its own id where that is unique in the app, as SAM CLI does) or ARN; holds their versions,
    aliases, configs."""

    def __init__(self, graph: AppGraph, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        self.versions: dict[VersionKey, Version] = {}
        self.aliases: dict[VersionKey, Alias] = {}
        self.invoke_configs: dict[VersionKey, InvokeConfig] = {}
        self._from_graph: set[tuple[str, VersionKey]] = set()
        self._api_owned: set[tuple[str, VersionKey]] = set()
        self.graph = graph
        self._functions: dict[str, Function] = {}
        self._unavailable: dict[str, Unavailable] = {}  # names that answer an error
        self._ambiguous: dict[str, list[str]] = {}  # a nested function's bare id -> full ids
        self.update_graph(graph)

    def update_graph(self, graph: AppGraph) -> None:
        """Take `graph`'s functions, aliases and configs; keep what the API made, and every
        published version (versions are immutable: a reload never changes one)."""
        for kind, key in self._from_graph:
            getattr(self, kind).pop(key, None)
        self._from_graph.clear()
        self.graph = graph
        self._functions = {f.logical_id: f for f in graph.functions}
        self._functions.update({f.name: f for f in graph.functions})
        self._unavailable = {u.name: u for u in graph.unavailable}
        self._ambiguous = {}
        for bare in {b for f in graph.functions if (b := bare_id(f.logical_id))}:
            # a root function's id, or a name, comes first (one that cannot run too)
            if bare not in self._functions and bare not in self._unavailable:
                found = graph.functions_named(bare)
                if len(found) == 1:
                    self._functions[bare] = found[0]
                else:
                    self._ambiguous[bare] = sorted(f.logical_id for f in found)
        for function in graph.functions:  # a CDK app's construct paths and ids, where unique
            paths, ids = construct_names(function.construct_path)
            for name in sorted(paths | ids):
                found = graph.functions_named(name)
                if name not in self._functions and len(found) == 1:
                    self._functions[name] = found[0]
        for version in graph.versions:
            self.versions.setdefault((version.function, version.version), version)
        for alias in graph.aliases:
            self._seed("aliases", (alias.function, alias.name), alias)
        for function in graph.functions:
            if function.invoke_config is not None:
                key = (function.name, function.invoke_config.qualifier)
                self._seed("invoke_configs", key, function.invoke_config)

    def _seed(self, kind: str, key: VersionKey, value: object) -> None:
        if (kind, key) in self._api_owned:
            return  # the API changed it since: the API's version stands
        getattr(self, kind)[key] = value
        self._from_graph.add((kind, key))

    def disown(self, kind: str, key: VersionKey) -> None:
        """The API changed this entry: a reload of the template must not undo it."""
        self._from_graph.discard((kind, key))
        self._api_owned.add((kind, key))

    def function(self, ref: FunctionRef) -> Function:
        function = self._functions.get(ref.name)
        if ref.name in self._ambiguous and self._same_place(ref):
            candidates = ", ".join(self._ambiguous[ref.name])
            raise ResourceNotFound(
                f"Function not found: {self.arn(ref.name, ref.qualifier)}: the name "
                f"{ref.name} is ambiguous, nested applications have several functions of "
                f"that logical id: {candidates} (name one of them)"
            )
        if function is None or not self._same_place(ref):
            unavailable = self._unavailable.get(ref.name) if self._same_place(ref) else None
            if unavailable is not None:
                raise unavailable_error(unavailable)
            raise ResourceNotFound(f"Function not found: {self.arn(ref.name, ref.qualifier)}")
        return function

    def named(self, name: str) -> Function:
        """The function a Lambda API path names (name, partial ARN or ARN)."""
        return self.function(parse_function_ref(self.nested(name)))

    def nested(self, name: str) -> str:
        """SAM CLI's `Child/Function` (a nested application's function by its logical ids, as
        `sam local start-lambda` takes it) as the function's name; any other name as it is."""
        base, sep, qualifier = name.partition(":")
        function = self.graph.function(base) if "/" in base else None
        if function is None and base in self._unavailable:
            raise unavailable_error(self._unavailable[base])
        if function is None and NESTED_NAME.fullmatch(base):  # as start-lambda answers it
            raise ResourceNotFound(f"Function not found: {self.arn(base)}")
        return function.name + sep + qualifier if function else name

    def resolve(self, name: str, qualifier: str | None = None) -> Target:
        ref = parse_function_ref(self.nested(name), qualifier)
        function = self.function(ref)
        wanted = ref.qualifier or LATEST
        invoked_arn = self.arn(function.name, ref.qualifier)
        if wanted == LATEST:
            return Target(function, LATEST, function.config, invoked_arn)
        alias = self.aliases.get((function.name, wanted))
        version = self._pick(alias.version, alias.additional_version_weights) if alias else wanted
        published = self.versions.get((function.name, version))
        if published is None:
            raise ResourceNotFound(f"Function not found: {self.arn(function.name, wanted)}")
        return Target(function, version, published.config, invoked_arn, wanted)

    def invoke_config(self, target: Target) -> InvokeConfig | None:
        """The EventInvokeConfig of the qualifier the caller named, as Lambda looks it up."""
        return self.invoke_configs.get((target.function.name, target.qualifier))

    def _pick(self, version: str, weights: Mapping[str, float]) -> str:
        """An alias's routing: each additional version gets its weight, the rest the main one."""
        draw = self._rng.random()
        for other, weight in weights.items():
            if draw < weight:
                return other
            draw -= weight
        return version

    def _same_place(self, ref: FunctionRef) -> bool:
        graph = self.graph
        return ref.region in (None, graph.region) and ref.account in (None, graph.account_id)

    def arn(self, name: str, qualifier: str | None = None) -> str:
        return function_arn(self.graph.region, self.graph.account_id, name, qualifier)
