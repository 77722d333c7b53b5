"""Echo: says how big its event was and, when the event names a file, appends its size there
(its side effect outside samrun, so a test sees an asynchronous delivery)."""

import json


def echo(event, context):
    size = len(json.dumps(event))
    if isinstance(event, dict) and isinstance(event.get("log"), str):
        with open(event["log"], "a") as f:
            f.write(f"{size}\n")
    return {"size": size, "client": getattr(context.client_context, "custom", None)}
