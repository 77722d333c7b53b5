"""API Gateway mapping templates (Velocity, VTL) for non-proxy integrations, rendered with
airspeed (a maintained Velocity engine for Python, the one LocalStack uses for this).

The variables are API Gateway's "mapping template and access logging variable reference":
`$input` (body, json(path), path(path), params()), `$util` (escapeJavaScript, parseJson,
urlEncode/urlDecode, base64Encode/base64Decode), `$context` and `$stageVariables`.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote_plus, unquote_plus

import airspeed
from jsonpath_ng import parse as jsonpath  # type: ignore[attr-defined]

from samrun.frontdoors.messages import HttpRequest
from samrun.frontdoors.routes import RouteMatch


class MappingError(Exception):
    """A template that does not render; API Gateway answers 500."""


def escape_javascript(text: Any) -> str:
    """Java's StringEscapeUtils.escapeJavaScript, as API Gateway's `$util.escapeJavaScript`:
    quotes (single ones too), backslash and slash escaped, control and non-ASCII as \\uXXXX."""
    out = []
    for char in str(text):
        code = ord(char)
        if char in "\"'\\/":
            out.append("\\" + char)
        elif char in _SHORT:
            out.append(_SHORT[char])
        elif code < 32 or code > 0x7E:
            out.append(_java_unicode(char))
        else:
            out.append(char)
    return "".join(out)


_SHORT = {"\b": "\\b", "\n": "\\n", "\t": "\\t", "\f": "\\f", "\r": "\\r"}


def _java_unicode(char: str) -> str:
    data = char.encode("utf-16-be")  # astral characters as two UTF-16 units, as in Java
    return "".join(f"\\u{int.from_bytes(data[i : i + 2]):04X}" for i in range(0, len(data), 2))


class _Input:
    """`$input`: the request body and parameters."""

    def __init__(self, request: HttpRequest, match: RouteMatch) -> None:
        self.body = request.body.decode(errors="replace")
        self._request = request
        self._match = match

    def _document(self) -> Any:
        if not self.body.strip():
            return {}  # an empty body reads as an empty object
        return json.loads(self.body)

    def path(self, expression: str) -> Any:
        try:
            found = [m.value for m in jsonpath(expression).find(self._document())]
        except Exception as exc:  # json's ValueError, jsonpath_ng's own exception types
            raise MappingError(f"$input.path({expression!r}): {exc}") from None
        return found[0] if len(found) == 1 else (found or None)

    def json(self, expression: str) -> str:
        try:
            document = self._document()
        except ValueError:
            return self.body  # not JSON: the text as it came (the service judges it)
        if expression.strip() == "$":
            return json.dumps(document, separators=(",", ":"), ensure_ascii=False)
        return json.dumps(self.path(expression), separators=(",", ":"), ensure_ascii=False)

    def params(self, name: str | None = None) -> Any:
        groups = {
            "path": dict(self._match.path_params),
            "querystring": dict(self._request.query_pairs()),
            "header": {k: v for k, v in self._request.headers},
        }
        if name is None:
            return groups
        for group in groups.values():
            if name in group:
                return group[name]
        header = self._request.header(name)
        return header if header is not None else ""


class _Util:
    """`$util`."""

    def escapeJavaScript(self, text: Any) -> str:  # VTL names
        return escape_javascript(text)

    def parseJson(self, text: str) -> Any:
        return json.loads(text)

    def urlEncode(self, text: str) -> str:
        return quote_plus(str(text))

    def urlDecode(self, text: str) -> str:
        return unquote_plus(str(text))

    def base64Encode(self, text: str) -> str:
        return base64.b64encode(str(text).encode()).decode()

    def base64Decode(self, text: str) -> str:
        return base64.b64decode(str(text)).decode(errors="replace")


def render(
    template: str, request: HttpRequest, match: RouteMatch, *, account_id: str, api_id: str
) -> str:
    """The template rendered for this request (raises MappingError)."""
    route = match.route
    context = {
        "accountId": account_id,
        "apiId": api_id,
        "httpMethod": request.method,
        "path": f"/{route.stage}{match.path}",
        "protocol": request.protocol,
        "requestId": request.request_id,
        "requestTimeEpoch": request.received_ms,
        "resourcePath": route.path,
        "stage": route.stage,
        "identity": {"sourceIp": request.source_ip, "userAgent": request.header("user-agent")},
    }
    variables = {
        "input": _Input(request, match),
        "util": _Util(),
        "context": context,
        "stageVariables": dict(route.details.get("stage_variables") or {}),
    }
    try:
        return str(airspeed.Template(template).merge(variables))
    except MappingError:
        raise
    except Exception as exc:  # airspeed's TemplateSyntaxError / TemplateExecutionError
        raise MappingError(str(exc)) from None
