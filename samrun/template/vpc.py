"""A function's VpcConfig, and whether its subnets reach the internet, read from the template.

A subnet reaches the internet only through a `0.0.0.0/0` route of its route table
(`AWS::EC2::SubnetRouteTableAssociation`) to a public NAT gateway that itself sits in a subnet
routed to an internet gateway. A route straight to an internet gateway is not enough: Lambda's
network interfaces get no public IP, so a function in a "public" subnet has no internet either.
Subnets the template does not define (parameters, literal ids) are left for --vpc-config.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from samrun.model import VpcConfig, VpcSubnet, is_unresolved
from samrun.template.context import BuildContext
from samrun.template.intrinsics import as_text

DEFAULT_ROUTE = "0.0.0.0/0"


def vpc_config(ctx: BuildContext, lid: str, props: Mapping[str, Any]) -> VpcConfig | None:
    """The function's VpcConfig; None without one or with no subnets (Lambda: not in a VPC)."""
    raw = props.get("VpcConfig")
    if not isinstance(raw, dict):
        return None
    subnets = [
        _subnet(ctx, item, lid) for item in _items(ctx, raw.get("SubnetIds"), lid, "SubnetIds")
    ]
    if not subnets:
        return None
    groups = _items(ctx, raw.get("SecurityGroupIds"), lid, "SecurityGroupIds")
    return VpcConfig(
        subnets=tuple(subnets),
        security_group_ids=tuple(_name(ctx, g) or as_text(g) for g in groups),
    )


def _items(ctx: BuildContext, value: Any, lid: str, name: str) -> list[Any]:
    """The list's items, raw where they name a template resource, else resolved."""
    if value is None:
        return []
    if isinstance(value, list):
        return [
            item if _name(ctx, item) else ctx.resolve(item, lid, "VpcConfig", name)
            for item in value
        ]
    resolved = ctx.resolve(value, lid, "VpcConfig", name)  # a List<AWS::EC2::Subnet::Id> parameter
    if isinstance(resolved, str):
        return [part.strip() for part in resolved.split(",") if part.strip()]
    return list(resolved) if isinstance(resolved, list) else []


def _name(ctx: BuildContext, value: Any) -> str | None:
    """The logical id `value` refers to (Ref, Fn::GetAtt), when it is a resource here."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        target = arg if key == "Ref" else arg[0] if key == "Fn::GetAtt" and arg else None
        if isinstance(target, str) and target.split(".")[0] in ctx.resources:
            return target.split(".")[0]
    return None


def _subnet(ctx: BuildContext, item: Any, lid: str) -> VpcSubnet:
    name = _name(ctx, item)
    if name is None:
        text = as_text(item)
        if is_unresolved(item) or not text:
            return VpcSubnet(id=str(item), note="unresolved: private")
        return VpcSubnet(id=text)  # a parameter's value or a literal id: --vpc-config tells
    if ctx.resources[name].get("Type") != "AWS::EC2::Subnet":
        return VpcSubnet(id=name, egress="none", note="not an AWS::EC2::Subnet: private")
    egress, note = subnet_egress(ctx, name)
    return VpcSubnet(id=name, egress=egress, note=note)


def subnet_egress(ctx: BuildContext, subnet: str) -> tuple[str, str]:
    """(`nat` | `none`, why) for the template's subnet `subnet`."""
    table = _route_table(ctx, subnet)
    if table is None:
        return "none", "no route table association (the VPC's main table: local routes only)"
    target = _default_route(ctx, table)
    if target is None:
        return "none", f"route table {table} has no {DEFAULT_ROUTE} route"
    kind, gateway = target
    if kind == "igw":
        return "none", (
            f"{DEFAULT_ROUTE} goes to internet gateway {gateway}, but Lambda's network "
            "interfaces get no public IP: no internet without a NAT gateway"
        )
    if kind != "nat":
        return "none", f"{DEFAULT_ROUTE} goes to {gateway}, not a NAT gateway"
    return _nat_egress(ctx, gateway)


def _nat_egress(ctx: BuildContext, gateway: str) -> tuple[str, str]:
    """A NAT gateway reaches the internet when public and in a subnet routed to an IGW."""
    resource = ctx.resources.get(gateway)
    if resource is None:  # a literal nat-... id: believed
        return "nat", f"{DEFAULT_ROUTE} to NAT gateway {gateway}"
    props = resource.get("Properties") or {}
    if str(props.get("ConnectivityType", "public")).lower() == "private":
        return "none", f"NAT gateway {gateway} is private (no internet)"
    home = _name(ctx, props.get("SubnetId"))
    if home is not None and home in ctx.resources:
        table = _route_table(ctx, home)
        route = _default_route(ctx, table) if table else None
        if route is None or route[0] != "igw":
            return "none", (
                f"NAT gateway {gateway} sits in subnet {home}, which has no {DEFAULT_ROUTE} "
                "route to an internet gateway"
            )
    return "nat", f"{DEFAULT_ROUTE} to NAT gateway {gateway}"


def _route_table(ctx: BuildContext, subnet: str) -> str | None:
    for _, props in ctx.of_type("AWS::EC2::SubnetRouteTableAssociation"):
        if _name(ctx, props.get("SubnetId")) == subnet:
            return _name(ctx, props.get("RouteTableId")) or as_text(props.get("RouteTableId"))
    return None


def _default_route(ctx: BuildContext, table: str) -> tuple[str, str] | None:
    """(`nat` | `igw` | `other`, the gateway) of `table`'s default route."""
    for _, props in ctx.of_type("AWS::EC2::Route"):
        if _name(ctx, props.get("RouteTableId")) != table:
            continue
        if as_text(props.get("DestinationCidrBlock", "")) != DEFAULT_ROUTE:
            continue
        if "NatGatewayId" in props:
            return "nat", _gateway(ctx, props["NatGatewayId"])
        if "GatewayId" in props:
            gateway = _gateway(ctx, props["GatewayId"])
            resource = ctx.resources.get(gateway)
            igw = (
                resource.get("Type") == "AWS::EC2::InternetGateway"
                if resource
                else gateway.startswith("igw-")
            )
            return ("igw" if igw else "other"), gateway
        return "other", next((k for k in props if k.endswith("Id") and k != "RouteTableId"), "?")
    return None


def _gateway(ctx: BuildContext, value: Any) -> str:
    return _name(ctx, value) or as_text(value)
