"""Reading Lambda API requests: the function named in the path, and JSON bodies."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from samrun.errors import InvalidParameterValue, InvalidRequestContent


def name_of(request: web.Request) -> str:
    return unquote(request.match_info["name"])


async def json_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        raise InvalidRequestContent("Could not parse request body into json") from None
    if not isinstance(value, dict):
        raise InvalidRequestContent("The request body must be a JSON object")
    return value


def optional_text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    return None if value is None else str(value)


def whole_number(body: dict[str, Any], key: str) -> int:
    value = body.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidParameterValue(f"{key} must be a whole number")
    return value
