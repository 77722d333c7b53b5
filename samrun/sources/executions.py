"""State machine targets: a schedule or EventBridge rule whose target is a state machine starts
an execution on the AWS endpoint with the event as its input, as EventBridge does; the embedded
endpoint runs it, its Lambda tasks calling samrun's functions (samrun.aws.moto_child)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

logger = logging.getLogger(__name__)


def start(aws: Any, state_machine: str, payload: bytes) -> str:
    """Blocking: StartExecution of `state_machine` with `payload` as input; the execution ARN.

    The name is a UUID, as EventBridge names the executions it starts."""
    sfn = aws.client("stepfunctions")
    reply = sfn.start_execution(
        stateMachineArn=state_machine, name=str(uuid.uuid4()), input=payload.decode()
    )
    return str(reply["executionArn"])


def start_request(aws: Any, fields: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Blocking: StartExecution with the fields of an API Gateway integration's request;
    (HTTP status, body) as Step Functions answers: {"executionArn", "startDate"} (epoch seconds),
    or {"__type", "message"} with its error's status."""
    from botocore.exceptions import ClientError, ParamValidationError

    sfn = aws.client("stepfunctions")
    try:
        reply = sfn.start_execution(**fields)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400))
        return status, {"__type": error.get("Code"), "message": error.get("Message")}
    except ParamValidationError as exc:  # a field missing, unknown or of the wrong type
        return 400, {"__type": "ValidationException", "message": str(exc)}
    return 200, {"executionArn": reply["executionArn"], "startDate": reply["startDate"].timestamp()}


def describe(aws: Any, execution: str) -> dict[str, Any]:
    """Blocking: DescribeExecution (status, input, output, error, cause)."""
    reply: dict[str, Any] = aws.client("stepfunctions").describe_execution(executionArn=execution)
    return reply


async def run(aws: Any, state_machine: str, payload: bytes, poll_s: float = 0.1) -> dict[str, Any]:
    """Start an execution and wait for its end (`samrun trigger` without a running app): its
    DescribeExecution. The wait is on the loop, so Ctrl-C ends it."""
    execution = await asyncio.to_thread(start, aws, state_machine, payload)
    logger.info("started %s", execution)
    while (found := await asyncio.to_thread(describe, aws, execution))["status"] == "RUNNING":
        await asyncio.sleep(poll_s)
    return found
