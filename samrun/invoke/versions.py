"""Published versions: immutable snapshots of a function's code and configuration.

PublishVersion copies $LATEST's code into the state folder under its content hash (Lambda's
CodeSha256) and freezes its configuration; an unchanged function publishes no new version. The
template's versions (AutoPublishAlias, AWS::Lambda::Version) are frozen the same way at start, so
editing the code on disk changes $LATEST only.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from samrun.errors import InvalidParameterValue, ResourceConflict
from samrun.invoke.resolve import FunctionDirectory
from samrun.model import FunctionConfig, LayerRef, Version
from samrun.runtime.code import code_sha256, snapshot


def freeze(config: FunctionConfig, state_dir: Path) -> tuple[FunctionConfig, str]:
    """The config with its code and layers replaced by snapshots, and the code's hash."""
    sha = code_sha256(config)
    layers = tuple(freeze_layer(layer, state_dir) for layer in config.layers)
    return replace(config, code=snapshot(config.code, state_dir, sha), layers=layers), sha


def freeze_layer(layer: LayerRef, state_dir: Path) -> LayerRef:
    if layer.code is None or layer.code.path is None:
        return layer
    probe = FunctionConfig(runtime=None, handler=None, code=layer.code)
    return replace(layer, code=snapshot(layer.code, state_dir, code_sha256(probe)))


class VersionPublisher:
    def __init__(self, directory: FunctionDirectory, state_dir: Path) -> None:
        self.directory = directory
        self.state_dir = state_dir
        self._lock = asyncio.Lock()  # two publishes of one function must not both take "N+1"

    async def freeze_graph_versions(self) -> None:
        """Snapshot the versions the template declared, before anything runs them."""
        for key, version in list(self.directory.versions.items()):
            if not version.code_sha256:
                config, sha = await asyncio.to_thread(freeze, version.config, self.state_dir)
                self.directory.versions[key] = replace(version, config=config, code_sha256=sha)

    def published(self, function: str) -> list[Version]:
        found = [v for (name, _), v in self.directory.versions.items() if name == function]
        return sorted(found, key=lambda v: int(v.version))

    async def publish(
        self, function_name: str, description: str = "", expected_sha: str | None = None
    ) -> Version:
        """PublishVersion: a new version when $LATEST differs from the last one, else that one."""
        function = self.directory.named(function_name)
        async with self._lock:
            config, sha = await asyncio.to_thread(freeze, function.config, self.state_dir)
            if expected_sha is not None and expected_sha != sha:
                raise InvalidParameterValue(
                    f"CodeSHA256 ({expected_sha}) is different from current CodeSHA256 in "
                    f"$LATEST ({sha}). Please try again with the CodeSHA256 in $LATEST."
                )
            versions = self.published(function.name)
            if versions and versions[-1].config == config:
                return versions[-1]
            number = str(int(versions[-1].version) + 1 if versions else 1)
            if (function.name, number) in self.directory.versions:
                raise ResourceConflict(f"Version {number} of {function.name} already exists")
            version = Version(
                function=function.name,
                version=number,
                config=config,
                description=description,
                code_sha256=sha,
            )
            self.directory.versions[(function.name, number)] = version
            return version
