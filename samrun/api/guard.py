"""Who may call the Lambda API and samrun's own endpoints (`/_samrun/...`): not a web page.

A page open in the user's browser can send requests to 127.0.0.1 (a text/plain POST needs no
CORS preflight), and through DNS rebinding can even read the answers: its own domain name then
points at 127.0.0.1, so only the `Host` header gives it away. So requests whose `Host` is not an
address samrun answers on, and cross-origin browser requests (a foreign `Origin`, or
`Sec-Fetch-Site: cross-site`), are refused with 403 in Lambda's error shape, unless
`--allow-origin` names the origin (`*`: any origin and any Host). boto3, the AWS CLI and curl
send neither Origin nor Sec-Fetch-Site, and the Host of the URL they were given.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Middleware

from samrun.errors import ForbiddenRequest

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]", "host.docker.internal")
WILDCARDS = ("0.0.0.0", "::", "")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def split_host(host: str) -> tuple[str, int | None]:
    """`Host` as (lower-case name, port): port 80 when absent, None when malformed."""
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]") + 1
        name, rest = host[:end], host[end:] if end else ""
    else:
        name, sep, port = host.partition(":")
        rest = sep + port
    if not name:
        return "", None
    if not rest:
        return name, 80
    return (name, int(rest[1:])) if rest[1:].isdigit() and rest[0] == ":" else (name, None)


@dataclass(frozen=True, slots=True)
class RequestGuard:
    hosts: frozenset[str]  # host names allowed in `Host`, lower case, IPv6 in brackets
    port: int
    any_ip: bool  # bound to every address: any IP literal is one of this machine's
    origins: frozenset[str]  # allowed `Origin` values
    allow_all: bool

    @classmethod
    def of(
        cls,
        host: str,
        port: int,
        allow_origins: Collection[str] = (),
        also: Collection[str] = (),
    ) -> RequestGuard:
        """`also`: more names samrun is reached by (--container-host, for containers)."""
        names = {name.lower() for name in (*LOOPBACK_NAMES, *also)}
        any_ip = host in WILDCARDS
        if any_ip:
            names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
        else:
            names.add(f"[{host}]" if ":" in host else host.lower())
        own = {f"http://{name}:{port}" for name in names}
        return cls(
            hosts=frozenset(names),
            port=port,
            any_ip=any_ip,
            origins=frozenset(own | {o.rstrip("/").lower() for o in allow_origins}),
            allow_all="*" in allow_origins,
        )

    def host_allowed(self, host: str | None) -> bool:
        name, port = split_host(host or "")
        return port == self.port and (name in self.hosts or (self.any_ip and _is_ip(name)))

    def refusal(self, request: web.Request) -> str | None:
        """Why `request` is refused, or None."""
        if self.allow_all:
            return None
        if not self.host_allowed(request.headers.get("Host")):
            host = (request.headers.get("Host") or "")[:100]
            return (
                f"Host {host!r} is not an address samrun listens on (a DNS rebinding attempt?); "
                "use http://127.0.0.1:PORT, or start samrun with --allow-origin '*'"
            )
        origin = request.headers.get("Origin")
        if origin is not None and origin.rstrip("/").lower() not in self.origins:
            return (
                f"cross-origin request from {origin[:100]!r} refused; "
                f"start samrun with --allow-origin {origin[:100]} to allow it"
            )
        if origin is None and request.headers.get("Sec-Fetch-Site") == "cross-site":
            return (
                "cross-site browser request refused; start samrun with --allow-origin to allow it"
            )
        return None

    def middleware(self) -> Middleware:
        @web.middleware
        async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
            reason = self.refusal(request)
            if reason is not None:
                raise ForbiddenRequest(reason)
            return await handler(request)

        return guard
