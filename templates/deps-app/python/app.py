"""Formats a byte count for people, with the `humanize` package from requirements.txt."""

import json

import humanize


def handler(event, context):
    raw = (event.get("pathParameters") or {}).get("bytes") or event.get("bytes") or "0"
    size = humanize.naturalsize(int(raw))
    return {"statusCode": 200, "body": json.dumps({"bytes": int(raw), "size": size})}
