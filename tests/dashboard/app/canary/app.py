"""The canary's function: the browser test rewrites REVISION in its copy of the app to deploy."""

REVISION = "one"


def handler(event, context):
    return {"revision": REVISION}
