"""The checks file of `samrun smoke --checks FILE`: YAML, validated against
schemas/smoke-checks.schema.json; every problem located as file:line:col.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from samrun.errors import Location, TemplateError

SCHEMA = Path(__file__).resolve().parent.parent.parent / "schemas" / "smoke-checks.schema.json"
DEFAULT_WITHIN_S = 10.0
RULE = "smoke-checks"


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    name: str
    kind: str  # invoke | http | send
    action: Mapping[str, Any]
    expect: Mapping[str, Any] = field(default_factory=dict)
    within_s: float = DEFAULT_WITHIN_S
    event: bytes | None = None  # invoke: the event, read from the file when it names one


def schema() -> dict[str, Any]:
    found: dict[str, Any] = json.loads(SCHEMA.read_text())
    return found


def load_checks(path: Path) -> list[Check]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise TemplateError(
            f"cannot read the checks file: {exc.strerror}", Location(str(path), 1, 1), RULE
        ) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = (
            Location(str(path), mark.line + 1, mark.column + 1)
            if mark
            else Location(str(path), 1, 1)
        )
        raise TemplateError(
            f"not valid YAML: {getattr(exc, 'problem', exc)}", where, RULE
        ) from None
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        error = jsonschema.exceptions.best_match(errors)
        assert error is not None
        where = locate(path, node, list(error.absolute_path))
        at = "/".join(map(str, error.absolute_path)) or "(top)"
        raise TemplateError(f"{at}: {error.message}", where, RULE)
    within = float(data.get("within", DEFAULT_WITHIN_S))
    checks = []
    for index, raw in enumerate(data["checks"]):
        kind = next(k for k in ("invoke", "http", "send") if k in raw)
        expect = raw.get("expect") or {}
        checks.append(
            Check(
                name=str(raw.get("name") or default_name(kind, raw[kind])),
                kind=kind,
                action=raw[kind],
                expect=expect,
                within_s=float(expect.get("within", within)),
                event=_event(path, node, index, raw[kind]) if kind == "invoke" else None,
            )
        )
    return checks


def _event(path: Path, node: yaml.Node | None, index: int, action: Mapping[str, Any]) -> bytes:
    if "event_file" in action:
        file = (path.parent / str(action["event_file"])).resolve()
        try:
            text = file.read_bytes()
            json.loads(text)
        except (OSError, ValueError) as exc:
            where = locate(path, node, ["checks", index, "invoke", "event_file"])
            raise TemplateError(f"event file {file}: {exc}", where, RULE) from None
        return text
    return json.dumps(action.get("event", {})).encode()


def default_name(kind: str, action: Mapping[str, Any]) -> str:
    if kind == "invoke":
        return f"invoke {action['function']}"
    if kind == "http":
        return f"{str(action.get('method', 'GET')).upper()} {action['path']}"
    for key, label in (("queue", "queue"), ("bucket", "bucket"), ("topic", "topic")):
        if key in action:
            return f"send to {label} {action[key]}"
    return f"put event {action.get('detail_type')} on {action.get('event_bus')}"


def locate(path: Path, node: yaml.Node | None, where: Sequence[Any]) -> Location:
    """The position of the value at `where` in the YAML document, as near as it exists."""
    found = node
    for step in where:
        if isinstance(found, yaml.MappingNode):
            found = next((v for k, v in found.value if k.value == step), found)
        elif (
            isinstance(found, yaml.SequenceNode)
            and isinstance(step, int)
            and step < len(found.value)
        ):
            found = found.value[step]
        else:
            break
    mark = found.start_mark if found is not None else None
    return (
        Location(str(path), mark.line + 1, mark.column + 1) if mark else Location(str(path), 1, 1)
    )
