"""`.vscode/launch.json` as VS Code reads it (JSON with comments and trailing commas), edited in
place: samrun's own entries (named "samrun: ...") are replaced, everything else is kept byte for
byte, comments included. A file samrun cannot read is refused, never rewritten.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from samrun.errors import SamrunError

VERSION = "0.2.0"
_SPACE = re.compile(r"\s+")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_STRING = re.compile(r'"(?:[^"\\\x00-\x1f]|\\.)*"')
_LITERALS = {"true": True, "false": False, "null": None}


class JsoncError(ValueError):
    """Where and why a text is not JSON with comments."""


@dataclass
class Node:
    """A value and where it lies in the text: [start, end)."""

    value: Any
    start: int
    end: int
    items: list[Node] = field(default_factory=list)  # an array's elements
    members: dict[str, Node] = field(default_factory=dict)  # an object's values by key


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, why: str, at: int | None = None) -> JsoncError:
        where = self.pos if at is None else at
        line = self.text.count("\n", 0, where) + 1
        column = where - (self.text.rfind("\n", 0, where) + 1) + 1
        return JsoncError(f"line {line} column {column}: {why}")

    def skip(self) -> None:
        """Whitespace and comments (// to the end of the line, /* ... */)."""
        while self.pos < len(self.text):
            if match := _SPACE.match(self.text, self.pos):
                self.pos = match.end()
            elif self.text.startswith("//", self.pos):
                end = self.text.find("\n", self.pos)
                self.pos = len(self.text) if end < 0 else end
            elif self.text.startswith("/*", self.pos):
                end = self.text.find("*/", self.pos + 2)
                if end < 0:
                    raise self.fail("unterminated comment")
                self.pos = end + 2
            else:
                return

    def peek(self) -> str:
        self.skip()
        return self.text[self.pos : self.pos + 1]

    def value(self) -> Node:
        char = self.peek()
        start = self.pos
        if char == "{":
            return self.container("}", start)
        if char == "[":
            return self.container("]", start)
        for pattern in (_STRING, _NUMBER):
            if match := pattern.match(self.text, self.pos):
                self.pos = match.end()
                return Node(json.loads(match.group()), start, self.pos)
        for word, literal in _LITERALS.items():
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return Node(literal, start, self.pos)
        raise self.fail("expected a value" if char else "unexpected end of file")

    def container(self, close: str, start: int) -> Node:
        node = Node({} if close == "}" else [], start, start)
        self.pos += 1
        while self.peek() != close:
            if close == "}":
                key_at = self.pos
                key = self.value()
                if not isinstance(key.value, str) or key.start != key_at:
                    raise self.fail("expected a key in double quotes", key_at)
                if self.peek() != ":":
                    raise self.fail("expected ':'")
                self.pos += 1
                item = self.value()
                node.value[key.value] = item.value
                node.members[key.value] = item
            else:
                item = self.value()
                node.value.append(item.value)
                node.items.append(item)
            if self.peek() == ",":
                self.pos += 1  # a trailing comma before the close is allowed, as VS Code does
            elif self.peek() != close:
                raise self.fail(f"expected ',' or '{close}'")
        self.pos += 1
        node.end = self.pos
        return node


def parse(text: str) -> Node:
    """The document's top value, with positions; JsoncError names the line and column."""
    parser = _Parser(text)
    node = parser.value()
    if parser.peek():
        raise parser.fail("text after the document")
    return node


def merge(text: str | None, entries: Sequence[dict[str, Any]], ours: Callable[[Any], bool]) -> str:
    """`text` (None: no file yet) with the configurations `ours` accepts replaced by `entries`.
    Raises SamrunError when the text is not a launch.json samrun can edit safely."""
    if text is None or not text.strip():
        return json.dumps({"version": VERSION, "configurations": list(entries)}, indent=4) + "\n"
    try:
        document = parse(text)
    except JsoncError as exc:
        raise SamrunError(f"not valid JSON with comments ({exc})") from None
    if not isinstance(document.value, dict):
        raise SamrunError("expected an object at the top")
    found = document.members.get("configurations")
    if found is None:
        indent = _indent_of(text, document, "    ")
        block = _render(entries, indent + "    ", indent)
        comma = "," if document.members else ""
        insert = f'\n{indent}"configurations": [{block}]{comma}'
        return text[: document.start + 1] + insert + text[document.start + 1 :]
    if not isinstance(found.value, list):
        raise SamrunError('"configurations" is not a list')
    text = _without(text, found, ours)
    found = parse(text).members["configurations"]  # positions after the removals
    indent = _indent_of(text, found, "        ")
    kept = found.items
    if not entries:
        return text
    if kept:
        last = kept[-1]
        after = _skip_to_comma(text, last.end)
        head = text[:after] if after is not None else text[: last.end] + ","
        rest = text[after:] if after is not None else text[last.end :]
        return head + _render(entries, indent, None) + rest
    inside = text[found.start + 1 : found.end - 1]
    if inside.strip():  # comments only: kept, after the entries
        return text[: found.start + 1] + _render(entries, indent, None) + text[found.start + 1 :]
    closing = _line_indent(text, found.start)
    return text[: found.start + 1] + _render(entries, indent, closing) + text[found.end - 1 :]


def _without(text: str, array: Node, ours: Callable[[Any], bool]) -> str:
    """`text` without the array's elements `ours` accepts (each with its comma)."""
    spans: list[tuple[int, int]] = []
    items = array.items
    for i, item in enumerate(items):
        if not ours(item.value):
            continue
        comma = _skip_to_comma(text, item.end)
        if comma is not None:  # the element, its comma, and the line it leaves empty
            start = _line_start_if_blank_before(text, item.start)
            end = _line_end_if_blank_after(text, comma)
            spans.append((start, end))
        else:  # the last one: take the comma before it instead (if any kept element precedes)
            before = items[i - 1] if i else None
            start = before.end if before is not None and not ours(before.value) else item.start
            spans.append((start, item.end))
    for start, end in sorted(spans, reverse=True):
        text = text[:start] + text[end:]
    return text


def _skip_to_comma(text: str, pos: int) -> int | None:
    """The position just after the comma that follows `pos` (comments allowed between)."""
    parser = _Parser(text)
    parser.pos = pos
    if parser.peek() == ",":
        return parser.pos + 1
    return None


def _line_start_if_blank_before(text: str, pos: int) -> int:
    start = text.rfind("\n", 0, pos) + 1
    return start if not text[start:pos].strip() else pos


def _line_end_if_blank_after(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    end = len(text) if end < 0 else end
    return end + 1 if not text[pos:end].strip() and end < len(text) else pos


def _line_indent(text: str, pos: int) -> str:
    start = text.rfind("\n", 0, pos) + 1
    line = text[start:pos]
    return line[: len(line) - len(line.lstrip(" \t"))]


def _indent_of(text: str, container: Node, default: str) -> str:
    """The indentation of a container's first element, or `default`."""
    first = container.items[0] if container.items else next(iter(container.members.values()), None)
    if first is None:
        return default
    start = text.rfind("\n", 0, first.start) + 1
    prefix = text[start : first.start]
    if container.members:  # an object: the key precedes the value on that line
        prefix = prefix[: len(prefix) - len(prefix.lstrip(" \t"))]
    return prefix if not prefix.strip() else default


def _render(entries: Sequence[dict[str, Any]], indent: str, closing: str | None) -> str:
    """Entries as lines at `indent`, comma-separated; `closing`: the indent of the `]` after."""
    blocks = [
        "\n".join(indent + line for line in json.dumps(entry, indent=4).splitlines())
        for entry in entries
    ]
    body = "\n" + ",\n".join(blocks)
    return body + (f"\n{closing}" if closing is not None else "")
