"""What a VPC function's network is: egress or not, and the addresses mapped into it.

The template says it for its own subnets (template/vpc.py); subnets named only by id come from
`--vpc-config FILE` (schemas/vpc-config.schema.json), else they count as private, said at
startup. A function reaches the internet only when every one of its subnets does: Lambda picks
any of them for an execution environment, so one private subnet makes some cold starts hang.
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from samrun.errors import SamrunError
from samrun.model import VpcConfig

SCHEMA = Path(__file__).resolve().parent.parent.parent / "schemas" / "vpc-config.schema.json"


@dataclass(frozen=True, slots=True)
class Address:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True, kw_only=True)
class VpcSettings:
    """--vpc-config's subnets (id -> nat | none | internet-gateway) and --vpc-allow's addresses."""

    subnets: Mapping[str, str] = field(default_factory=dict)
    allow: tuple[Address, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Network:
    """One function's network: `egress` to the internet or not, and why (each subnet)."""

    egress: bool
    notes: tuple[str, ...] = ()

    def describe(self) -> str:
        return "VPC, internet through NAT" if self.egress else "VPC, no internet (private)"


def parse_address(text: str, flag: str = "--vpc-allow") -> Address:
    """HOST:PORT ([v6]:PORT too); a clear error otherwise."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SamrunError(f"{flag} {text!r}: expected HOST:PORT (e.g. 127.0.0.1:5432)")
    if not _is_host(host):  # a space, a slash...: refused now, not when the lookup fails later
        raise SamrunError(
            f"{flag} {text!r}: {host!r} is not a host name or IP address "
            "(expected HOST:PORT, e.g. 127.0.0.1:5432)"
        )
    return Address(host, int(port))


_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def _is_host(host: str) -> bool:
    """An IP address, or a DNS name (letters, digits and hyphens in dot-separated labels)."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    labels = host.removesuffix(".").split(".")
    return len(host) <= 253 and all(_LABEL.match(label) for label in labels)


def resolve_ip(host: str) -> str:
    """An IPv4 address for `host` (a name is looked up once, at startup)."""
    try:
        return str(ipaddress.IPv4Address(host))
    except ValueError:
        pass
    try:
        return socket.gethostbyname(host)
    except OSError as exc:
        raise SamrunError(f"VPC address {host}: cannot resolve it: {exc}") from None


def load_settings(path: str | None, allow: Sequence[str]) -> VpcSettings:
    """--vpc-config FILE and --vpc-allow values, checked now."""
    addresses = [parse_address(text) for text in allow]
    subnets: dict[str, str] = {}
    if path:
        document = _read(Path(path))
        subnets = {key: value["egress"] for key, value in document.get("subnets", {}).items()}
        addresses += [parse_address(text, f"{path}: allow") for text in document.get("allow", [])]
    return VpcSettings(subnets=subnets, allow=tuple(dict.fromkeys(addresses)))


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise SamrunError(f"--vpc-config {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SamrunError(f"--vpc-config {path}: not a text file (UTF-8 JSON or YAML)") from None
    try:
        document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise SamrunError(f"--vpc-config {path}: not valid JSON or YAML: {exc}") from None
    schema = json.loads(SCHEMA.read_text())
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(document), key=str)
    if errors:
        where = "/".join(map(str, errors[0].absolute_path)) or "(top)"
        raise SamrunError(
            f"--vpc-config {path}: {where}: {errors[0].message} (schemas/vpc-config.schema.json)"
        )
    return document if isinstance(document, dict) else {}


def function_network(vpc: VpcConfig, subnets: Mapping[str, str]) -> Network:
    """Egress when every subnet routes to a NAT gateway; the notes say what each one does."""
    notes = []
    egress = True
    for subnet in vpc.subnets:
        kind = subnet.egress
        note = subnet.note
        if kind is None:
            given = subnets.get(subnet.id)
            if given is None:
                kind, note = "none", "not in the template nor in --vpc-config: private"
            elif given == "internet-gateway":
                kind, note = "none", "--vpc-config: an internet gateway gives Lambda no public IP"
            else:
                kind, note = given, f"--vpc-config: {given}"
        egress = egress and kind == "nat"
        notes.append(f"subnet {subnet.id}: {note or kind}")
    return Network(egress=egress and bool(vpc.subnets), notes=tuple(notes))
