"""Instance pools: one per function version, warm reuse, cold starts, idle reaping.

`SandboxCapacity` bounds how many sandboxes live on this machine at once. Past the bound, an idle
instance of any pool is evicted (least recently used first); with none idle, work waits. This is
the laptop's limit, not Lambda's throttling, which the invoke path applies before a pool is asked.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

from samrun.errors import BackendError, InvalidEntrypoint, SamrunError
from samrun.model import Function, FunctionConfig
from samrun.runtime import protocol
from samrun.runtime.instance import Instance, InstanceGone, Outcome, error_payload
from samrun.runtime.launcher import Launcher
from samrun.runtime.session import InvokeEvent

ENTRYPOINT = "Runtime.InvalidEntrypoint"

logger = logging.getLogger(__name__)


class PoolRetired(Exception):
    """The pool was replaced by a hot reload before it found an instance for the event: nothing
    ran, so the invoker runs the event on the pool that replaced it."""


LauncherFactory = Callable[[Function, str, FunctionConfig], Launcher]


class SandboxCapacity:
    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.live = 0
        self.pools: list[InstancePool] = []
        self._waiters: deque[asyncio.Future[None]] = deque()

    def try_reserve(self) -> bool:
        if self.live >= self.limit:
            return False
        self.live += 1
        return True

    async def wait(self) -> None:
        """Until a slot is released or an instance turns idle somewhere."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def release(self) -> None:
        self.live -= 1
        self.notify()

    def notify_all(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    def notify(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def least_recently_used_idle(self) -> InstancePool | None:
        pools = [pool for pool in self.pools if pool.idle]
        return min(pools, key=lambda pool: pool.idle[0].last_used) if pools else None


class InstancePool:
    """Warm instances of one function version; the most recently used is reused first."""

    def __init__(
        self,
        launcher: Launcher,
        capacity: SandboxCapacity,
        *,
        idle_ttl_s: float,
        init_timeout_s: float | None,
    ) -> None:
        self.launcher = launcher
        self.capacity = capacity
        self.idle_ttl_s = idle_ttl_s
        self.init_timeout_s = init_timeout_s
        self.idle: deque[Instance] = deque()  # oldest left, newest right
        self.busy: set[Instance] = set()
        self.live: set[Instance] = set()  # each holds one capacity slot until discarded
        self.provisioned: set[Instance] = set()  # initialised ahead of traffic, never reaped
        self.provisioned_idle: deque[Instance] = deque()
        self.provisioned_target = 0
        self.retired = False  # a hot reload replaced this pool: it starts no new instance
        self._background: set[asyncio.Task[None]] = set()
        self.cold_starts = 0
        self.callers = 0  # invocations in it now, waiting for an instance included
        # a debugged function runs one instance at a time, its timeouts suspended (debugging.py)
        self._one_at_a_time = asyncio.Lock() if launcher.debug else None
        if launcher.debug:
            self.init_timeout_s = None
        capacity.pools.append(self)

    async def invoke(self, event: InvokeEvent) -> Outcome:
        """Run `event` on a warm instance, or on a new one; errors come back as outcomes."""
        self.callers += 1
        try:
            if self._one_at_a_time is None:
                return await self._invoke(event)
            async with self._one_at_a_time:  # a debugged function: one instance, calls wait
                return await self._invoke(event)
        finally:
            self.callers -= 1

    async def _invoke(self, event: InvokeEvent) -> Outcome:
        timeout_s = None if self.launcher.debug else self.launcher.config.timeout_s
        while True:
            instance, failure = await self._acquire(event.request_id)
            if instance is None:
                assert failure is not None
                return failure
            self.busy.add(instance)
            finishing: asyncio.Task[None] | None = None
            try:
                outcome = await instance.invoke(event, timeout_s)
                finishing, instance.finishing = instance.finishing, None
                return outcome
            except InstanceGone:
                continue  # it exited while idle, before the event reached it: run it elsewhere
            finally:
                if finishing is None:
                    self.busy.discard(instance)
                    await self._release(instance)
                else:  # its extensions still work on the invocation (runtime/extensions.py)
                    self._release_after(instance, finishing)

    def _release_after(self, instance: Instance, finishing: asyncio.Task[None]) -> None:
        """Hand `instance` out again once its extensions have ended the invocation."""

        async def release() -> None:
            try:
                await finishing
            finally:
                self.busy.discard(instance)
                await self._release(instance)

        task = asyncio.get_running_loop().create_task(release())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _take_idle(self) -> Instance | None:
        """A provisioned instance first, then the most recently used idle one; instances that
        exited while idle are dropped."""
        for queue in (self.provisioned_idle, self.idle):
            while queue:
                instance = queue.pop()
                if instance.reusable:
                    return instance
                await self._discard(instance)
        return None

    async def provision(self, count: int) -> None:
        """Keep `count` instances initialised ahead of traffic (provisioned concurrency)."""
        self.provisioned_target = count
        while len(self.provisioned) > count and self.provisioned_idle:
            await self._discard(self.provisioned_idle.popleft())
        while len(self.provisioned) < self.provisioned_target:
            while not self.capacity.try_reserve():
                victim = self.capacity.least_recently_used_idle()
                await (victim.evict_oldest() if victim else self.capacity.wait())
            instance, failure = await self._cold_start("", "provisioned-concurrency")
            if instance is None:
                raise BackendError(f"provisioned instance failed to initialise: {failure}")
            instance.init_duration_ms = None  # initialised ahead: no Init Duration in REPORT
            self.provisioned.add(instance)
            self.provisioned_idle.append(instance)
            self.capacity.notify()

    async def prewarm(self) -> Outcome | None:
        """Run one instance's init phase without an invocation, and keep it idle here (as an
        on-demand instance, so its first invocation reports the Init Duration): None once it
        is ready, else the init failure with its log. `samrun smoke` checks handlers so."""
        while not self.capacity.try_reserve():
            victim = self.capacity.least_recently_used_idle()
            await (victim.evict_oldest() if victim else self.capacity.wait())
        instance, failure = await self._cold_start("")
        if instance is None:
            return failure
        self.idle.append(instance)
        self.capacity.notify()
        return None

    async def start_debuggee(self) -> None:
        """A debugged function's instance, started ahead of its first call (App.start_debugged)
        unless one runs: its debugger listens from now on. A failure is logged as any init's."""
        assert self._one_at_a_time is not None
        async with self._one_at_a_time:
            if self.live or self.retired:
                return
            try:
                await self.prewarm()
            except SamrunError as exc:
                logger.error("%s: %s", self.launcher.function_name, exc)

    async def reap(self, now: float | None = None) -> None:
        """Stop instances idle for longer than the idle lifetime (never a debugged one: a
        debugger may be attached to it)."""
        if self.launcher.debug:
            return
        deadline = (now or time.monotonic()) - self.idle_ttl_s
        while self.idle and self.idle[0].last_used < deadline:
            await self.evict_oldest()

    async def evict_oldest(self) -> None:
        instance = self.idle.popleft()
        await self._discard(instance)

    async def close(self) -> None:
        """Stop every instance, busy ones included (shutdown)."""
        instances = list(self.live)
        self.provisioned_target = 0
        self.idle.clear()
        self.provisioned_idle.clear()
        await asyncio.gather(*(self._discard(instance) for instance in instances))
        if self in self.capacity.pools:
            self.capacity.pools.remove(self)

    async def _acquire(self, request_id: str) -> tuple[Instance | None, Outcome | None]:
        """A warm instance of this pool, else a new one; past the bound, evict or wait."""
        while True:
            instance = await self._take_idle()
            if instance is not None:
                return instance, None
            if self.retired:
                raise PoolRetired(request_id)  # a reload replaced it: start nothing old here
            if self.capacity.try_reserve():
                return await self._cold_start(request_id)
            victim = self.capacity.least_recently_used_idle()
            if victim is not None:
                await victim.evict_oldest()
            else:
                await self.capacity.wait()

    async def _cold_start(
        self, request_id: str, initialization_type: str = "on-demand"
    ) -> tuple[Instance | None, Outcome | None]:
        """Start an instance in the slot the caller reserved. An invocation's init phase that
        outlasts its limit is retried in the invocation, under the function's timeout, as
        Lambda retries it."""
        instance, failure = await self._launch(request_id, initialization_type)
        if instance is None:
            return None, failure
        retried = bool(request_id) and self.init_timeout_s is not None
        failure = await instance.start(self.init_timeout_s, request_id, retried=retried)
        if retried and failure is not None and failure.error_type == protocol.TIMEOUT:
            self.live.discard(instance)  # stopped: its slot goes to the retry
            instance, failure = await self._launch(request_id, initialization_type)
            if instance is None:
                return None, failure
            failure = await instance.retry(self.launcher.config.timeout_s, request_id)
        if failure is not None:
            await self._discard(instance)
            return None, failure
        return instance, None

    async def _launch(
        self, request_id: str, initialization_type: str
    ) -> tuple[Instance | None, Outcome | None]:
        """A new instance, live in the caller's slot (released when it cannot start)."""
        try:
            instance = await self.launcher.launch(initialization_type)
        except InvalidEntrypoint as exc:
            self.capacity.release()
            text = f"RequestId: {request_id} Error: {exc}"
            return None, Outcome(payload=error_payload(ENTRYPOINT, text), error_type=ENTRYPOINT)
        except BaseException:
            self.capacity.release()
            raise
        self.live.add(instance)
        self.cold_starts += 1
        return instance, None

    async def _release(self, instance: Instance) -> None:
        if instance in self.provisioned and len(self.provisioned) > self.provisioned_target:
            self.provisioned.discard(instance)  # scaled in while it worked: it goes now
            await self._discard(instance)
            return
        if instance.reusable:
            (self.provisioned_idle if instance in self.provisioned else self.idle).append(instance)
            self.capacity.notify()
        else:
            await self._discard(instance)

    async def _discard(self, instance: Instance) -> None:
        if instance not in self.live:
            return
        self.live.discard(instance)
        replace = instance in self.provisioned  # Lambda replaces a lost provisioned instance
        self.provisioned.discard(instance)
        try:
            await instance.stop()
        finally:
            self.capacity.release()
        if replace and len(self.provisioned) < self.provisioned_target:
            task = asyncio.get_running_loop().create_task(self.provision(self.provisioned_target))
            self._background.add(task)
            task.add_done_callback(self._background.discard)


class PoolSet:
    """The pools of every function version, created on first use; a PER_TENANT function's
    (TenancyConfig) one per tenant besides, so no instance ever serves two tenants. A tenant's
    pool shares its version's Launcher (the code is laid out once) and goes once it is empty."""

    def __init__(
        self,
        capacity: SandboxCapacity,
        make_launcher: LauncherFactory,
        *,
        idle_ttl_s: float,
        init_timeout_s: float,
    ) -> None:
        self.capacity = capacity
        self._make_launcher = make_launcher
        self._idle_ttl_s = idle_ttl_s
        self._init_timeout_s = init_timeout_s
        self.pools: dict[tuple[str, str], InstancePool] = {}
        self.tenant_pools: dict[tuple[str, str, str], InstancePool] = {}  # (name, version, tenant)
        self.retired: set[InstancePool] = set()  # hot reload: draining, then closed
        self._draining: set[asyncio.Task[None]] = set()

    def pool(
        self, function: Function, version: str, config: FunctionConfig, tenant: str | None = None
    ) -> InstancePool:
        """The version's pool; with `tenant`, that tenant's pool of the version."""
        key = (function.name, version)
        pool = self.pools.get(key)
        if pool is None:
            launcher = self._make_launcher(function, version, config)
            pool = self._new_pool(launcher)
            self.pools[key] = pool
        if tenant is None:
            return pool
        tenant_pool = self.tenant_pools.get((*key, tenant))
        if tenant_pool is None:
            tenant_pool = self.tenant_pools[(*key, tenant)] = self._new_pool(pool.launcher)
        return tenant_pool

    def _new_pool(self, launcher: Launcher) -> InstancePool:
        return InstancePool(
            launcher,
            self.capacity,
            idle_ttl_s=self._idle_ttl_s,
            init_timeout_s=self._init_timeout_s,
        )

    async def reap(self) -> None:
        now = time.monotonic()
        for pool in list(self.pools.values()):
            await pool.reap(now)
        for key, pool in list(self.tenant_pools.items()):
            await pool.reap(now)
            if not pool.live and not pool.callers and self.tenant_pools.get(key) is pool:
                del self.tenant_pools[key]
                await pool.close()

    async def close(self) -> None:
        pools = [*self.pools.values(), *self.tenant_pools.values()]
        await asyncio.gather(*(pool.close() for pool in pools))
        self.pools.clear()
        self.tenant_pools.clear()
        for task in self._draining:
            task.cancel()
        await asyncio.gather(*(pool.close() for pool in self.retired))
        self.retired.clear()

    def retire(self, function_name: str, version: str = "$LATEST") -> InstancePool | None:
        """Hot reload: the next invocation of this version gets a new pool (a fresh Launcher, so
        the configuration is new and the code is laid out again). The old pool hands out nothing
        more: its idle instances stop now, its busy ones finish their invocations and are then
        discarded, and it closes once none is left (or past the function's deadline)."""
        pool = self.pools.pop((function_name, version), None)
        if pool is None:
            return None
        for key in [k for k in self.tenant_pools if k[:2] == (function_name, version)]:
            self._retire(self.tenant_pools.pop(key))  # its tenants' instances go with it
        self._retire(pool)
        return pool

    def _retire(self, pool: InstancePool) -> None:
        pool.retired = True
        for instance in pool.live:
            instance.reusable = False  # discarded as soon as its invocation ends
        self.capacity.notify_all()  # requests waiting for a slot in it go to the new pool
        self.retired.add(pool)
        task = asyncio.get_running_loop().create_task(self._drain(pool))
        self._draining.add(task)
        task.add_done_callback(self._draining.discard)

    async def _drain(self, pool: InstancePool) -> None:
        loop = asyncio.get_running_loop()
        init_s = pool.init_timeout_s if pool.init_timeout_s is not None else self._init_timeout_s
        deadline = loop.time() + pool.launcher.config.timeout_s + init_s + 1
        while pool.idle:
            await pool.evict_oldest()
        while any(i not in pool.idle for i in pool.live) and loop.time() < deadline:
            await asyncio.sleep(0.02)  # busy instances release (and are discarded) on their own
        if pool.launcher.debug and any(i not in pool.idle for i in pool.live):
            logger.warning(  # a debugger holds it: the reload does not wait for ever
                "%s: the instance a debugger holds is stopped: the reload replaced it; the next "
                "one listens on %s again",
                pool.launcher.function_name,
                pool.launcher.debug.address,
            )
        await pool.close()
        self.retired.discard(pool)
