"""ALB default action and health check: answers with the shared layer's status text."""

import json

from util import status


def handler(event, context):
    return {
        "statusCode": 200,
        "statusDescription": "200 OK",
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"status": status(), "path": event.get("path")}),
    }
