"""Aliases: CreateAlias, UpdateAlias, DeleteAlias, with the Lambda API's checks.

An alias points at one version and may send a weighted share of traffic to one more
(`RoutingConfig.AdditionalVersionWeights`); it cannot point at $LATEST with weights.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from samrun.errors import InvalidParameterValue, ResourceConflict, ResourceNotFound
from samrun.invoke.resolve import FunctionDirectory
from samrun.model import LATEST, Alias

ALIAS_NAME = re.compile(r"^(?!^[0-9]+$)([a-zA-Z0-9-_]+)$")


class AliasBook:
    def __init__(self, directory: FunctionDirectory) -> None:
        self.directory = directory

    def get(self, function_name: str, name: str) -> Alias:
        function = self.directory.named(function_name)
        alias = self.directory.aliases.get((function.name, name))
        if alias is None:
            raise ResourceNotFound(f"Alias not found: {self.directory.arn(function.name, name)}")
        return alias

    def list(self, function_name: str) -> list[Alias]:
        function = self.directory.named(function_name)
        return [a for (f, _), a in sorted(self.directory.aliases.items()) if f == function.name]

    def create(
        self,
        function_name: str,
        name: str,
        version: str,
        weights: Mapping[str, float] | None = None,
        description: str = "",
    ) -> Alias:
        function = self.directory.named(function_name)
        if (function.name, name) in self.directory.aliases:
            raise ResourceConflict(
                f"Alias already exists: {self.directory.arn(function.name, name)}"
            )
        if not ALIAS_NAME.match(name) or len(name) > 128:
            raise InvalidParameterValue(f"Invalid alias name: {name}")
        alias = Alias(
            function=function.name,
            name=name,
            version=version,
            additional_version_weights=dict(weights or {}),
            description=description,
        )
        return self._store(alias)

    def update(
        self,
        function_name: str,
        name: str,
        version: str | None = None,
        weights: Mapping[str, float] | None = None,
        description: str | None = None,
    ) -> Alias:
        current = self.get(function_name, name)
        alias = Alias(
            function=current.function,
            name=name,
            version=version or current.version,
            additional_version_weights=(
                dict(weights) if weights is not None else dict(current.additional_version_weights)
            ),
            provisioned_concurrency=current.provisioned_concurrency,
            logical_id=current.logical_id,
            description=current.description if description is None else description,
        )
        return self._store(alias)

    def delete(self, function_name: str, name: str) -> None:
        alias = self.get(function_name, name)
        del self.directory.aliases[(alias.function, alias.name)]
        self.directory.disown("aliases", (alias.function, alias.name))

    def _store(self, alias: Alias) -> Alias:
        self._check(alias)
        self.directory.aliases[(alias.function, alias.name)] = alias
        self.directory.disown("aliases", (alias.function, alias.name))
        return alias

    def _check(self, alias: Alias) -> None:
        versions = {alias.version, *alias.additional_version_weights}
        for version in versions:
            if version != LATEST and (alias.function, version) not in self.directory.versions:
                raise ResourceNotFound(
                    f"Function not found: {self.directory.arn(alias.function, version)}"
                )
        weights = alias.additional_version_weights
        if not weights:
            return
        if LATEST in versions:
            raise InvalidParameterValue(
                "$LATEST is not supported for an alias pointing to more than 1 version"
            )
        if len(weights) > 1 or alias.version in weights:
            raise InvalidParameterValue(
                "RoutingConfig supports only one additional version, other than the primary one"
            )
        if any(not 0.0 <= w <= 1.0 for w in weights.values()) or sum(weights.values()) > 1.0:
            raise InvalidParameterValue("Invalid function version weight: each must be in [0, 1]")
