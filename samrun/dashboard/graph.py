"""The app as a graph for the page: nodes and edges from the plan, each node in a layer.

Nodes are the template's resources (functions, APIs, queues, topics, buckets, streams, tables,
buses, schedules, target groups, alarms, layers); edges are what connects them (routes, event
source mappings, push sources, schedules, dead-letter queues, destinations, alarms on a
function's metrics). Layers are longest paths from the sources, so the page draws it left to
right with no layout library.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from samrun.dashboard.masking import mask_environment

MAX_LAYER = 8


class GraphBuilder:
    def __init__(self) -> None:
        self.nodes: dict[str, dict[str, Any]] = {}
        self.edges: list[dict[str, str]] = []
        self.by_ref: dict[str, str] = {}  # an ARN, name or logical id -> node id

    def node(self, node_id: str, kind: str, label: str, **fields: Any) -> str:
        if node_id not in self.nodes:
            self.nodes[node_id] = {"id": node_id, "kind": kind, "label": label, **fields}
        return node_id

    def ref(self, value: str | None, kind: str) -> str | None:
        """The node a reference names (an ARN, a name, a logical id): one made if none is."""
        if not value:
            return None
        found = self.by_ref.get(value) or self.by_ref.get(value.rsplit(":", 1)[-1])
        if found is None:
            found = self.node(f"{kind}:{value}", kind, value.rsplit(":", 1)[-1])
            self.by_ref[value] = found
        return found

    def edge(self, source: str | None, target: str | None, kind: str) -> None:
        if source and target and source != target:
            self.edges.append({"from": source, "to": target, "kind": kind})


def graph_document(
    plan: Mapping[str, Any], sdk_calls: Iterable[tuple[str, str]] = ()
) -> dict[str, Any]:
    """`plan`: samrun.plan.plan_document (NoEcho values already masked); `sdk_calls`:
    (function, resource name) of the AWS calls traces recorded (dashboard/traces.py)."""
    g = GraphBuilder()
    for r in plan.get("resources", []):
        node = g.node(
            f"res:{r['logical_id']}", r["type"], r["name"], logical_id=r["logical_id"], arn=r["arn"]
        )
        for ref in (r["arn"], r["name"], r["logical_id"]):
            g.by_ref.setdefault(ref, node)
    for layer in plan.get("layers", []):
        node = g.node(
            f"layer:{layer['arn']}", "layer", layer["name"], logical_id=layer["logical_id"]
        )
        g.by_ref.setdefault(layer["arn"], node)
    for f in plan.get("functions", []):
        node = g.node(f"fn:{f['name']}", "function", f["name"], logical_id=f["logical_id"])
        g.by_ref[f["name"]] = g.by_ref[f["arn"]] = g.by_ref[f["logical_id"]] = node
    _function_edges(g, plan)
    _source_edges(g, plan)
    for function, resource in sorted(sdk_calls):
        target = g.by_ref.get(resource)
        if target is not None:  # a resource of the app (others are outside the picture)
            g.edge(g.by_ref.get(function), target, "sdk")
    first = {n: 1 if node["kind"] == "function" else 0 for n, node in g.nodes.items()}
    layers = layer_of(first, g.edges)
    for node_id, found in g.nodes.items():
        found["layer"] = layers[node_id]
    return {"nodes": list(g.nodes.values()), "edges": g.edges}


def _function_edges(g: GraphBuilder, plan: Mapping[str, Any]) -> None:
    """Layers into functions; functions out to their dead-letter queue and destinations."""
    for f in plan.get("functions", []):
        node = f"fn:{f['name']}"
        for arn in f.get("layers", []):
            g.edge(g.by_ref.get(arn), node, "layer")
        if f.get("dead_letter"):
            g.edge(node, g.ref(f["dead_letter"]["arn"], f["dead_letter"]["type"].lower()), "dlq")
        invoke = f.get("event_invoke_config") or {}
        for key in ("on_success", "on_failure"):
            if invoke.get(key):
                destination = invoke[key]
                target = g.ref(destination["arn"], destination["type"].lower())
                g.edge(node, target, key.replace("_", "-"))


def _source_edges(g: GraphBuilder, plan: Mapping[str, Any]) -> None:
    """What invokes functions (routes, mappings, triggers, schedules, target groups), and the
    alarms on their metrics."""
    for route in plan.get("routes", []):
        api = g.node(f"api:{route['api']}", "api", route["api"], logical_id=route["api"], routes=[])
        g.nodes[api]["routes"].append(f"{route['method']} {route['path']}")
        g.edge(
            api, g.by_ref.get(route["function"]) or g.by_ref.get(route["state_machine"]), "route"
        )
    for m in plan.get("event_source_mappings", []):
        g.edge(g.ref(m["source"], m["source_type"]), g.by_ref.get(m["function"]), "mapping")
    for p in plan.get("push_sources", []):
        target = g.by_ref.get(p["function"]) or g.ref(p.get("state_machine"), "statemachine")
        g.edge(g.ref(p["source"], p["type"]), target, "trigger")
    for s in plan.get("schedules", []):
        name = s["name"] or s["expression"]
        node = g.node(f"schedule:{name}", "schedule", name, expression=s["expression"])
        g.by_ref.setdefault(name, node)
        target = g.by_ref.get(s["function"]) or g.ref(s.get("state_machine"), "statemachine")
        g.edge(node, target, "schedule")
    for group in plan.get("target_groups", []):
        node = g.node(f"alb:{group['logical_id']}", "alb", group["logical_id"])
        g.nodes[node]["logical_id"] = group["logical_id"]
        g.edge(node, g.by_ref.get(group["function"]), "target")
    for alarm in plan.get("alarms", []):
        node = g.node(f"alarm:{alarm['logical_id']}", "alarm", alarm["name"])
        g.nodes[node]["logical_id"] = alarm["logical_id"]
        function = alarm.get("dimensions", {}).get("FunctionName", "").split(":")[0]
        g.edge(g.by_ref.get(function), node, "alarm")


def layer_of(first: dict[str, int], edges: list[dict[str, str]]) -> dict[str, int]:
    """Longest path from a node with no incoming edge, capped (a loop ends at MAX_LAYER);
    `first`: each node's least layer (functions right of what invokes them)."""
    layer = dict(first)
    for _ in range(MAX_LAYER):
        moved = False
        for e in edges:
            wanted = min(MAX_LAYER, layer[e["from"]] + 1)
            if layer[e["to"]] < wanted:
                layer[e["to"]], moved = wanted, True
        if not moved:
            break
    return layer


def function_pages(plan: Mapping[str, Any], secrets: tuple[str, ...]) -> list[dict[str, Any]]:
    """Each function's page: its configuration (environment masked), versions and aliases."""
    pages = []
    for f in plan.get("functions", []):
        pages.append(
            {
                **{k: v for k, v in f.items() if k != "environment"},
                "environment": mask_environment(f.get("environment", {}), secrets),
                "versions": [v for v in plan.get("versions", []) if v["function"] == f["name"]],
                "aliases": [a for a in plan.get("aliases", []) if a["function"] == f["name"]],
            }
        )
    return pages
