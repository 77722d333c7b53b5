"""The dashboard tests' functions."""

import os


def hello(event, context):
    if isinstance(event, dict) and event.get("fail"):
        raise ValueError(f"boom: {event['fail']}")
    print("hello from", context.function_name)
    return {"greeting": os.environ.get("GREETING"), "name": (event or {}).get("name")}


def worker(event, context):
    return {"records": len((event or {}).get("Records", []))}


def flaky(event, context):
    """Fails until the file the event names exists: a dead-lettered event redriven once it does."""
    marker = event["marker"]
    if not os.path.exists(marker):
        raise RuntimeError(f"not ready: {marker} is missing")
    print("delivered", event.get("n"))
    return {"delivered": event.get("n")}
