"""Durable workflows for samrun's tests, written as the SDK's documentation shows them."""

from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration


@durable_execution
def hello(event, context: DurableContext):
    name = event.get("name", "world") if isinstance(event, dict) else "world"
    if isinstance(event, dict) and isinstance(event.get("body"), str):  # through an API route
        name = "route"
    greeting = context.step(lambda _: f"hello {name}", name="greet")
    shout = context.step(lambda _: greeting.upper(), name="shout")
    return {"greeting": greeting, "shout": shout}


@durable_execution
def waiter(event, context: DurableContext):
    before = context.step(lambda _: "before", name="before")
    context.wait(Duration.from_seconds(int(event.get("seconds", 10))), name="pause")
    after = context.step(lambda _: "after", name="after")
    return [before, after]


@durable_execution
def fanout(event, context: DurableContext):
    squares = context.map([1, 2, 3], lambda ctx, item, index, items: item * item, name="squares")
    pair = context.parallel([lambda ctx: "left", lambda ctx: "right"], name="pair")
    return {"map": squares.get_results(), "parallel": pair.get_results()}


@durable_execution
def approval(event, context: DurableContext):
    answer = context.wait_for_callback(lambda callback_id, ctx: None, name="approve")
    return {"approved": answer}


@durable_execution
def slow(event, context: DurableContext):
    context.wait(Duration.from_seconds(3600), name="forever")
    return "never"


def plain(event, context):
    return {"plain": event}


@durable_execution
def flaky(event, context: DurableContext):
    from aws_durable_execution_sdk_python.config import StepConfig
    from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy

    strategy = create_retry_strategy(
        RetryStrategyConfig(max_attempts=2, initial_delay=Duration.from_seconds(10))
    )

    def fail(_):
        raise ValueError("always")

    context.step(fail, name="fragile", config=StepConfig(retry_strategy=strategy))
    return "unreachable"


@durable_execution
def chain(event, context: DurableContext):
    plain = context.invoke("Plain", {"from": "chain"}, name="call-plain")
    durable = context.invoke("Hello", {"name": "chained"}, name="call-hello")
    return {"plain": plain, "durable": durable}


def doomed(event, context):
    """A durable function whose every invocation fails before the SDK runs: its `Event` start
    is retried as its EventInvokeConfig says, then ends in its DLQ and OnFailure destination."""
    raise RuntimeError("cannot start")


@durable_execution
def branch_waits(event, context: DurableContext):
    """Every branch waits: they all suspend, so the execution suspends and samrun's scaled timer
    resumes it (an SDK in-process branch timer would wait the unscaled seconds)."""
    seconds = int(event.get("seconds", 10))

    def branch(ctx, item, index, items):
        ctx.wait(Duration.from_seconds(seconds), name=f"nap-{item}")
        return item * 10

    return context.map([1, 2], branch, name="naps").get_results()
