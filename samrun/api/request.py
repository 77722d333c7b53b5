"""Reading Lambda API requests: the function named in the path, and JSON bodies."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from samrun.errors import InvalidParameterValue, InvalidRequestContent, ValidationError

WHOLE = re.compile(r"^-?\d{1,9}$")


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


def list_window(request: web.Request, max_items: int, page_size: int) -> tuple[int, int]:
    """(first index, how many) of a List operation: `MaxItems` must be 1..`max_items` (as the
    API model says), `Marker` one of the NextMarkers samrun gave out."""
    text = request.query.get("MaxItems")
    if text is not None and not (WHOLE.match(text) and 1 <= int(text) <= max_items):
        raise ValidationError(
            f"1 validation error detected: Value '{text[:40]}' at 'maxItems' failed to "
            f"satisfy constraint: Member must have value between 1 and {max_items}"
        )
    marker = request.query.get("Marker", "0")
    if not (WHOLE.match(marker) and int(marker) >= 0):
        raise InvalidParameterValue(f"Invalid Marker: {marker[:40]}")
    return int(marker), min(int(text) if text else page_size, page_size)
