"""Provisioned concurrency: instances initialised ahead of traffic on an alias or a version.

Put answers at once with IN_PROGRESS, as Lambda does, and READY once every instance has run its
init phase (`AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency`). Traffic beyond them
spills over to on-demand instances of the same version.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from samrun.errors import InvalidParameterValue, ProvisionedConfigNotFound, SamrunError
from samrun.invoke.resolve import FunctionDirectory, VersionKey
from samrun.model import LATEST
from samrun.runtime.pool import InstancePool, PoolSet

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class ProvisionedConfig:
    requested: int
    allocated: int = 0
    status: str = "IN_PROGRESS"  # IN_PROGRESS | READY | FAILED
    status_reason: str = ""
    last_modified: str = ""

    def shape(self) -> dict[str, object]:
        shape: dict[str, object] = {
            "RequestedProvisionedConcurrentExecutions": self.requested,
            "AvailableProvisionedConcurrentExecutions": self.allocated,
            "AllocatedProvisionedConcurrentExecutions": self.allocated,
            "Status": self.status,
            "LastModified": self.last_modified,
        }
        if self.status_reason:
            shape["StatusReason"] = self.status_reason
        return shape


class ProvisionedConcurrency:
    def __init__(self, directory: FunctionDirectory, pools: PoolSet) -> None:
        self.directory = directory
        self.pools = pools
        self.configs: dict[VersionKey, ProvisionedConfig] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.allocations: dict[VersionKey, asyncio.Task[None]] = {}  # the latest, per key
        self._locks: dict[VersionKey, asyncio.Lock] = {}  # one allocation at a time per key

    async def seed_from_graph(self) -> None:
        """The template's ProvisionedConcurrencyConfig, allocated before `up` says ready."""
        graph = self.directory.graph
        wanted = [(a.function, a.name, a.provisioned_concurrency) for a in graph.aliases]
        wanted += [(v.function, v.version, v.provisioned_concurrency) for v in graph.versions]
        for function, qualifier, count in wanted:
            if count:
                self.put(function, qualifier, count)
        await self.settled()

    def put(self, function_name: str, qualifier: str | None, count: int) -> ProvisionedConfig:
        key = self._key(function_name, qualifier)
        if count < 1:
            raise InvalidParameterValue("ProvisionedConcurrentExecutions must be at least 1")
        previous = self.configs.get(key)  # a change: what is allocated stays until it is done
        allocated = min(previous.allocated, count) if previous else 0
        config = ProvisionedConfig(requested=count, allocated=allocated, last_modified=now_iso())
        self.configs[key] = config
        task = asyncio.get_running_loop().create_task(self._allocate(key, config))
        self.allocations[key] = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return config

    def get(self, function_name: str, qualifier: str | None) -> ProvisionedConfig:
        key = self._key(function_name, qualifier)
        if key not in self.configs:
            raise ProvisionedConfigNotFound(
                "No Provisioned Concurrency Config found for this function"
            )
        return self.configs[key]

    async def delete(self, function_name: str, qualifier: str | None) -> None:
        key = self._key(function_name, qualifier)
        if self.configs.pop(key, None) is not None:
            await self._pool(key).provision(0)

    async def settled(self) -> None:
        """Until every allocation under way has finished."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _key(self, function_name: str, qualifier: str | None) -> VersionKey:
        function = self.directory.named(function_name)
        if not qualifier or qualifier == LATEST:
            raise InvalidParameterValue(
                "Provisioned Concurrency Configs cannot be applied to unpublished function "
                "versions."
            )
        self.directory.resolve(function.name, qualifier)  # ResourceNotFound when unknown
        return (function.name, qualifier)

    def _pool(self, key: VersionKey) -> InstancePool:
        function_name, qualifier = key
        alias = self.directory.aliases.get(key)
        version = self.directory.versions[(function_name, alias.version if alias else qualifier)]
        function = self.directory.named(function_name)
        return self.pools.pool(function, version.version, version.config)

    async def _allocate(self, key: VersionKey, config: ProvisionedConfig) -> None:
        try:
            async with self._locks.setdefault(key, asyncio.Lock()):
                if self.configs.get(key) is not config:
                    return  # a later change replaced this one before it began
                await self._pool(key).provision(config.requested)
        except SamrunError as exc:
            config.status, config.status_reason = "FAILED", str(exc)
            logger.warning("provisioned concurrency of %s:%s failed: %s", *key, exc)
            return
        config.allocated, config.status = config.requested, "READY"
        logger.info("provisioned concurrency of %s:%s ready: %d instances", *key, config.requested)


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime())
