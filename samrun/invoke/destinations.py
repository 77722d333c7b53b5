"""Where asynchronous invocations end: dead-letter queues and destinations.

A dead-letter queue (SQS or SNS, `DeadLetterConfig`) gets the original event, with the
RequestID / ErrorCode / ErrorMessage attributes Lambda sets; a destination (`OnSuccess` /
`OnFailure`: SQS, SNS, EventBridge or a function) gets Lambda's invocation record. Sends are
boto3 calls off the loop, to the app's AWS endpoint; a failed send is logged and dropped, as
Lambda counts it in `DestinationDeliveryFailures` and moves on.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from samrun.aws.endpoint import AwsEndpoint
from samrun.invoke.models import InvokeResult
from samrun.model import Destination

logger = logging.getLogger(__name__)

SUCCESS, RETRIES_EXHAUSTED, EVENT_AGE_EXCEEDED = "Success", "RetriesExhausted", "EventAgeExceeded"
RECURSIVE_LOOP = "RecursiveInvocationDetected"
DETAIL_TYPES = {
    True: "Lambda Function Invocation Result - Success",
    False: "Lambda Function Invocation Result - Failure",
}
# (function ARN or name, payload, trace header) -> accepted as an asynchronous invocation
InvokeAsync = Callable[[str, bytes, str | None], Awaitable[None]]


def invocation_record(
    *,
    request_id: str,
    function_arn: str,
    condition: str,
    attempts: int,
    request_payload: bytes,
    result: InvokeResult | None,
) -> dict[str, Any]:
    """Lambda's invocation record, as its documentation shows it."""
    now = datetime.now(UTC)
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": attempts,
        },
        "requestPayload": _json(request_payload or b"{}"),
    }
    if result is not None:
        context: dict[str, Any] = {"statusCode": 200, "executedVersion": result.executed_version}
        if result.function_error:
            context["functionError"] = result.function_error
        record["responseContext"] = context
        record["responsePayload"] = _json(result.payload) if result.payload else None
    return record


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return data.decode(errors="replace")


class Destinations:
    def __init__(self, endpoint: AwsEndpoint, invoke_async: InvokeAsync) -> None:
        self.endpoint = endpoint
        self._invoke_async = invoke_async
        self._queue_urls: dict[str, str] = {}

    async def send_record(
        self, destination: Destination, record: dict[str, Any], trace_id: str | None
    ) -> bool:
        """False when the delivery failed (Lambda's DestinationDeliveryFailures)."""
        body = json.dumps(record)
        try:
            if destination.type == "lambda":
                await self._invoke_async(destination.arn, body.encode(), trace_id)
            elif destination.type == "eventbridge":
                success = record["requestContext"]["condition"] == SUCCESS
                await asyncio.to_thread(self._put_event, destination.arn, body, success, record)
            else:
                await asyncio.to_thread(self._send, destination, body, {})
        except Exception as exc:  # the endpoint's errors, whatever they are: Lambda moves on
            logger.warning("destination %s: delivery failed: %s", destination.arn, exc)
            return False
        return True

    async def dead_letter(
        self, destination: Destination, payload: bytes, request_id: str, error: str
    ) -> bool:
        """False when the send failed (Lambda's DeadLetterErrors)."""
        attributes = {
            "RequestID": {"DataType": "String", "StringValue": request_id},
            "ErrorCode": {"DataType": "Number", "StringValue": "200"},
            "ErrorMessage": {"DataType": "String", "StringValue": error[:1024] or "Unhandled"},
        }
        try:
            await asyncio.to_thread(
                self._send, destination, (payload or b"{}").decode(errors="replace"), attributes
            )
        except Exception as exc:  # as above
            logger.warning("dead-letter queue %s: delivery failed: %s", destination.arn, exc)
            return False
        return True

    def _send(self, destination: Destination, body: str, attributes: dict[str, Any]) -> None:
        if destination.type == "sqs":
            sqs = self.endpoint.client("sqs")
            url = self._queue_urls.get(destination.arn)
            if url is None:
                parts = destination.arn.split(":")
                url = sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])[
                    "QueueUrl"
                ]
                self._queue_urls[destination.arn] = url
            sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attributes)
        elif destination.type == "sns":
            self.endpoint.client("sns").publish(
                TopicArn=destination.arn, Message=body, MessageAttributes=attributes
            )
        else:
            raise ValueError(f"{destination.type} is not a destination samrun can send to")

    def _put_event(self, bus: str, body: str, success: bool, record: dict[str, Any]) -> None:
        entry = {
            "Source": "lambda",
            "DetailType": DETAIL_TYPES[success],
            "Detail": body,
            "EventBusName": bus,
            "Resources": [record["requestContext"]["functionArn"]],
        }
        response = self.endpoint.client("events").put_events(Entries=[entry])
        if response.get("FailedEntryCount"):
            raise RuntimeError(str(response.get("Entries")))
