"""State machine targets: a schedule or EventBridge rule whose target is a state machine starts
an execution on the AWS endpoint with the event as its input, as EventBridge does; the embedded
endpoint runs it, its Lambda tasks calling samrun's functions (samrun.aws.moto_child)."""

from __future__ import annotations

import uuid
from typing import Any


def start(aws: Any, state_machine: str, payload: bytes) -> str:
    """Blocking: StartExecution of `state_machine` with `payload` as input; the execution ARN.

    The name is a UUID, as EventBridge names the executions it starts."""
    sfn = aws.client("stepfunctions")
    reply = sfn.start_execution(
        stateMachineArn=state_machine, name=str(uuid.uuid4()), input=payload.decode()
    )
    return str(reply["executionArn"])
