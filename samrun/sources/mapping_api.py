"""The event source mapping operations of the Lambda API, over the running `Pollers`.

Create / Get / List / Update / Delete take and give the API's JSON shapes
(EventSourceMappingConfiguration), check what Lambda checks, and apply at once: a created
mapping starts polling, an update reaches the next batch, `Enabled: false` pauses the poller,
a delete lets the batch in flight finish. The API's property names are CloudFormation's too,
so what the model keeps in `details` reads the same either way.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from samrun.errors import InvalidParameterValue, ResourceConflict
from samrun.model import ESM_SETTING_FIELDS, EventSourceMapping, esm_source_type
from samrun.sources.base import LiveMapping
from samrun.sources.filters import compile_filters
from samrun.sources.pollers import DEFAULT_BATCH, Pollers

STREAM_POSITIONS = {"TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"}
MAX_BATCH = {"sqs": 10000, "kinesis": 10000, "dynamodb": 10000}


class MappingService:
    """What samrun.api.event_source_mappings calls (its MappingRegistry protocol)."""

    def __init__(self, pollers: Pollers) -> None:
        self.pollers = pollers

    def list(self, function: str | None, source: str | None) -> list[dict[str, Any]]:
        name = self._function(function)[0] if function else None
        return [
            self.shape(m)
            for m in self.pollers.mappings.values()
            if (name is None or m.esm.function == name) and (source in (None, m.esm.source))
        ]

    def describe(self, key: str) -> dict[str, Any]:
        return self.shape(self.pollers.get(key))

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        name, qualifier = self._function(body.get("FunctionName"))
        source = body.get("EventSourceArn")
        if not isinstance(source, str) or not source:
            raise InvalidParameterValue("EventSourceArn is required")
        kind = esm_source_type(source)
        for existing in self.pollers.mappings.values():
            if existing.esm.source == source and existing.esm.function == name:
                raise ResourceConflict(
                    f'An event source mapping with {kind.upper()} arn (" {source} ") and '
                    f'function (" {name} ") already exists. Please update or delete the '
                    f"existing mapping with UUID {existing.uuid}"
                )
        esm = EventSourceMapping(
            function=name,
            qualifier=qualifier,
            source_type=kind,
            source=source,
            details={k: v for k, v in body.items() if k not in ESM_SETTING_FIELDS},
        )
        esm = self._updated(esm, body)
        if kind in ("kinesis", "dynamodb") and esm.starting_position is None:
            raise InvalidParameterValue("StartingPosition is required for stream sources")
        mapping = await self.pollers.add(esm, str(uuid.uuid4()), from_template=False)
        shape = self.shape(mapping)
        shape["State"] = "Creating"
        return shape

    async def update(self, key: str, body: dict[str, Any]) -> dict[str, Any]:
        mapping = self.pollers.get(key)
        esm = mapping.esm
        if "FunctionName" in body:
            name, qualifier = self._function(body["FunctionName"])
            esm = replace(esm, function=name, qualifier=qualifier)
        extra = {k: v for k, v in body.items() if k not in ESM_SETTING_FIELDS and k != "UUID"}
        esm = self._updated(replace(esm, details={**esm.details, **extra}), body)
        self.pollers.apply(mapping, esm)
        shape = self.shape(mapping)
        shape["State"] = "Updating"
        return shape

    async def delete(self, key: str) -> dict[str, Any]:
        shape = self.shape(self.pollers.get(key))
        await self.pollers.remove(key)
        shape["State"] = "Deleting"
        return shape

    def _function(self, value: Any) -> tuple[str, str | None]:
        if not isinstance(value, str) or not value:
            raise InvalidParameterValue("FunctionName is required")
        target = self.pollers.context.invoker.directory.resolve(value)  # ResourceNotFound
        qualifier = target.qualifier if target.qualifier != "$LATEST" else None
        return target.function.name, qualifier

    def _updated(self, esm: EventSourceMapping, body: dict[str, Any]) -> EventSourceMapping:
        """`esm` with the model's fields the request sets, checked as Lambda checks them."""
        changes: dict[str, Any] = {}
        if "BatchSize" in body:
            changes["batch_size"] = _whole(body, "BatchSize", 1, MAX_BATCH.get(esm.source_type))
        if "MaximumBatchingWindowInSeconds" in body:
            changes["maximum_batching_window_s"] = _whole(
                body, "MaximumBatchingWindowInSeconds", 0, 300
            )
        if "StartingPosition" in body:
            position = str(body["StartingPosition"])
            if esm.source_type == "sqs" or position not in STREAM_POSITIONS:
                raise InvalidParameterValue(f"StartingPosition {position} is not valid here")
            changes["starting_position"] = position
        if "Enabled" in body:
            changes["enabled"] = bool(body["Enabled"])
        if "FunctionResponseTypes" in body:
            types = tuple(str(t) for t in body["FunctionResponseTypes"] or ())
            if any(t != "ReportBatchItemFailures" for t in types):
                raise InvalidParameterValue("FunctionResponseTypes: ReportBatchItemFailures only")
            changes["function_response_types"] = types
        if "FilterCriteria" in body:
            filters = tuple((body["FilterCriteria"] or {}).get("Filters") or ())
            try:
                compile_filters(filters)
            except ValueError as exc:
                raise InvalidParameterValue(f"Invalid filter pattern definition. {exc}") from None
            changes["filters"] = filters
        esm = replace(esm, **changes)
        _check(esm, body)
        return esm

    def shape(self, mapping: LiveMapping) -> dict[str, Any]:
        """EventSourceMappingConfiguration, as boto3 parses it."""
        esm, context = mapping.esm, self.pollers.context
        function = context.invoker.directory.graph.function(esm.function)
        arn = function.arn if function else esm.function
        shape: dict[str, Any] = {
            "UUID": mapping.uuid,
            "EventSourceArn": esm.source,
            "FunctionArn": f"{arn}:{esm.qualifier}" if esm.qualifier else arn,
            "BatchSize": esm.batch_size or DEFAULT_BATCH.get(esm.source_type, 100),
            "MaximumBatchingWindowInSeconds": esm.maximum_batching_window_s or 0,
            "LastModified": mapping.last_modified,
            "LastProcessingResult": "OK" if mapping.stats.batches else "No records processed",
            "State": mapping.state,
            "StateTransitionReason": mapping.state_reason,
            "FunctionResponseTypes": list(esm.function_response_types),
            "EventSourceMappingArn": (
                f"arn:aws:lambda:{context.region}:{arn.split(':')[4] if ':' in arn else ''}"
                f":event-source-mapping:{mapping.uuid}"
            ),
        }
        if esm.starting_position:
            shape["StartingPosition"] = esm.starting_position
        if esm.filters:
            shape["FilterCriteria"] = {"Filters": [dict(f) for f in esm.filters]}
        for key, value in esm.details.items():
            if key not in shape and key[:1].isupper():
                shape[key] = value
        return shape


def _check(esm: EventSourceMapping, body: dict[str, Any]) -> None:
    """Lambda's checks that involve more than one setting."""
    maximum = (body.get("ScalingConfig") or {}).get("MaximumConcurrency")
    if maximum is not None and (not isinstance(maximum, int) or not 2 <= maximum <= 1000):
        raise InvalidParameterValue("MaximumConcurrency must be between 2 and 1000")
    size = esm.batch_size or DEFAULT_BATCH.get(esm.source_type, 10)
    if esm.source.endswith(".fifo") and size > 10:
        raise InvalidParameterValue("BatchSize must be at most 10 for a FIFO queue")
    if esm.source_type == "dynamodb" and esm.starting_position == "AT_TIMESTAMP":
        raise InvalidParameterValue("Unsupported starting position for a DynamoDB stream")
    if esm.source_type == "sqs" and size > 10 and not esm.maximum_batching_window_s:
        raise InvalidParameterValue(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size "
            "is greater than 10"
        )


def _whole(body: dict[str, Any], key: str, low: int, high: int | None) -> int:
    value = body[key]
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise InvalidParameterValue(f"{key} must be a whole number of at least {low}")
    if high is not None and value > high:
        raise InvalidParameterValue(f"{key} must be at most {high}")
    return value
