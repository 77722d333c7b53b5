"""Every answer the Runtime API gives a runtime that broke the contract (RIE's rendering)."""

from __future__ import annotations

import json

from aiohttp import web

from samrun.runtime import protocol

ACCEPTED = json.dumps({"status": "OK"}).encode()


def accepted() -> web.Response:
    return web.Response(status=202, body=ACCEPTED, content_type="application/json")


def error(status: int, error_type: str, message: str) -> web.Response:
    body = json.dumps({"errorMessage": message, "errorType": error_type}).encode()
    return web.Response(status=status, body=body, content_type="application/json")


def invalid_state(message: str) -> web.Response:
    return error(403, protocol.INVALID_STATE, message)


def invalid_request_id() -> web.Response:
    return error(400, protocol.INVALID_REQUEST_ID, "Invalid request ID")


def too_large(limit: int) -> web.Response:
    return error(
        413, protocol.PAYLOAD_TOO_LARGE, f"Exceeded maximum allowed payload size ({limit})"
    )


def unknown_instance() -> web.Response:
    return error(404, "UnknownInstance", "No instance listens on this port")
