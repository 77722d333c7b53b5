"""Pollers: every event source mapping of the app as it runs, whether the template declared it
or the ESM API created it; the orchestrator owns one and starts, reconciles and stops it.

A template's mapping keeps one UUID across runs (derived from its logical id and source), so a
stream's checkpoints outlive a restart. Mappings samrun does not poll (Amazon MQ, MSK,
self-managed Kafka, DocumentDB) are kept, listed and named in a warning, never run.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from samrun.errors import ResourceConflict, ResourceNotFound
from samrun.model import POLLED_SOURCE_TYPES, AppGraph, EventSourceMapping
from samrun.sources.base import Context, LiveMapping, Poller
from samrun.sources.filters import compile_filters
from samrun.sources.mapping_store import MappingStore
from samrun.sources.sqs import SqsPoller

logger = logging.getLogger(__name__)

POLLED = POLLED_SOURCE_TYPES
NAMESPACE = uuid.UUID("6f1c5d1e-3b1a-4c55-9a43-5a7d2f0b9e10")
DEFAULT_BATCH = {"sqs": 10, "kinesis": 100, "dynamodb": 100}


def template_uuid(esm: EventSourceMapping) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{esm.logical_id or esm.function}|{esm.source}"))


class Pollers:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.mappings: dict[str, LiveMapping] = {}
        self._pollers: dict[str, Poller] = {}
        self._template: dict[str, EventSourceMapping] = {}  # uuid -> as the template said
        self._store = MappingStore(context.state_dir / "sources" / "api-mappings.json")
        # --enforce-iam: why the function's role cannot poll a mapping (Lambda's reason), or None
        self.refuse: Callable[[EventSourceMapping], str | None] | None = None

    # -- lifecycle --

    async def start(self, graph: AppGraph) -> None:
        for esm in graph.event_source_mappings:
            key = template_uuid(esm)
            self._template[key] = esm
            await self.add(esm, key, from_template=True)
        for key, esm in self._store.load().items():  # the ESM API's, from the last run
            if key in self.mappings or graph.function(esm.function) is None:
                logger.warning(
                    "event source mapping %s (%s -> %s) not restored: its function is gone",
                    key,
                    esm.source,
                    esm.function,
                )
                continue
            await self.add(esm, key, from_template=False)
        self._save()

    def _save(self) -> None:
        """Keep the ESM API's mappings in the state folder (a template's are not stored)."""
        api = {k: m.esm for k, m in self.mappings.items() if not m.from_template}
        try:
            self._store.save(api)
        except OSError as exc:  # a full or read-only disk: the mappings still run
            logger.warning("event source mappings not saved: %s", exc)

    def stop_taking(self) -> None:
        """A graceful stop's first step: no poller starts a new batch; those in flight go on."""
        for poller in self._pollers.values():
            poller.stop_taking()

    async def stop(self, drain_s: float) -> None:
        """Stop every poller; batches in flight finish within `drain_s`."""
        pollers, self._pollers = list(self._pollers.values()), {}
        await asyncio.gather(*(p.stop(drain_s) for p in pollers))

    async def reconcile(self, graph: AppGraph) -> list[str]:
        """Apply a template edit: start added mappings, stop removed ones (their batches in
        flight finish first), update changed ones in place. One line per change."""
        lines = []
        wanted = {template_uuid(e): e for e in graph.event_source_mappings}
        for key in [k for k in self._template if k not in wanted]:
            old = self._template.pop(key)
            await self.remove(key)
            lines.append(f"event source mapping stopped: {old.function} <- {old.source}")
        for key, esm in wanted.items():
            if key not in self._template:
                self._template[key] = esm
                await self.add(esm, key, from_template=True)
                lines.append(f"event source mapping started: {esm.function} <- {esm.source}")
            elif self._template[key] != esm:
                self._template[key] = esm
                if key in self._pollers:
                    self.apply(self.mappings[key], esm)
                else:  # not running (not polled, or refused before): take it as new
                    self.mappings.pop(key, None)
                    await self.add(esm, key, from_template=True)
                lines.append(f"event source mapping updated: {esm.function} <- {esm.source}")
        return lines

    # -- the registry, as the ESM API uses it --

    async def add(self, esm: EventSourceMapping, key: str, *, from_template: bool) -> LiveMapping:
        try:
            keep = compile_filters(esm.filters)
        except ValueError as exc:  # the ESM API checks first; a template's is reported here
            keep, problem = (lambda record: False), f"invalid FilterCriteria: {exc}"
        else:
            problem = ""
        mapping = LiveMapping(uuid=key, esm=esm, keep=keep, from_template=from_template)
        self.mappings[key] = mapping
        if not from_template:
            self._save()
        if problem:
            mapping.state, mapping.state_reason = "Disabled", f"PROBLEM: {problem}"
            logger.warning("event source mapping %s is not polled: %s", esm.logical_id, problem)
            return mapping
        refused = self.refuse(esm) if self.refuse and esm.source_type in POLLED else None
        if refused:
            mapping.state, mapping.state_reason = "Disabled", refused
            name = esm.logical_id or key
            logger.error("event source mapping %s is not polled: %s", name, refused)
            return mapping
        if esm.source_type not in POLLED:
            mapping.state = "Enabled" if esm.enabled else "Disabled"
            mapping.state_reason = f"samrun does not poll {esm.source_type} sources"
            return mapping
        mapping.state = "Enabled" if esm.enabled else "Disabled"
        poller = self._poller(mapping)
        self._pollers[key] = poller
        await poller.start()
        return mapping

    def apply(self, mapping: LiveMapping, esm: EventSourceMapping) -> None:
        """Take a new configuration now: the next batch uses it (an invalid filter from a
        template edit keeps the last good configuration, and says so)."""
        try:
            mapping.keep = compile_filters(esm.filters)
        except ValueError as exc:
            logger.warning("event source mapping %s: invalid FilterCriteria: %s", mapping.uuid, exc)
            return
        mapping.esm = esm
        mapping.state = "Enabled" if esm.enabled else "Disabled"
        mapping.last_modified = time.time()
        if not mapping.from_template:
            self._save()
        poller = self._pollers.get(mapping.uuid)
        if poller is not None:
            poller.wake()

    async def remove(self, key: str) -> LiveMapping:
        mapping = self.mappings.get(key)
        if mapping is None:
            raise ResourceNotFound(f"The resource you requested does not exist. (uuid {key})")
        if mapping.state == "Deleting":
            raise ResourceConflict(f"The event source mapping {key} is being deleted.")
        mapping.state = "Deleting"
        poller = self._pollers.pop(key, None)
        if poller is not None:
            await poller.stop(self.drain_s(mapping))
        self.mappings.pop(key, None)
        if not mapping.from_template:
            self._save()
        return mapping

    def get(self, key: str) -> LiveMapping:
        mapping = self.mappings.get(key)
        if mapping is None:
            raise ResourceNotFound(f"The resource you requested does not exist. (uuid {key})")
        return mapping

    def drain_s(self, mapping: LiveMapping) -> float:
        """How long a stopping poller's batch may take: the function's timeout, and a margin."""
        function = self.context.invoker.directory.graph.function(mapping.esm.function)
        return (function.config.timeout_s if function else 3) + 2.0

    def _poller(self, mapping: LiveMapping) -> Poller:
        if mapping.esm.source_type == "sqs":
            return SqsPoller(self.context, mapping)
        from samrun.sources.streams import StreamPoller

        return StreamPoller(self.context, mapping)

    # -- what people see --

    def rows(self) -> list[tuple[str, ...]]:
        """The startup table: FUNCTION, SOURCE, TYPE, BATCH, STATE."""
        return [
            (
                m.esm.function + (f":{m.esm.qualifier}" if m.esm.qualifier else ""),
                "<- " + m.esm.source,
                m.esm.source_type,
                str(m.esm.batch_size or DEFAULT_BATCH.get(m.esm.source_type) or "-"),
                m.state if m.esm.source_type in POLLED else "not polled",
            )
            for m in self.mappings.values()
        ]

    def warnings(self) -> Iterable[str]:
        for m in self.mappings.values():
            if m.esm.source_type not in POLLED:
                yield (
                    f"event source mapping {m.esm.logical_id or m.uuid} ({m.esm.source_type}: "
                    f"{m.esm.source} -> {m.esm.function}) is not polled: samrun polls SQS, "
                    "Kinesis and DynamoDB Streams only"
                )

    def state(self) -> list[dict[str, Any]]:
        return [
            {
                "uuid": m.uuid,
                "function": m.esm.function,
                "source": m.esm.source,
                "type": m.esm.source_type,
                "state": m.state,
                "polled": m.esm.source_type in POLLED,
                "reason": m.state_reason,
                "batch_size": m.esm.batch_size or DEFAULT_BATCH.get(m.esm.source_type),
                **m.stats.as_dict(),
            }
            for m in self.mappings.values()
        ]
