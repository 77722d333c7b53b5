"""Dependency cycles among resources, found on the template as written (CloudFormation refuses
them; reporting them before the SAM transform keeps the location in the user's text)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from samrun.template.intrinsics import SUB_VAR


def references(value: Any) -> Iterator[tuple[str, tuple[str | int, ...]]]:
    """Every logical name `value` refers to (Ref, Fn::GetAtt, Fn::Sub), with its path."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if isinstance(item, dict):
            if len(item) == 1:
                ((key, arg),) = item.items()
                if key == "Ref" and isinstance(arg, str):
                    yield arg, path
                    continue
                if key == "Fn::GetAtt":
                    target = arg.split(".", 1)[0] if isinstance(arg, str) else None
                    if isinstance(arg, list) and arg and isinstance(arg[0], str):
                        target = arg[0]
                    if target:
                        yield target, path
                    continue
                if key == "Fn::Sub":
                    text = arg[0] if isinstance(arg, list) and arg else arg
                    local = (
                        set(arg[1])
                        if isinstance(arg, list) and len(arg) > 1 and isinstance(arg[1], dict)
                        else set()
                    )
                    if isinstance(text, str):
                        for name in SUB_VAR.findall(text):
                            if not name.startswith("!") and name.split(".")[0] not in local:
                                yield name.split(".", 1)[0], path
            stack.extend((v, (*path, k)) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((v, (*path, i)) for i, v in enumerate(item))


def find_cycle(resources: Mapping[str, Any]) -> list[tuple[str, tuple[str | int, ...]]] | None:
    """A dependency cycle among resources (Ref/GetAtt/Sub/DependsOn), as [(resource, path)]."""
    edges: dict[str, list[tuple[str, tuple[str | int, ...]]]] = {}
    for name, resource in resources.items():
        if not isinstance(resource, dict):
            continue
        targets = [
            (target, ("Properties", *path))
            for target, path in references(resource.get("Properties", {}))
            if target in resources
        ]
        depends = resource.get("DependsOn", [])
        for index, target in enumerate(depends if isinstance(depends, list) else [depends]):
            if isinstance(target, str) and target in resources:
                targets.append((target, ("DependsOn", index)))
        edges[name] = [t for t in targets if t[0] in resources]
    state: dict[str, int] = {}  # 1 visiting, 2 done
    for start in edges:
        if state.get(start):
            continue
        stack: list[tuple[str, Iterator[tuple[str, tuple[str | int, ...]]]]] = [
            (start, iter(edges[start]))
        ]
        trail: list[tuple[str, tuple[str | int, ...]]] = []
        state[start] = 1
        while stack:
            node, children = stack[-1]
            step = next(children, None)
            if step is None:
                state[node] = 2
                stack.pop()
                if trail:
                    trail.pop()
                continue
            target, path = step
            if state.get(target) == 1:
                names = [n for n, _ in stack]
                begin = names.index(target)
                return [*trail[begin:], (node, path)]
            if not state.get(target):
                state[target] = 1
                trail.append((node, path))
                stack.append((target, iter(edges.get(target, []))))
    return None
