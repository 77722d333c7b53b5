"""Where an asynchronously started durable execution ends, as Lambda sends it: once the
execution is terminal, its input goes to the function's dead-letter queue (FAILED, STOPPED,
TIMED_OUT) and Lambda's invocation record to the `OnSuccess` / `OnFailure` destination of the
EventInvokeConfig of the qualifier it was invoked with, through the async queue's destinations.

The execution is not held in an async-queue slot while it runs (it may wait for a year): its
record in the state folder is what keeps the accepted event, and the service settles it here
once, even across a restart.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from samrun.errors import ResourceNotFound
from samrun.invoke.destinations import RETRIES_EXHAUSTED, SUCCESS, Destinations, invocation_record
from samrun.invoke.invoker import Invoker
from samrun.invoke.models import InvokeResult
from samrun.invoke.telemetry import (
    ASYNC_DROPPED,
    DEAD_LETTER_ERRORS,
    DESTINATION_FAILURES,
)
from samrun.model import LATEST

logger = logging.getLogger(__name__)

Record = dict[str, Any]


def retry_attempts(invoker: Invoker, function: str, qualifier: str | None) -> int | None:
    """The MaximumRetryAttempts of the EventInvokeConfig an `Event` invocation names."""
    try:
        target = invoker.directory.resolve(function, qualifier)
    except ResourceNotFound:
        return None
    config = invoker.directory.invoke_config(target)
    return None if config is None else config.maximum_retry_attempts


class Outcomes:
    def __init__(self, invoker: Invoker, destinations: Destinations | None) -> None:
        self.invoker = invoker
        self.destinations = destinations

    async def __call__(self, record: Record) -> None:
        origin = record.get("async") or {}
        qualifier = origin.get("qualifier")
        try:
            target = self.invoker.directory.resolve(record["function"], qualifier)
        except ResourceNotFound:
            logger.warning("durable execution %s: its function is gone", record["arn"])
            return
        succeeded = record["status"] == "SUCCEEDED"
        error = record.get("error") or {}
        body = record.get("result") or "null"
        if not succeeded:
            body = json.dumps(
                {
                    "errorType": error.get("ErrorType") or f"Execution{record['status'].title()}",
                    "errorMessage": error.get("ErrorMessage") or f"execution {record['status']}",
                }
            )
        result = InvokeResult(
            request_id=str(origin.get("request_id") or record["id"]),
            payload=body.encode(),
            executed_version=record["version"],
            function_error=None if succeeded else "Unhandled",
            durable_execution_arn=record["arn"],
        )
        resource = None if (qualifier or LATEST) == LATEST else qualifier
        telemetry = self.invoker.telemetry
        config = self.invoker.directory.invoke_config(target)
        if not succeeded:
            logger.info(
                "durable execution %s ended %s: to its dead-letter queue / OnFailure destination",
                record["arn"],
                record["status"],
            )
            telemetry.signal(ASYNC_DROPPED, target.function.name, resource)
        if self.destinations is None:
            return
        payload = str(record.get("input") or "{}").encode()
        dead_letter = target.function.dead_letter
        if not succeeded and dead_letter is not None:
            message = str(error.get("ErrorMessage") or error.get("ErrorType") or record["status"])
            if not await self.destinations.dead_letter(
                dead_letter, payload, result.request_id, message
            ):
                telemetry.signal(DEAD_LETTER_ERRORS, target.function.name, resource)
        destination = None
        if config is not None:
            destination = config.on_success if succeeded else config.on_failure
        if destination is None:
            return
        sent = invocation_record(
            request_id=result.request_id,
            function_arn=f"{target.function.arn}:{record['version']}",
            condition=SUCCESS if succeeded else origin.get("condition") or RETRIES_EXHAUSTED,
            attempts=int(record.get("invocation") or 1),
            request_payload=payload,
            result=result,
        )
        sent["durableExecutionArn"] = record["arn"]
        if not await self.destinations.send_record(destination, sent, origin.get("trace_id")):
            telemetry.signal(DESTINATION_FAILURES, target.function.name, resource)
