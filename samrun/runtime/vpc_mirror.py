"""samrun's loopback endpoints, mirrored inside a function's network namespace.

A VPC function keeps the addresses it was given (`AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT`, the
AWS endpoint, the Lambda API, the X-Ray daemon, a `--vpc-allow 127.0.0.1:5432` database): samrun
opens a socket on the same address and port *inside* the namespace (its own thread steps in
with setns and back out) and relays each connection (each datagram) to the host's. Nothing
else on the host's loopback is reachable from the namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import socket
from collections.abc import Callable

logger = logging.getLogger(__name__)

LIBC = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
CHUNK = 65536


def enter(fd: int) -> None:
    if LIBC.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


def socket_in(netns: str, kind: int, address: tuple[str, int]) -> socket.socket:
    """A socket bound to `address` inside the namespace at path `netns` (listening when TCP).
    The calling thread steps in and back out: no await, no other code runs in between."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    target = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
    try:
        enter(target)
        try:
            sock = socket.socket(socket.AF_INET, kind)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(address)
                if kind == socket.SOCK_STREAM:
                    sock.listen(128)
                sock.setblocking(False)
            except BaseException:
                sock.close()
                raise
        finally:
            enter(home)  # (cannot fail: samrun's own namespace, as root)
    finally:
        os.close(home)
        os.close(target)
    return sock


async def mirror_tcp(
    netns: str, bind: tuple[str, int], target: tuple[str, int]
) -> Callable[[], None]:
    """Relay connections to `bind` in the namespace to `target` on the host; returns a closer."""
    sock = socket_in(netns, socket.SOCK_STREAM, bind)
    server = await asyncio.start_server(lambda r, w: _relay(r, w, target), sock=sock)
    return server.close


async def _relay(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, target: tuple[str, int]
) -> None:
    try:
        up_reader, up_writer = await asyncio.open_connection(*target)
    except OSError:
        writer.close()  # the host's endpoint is gone: the caller sees the connection end
        return
    try:
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
    finally:
        writer.close()
        up_writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()  # a half-close goes through (a request body's end)
    except (OSError, RuntimeError):
        writer.close()


class _Datagrams(asyncio.DatagramProtocol):
    """The namespace side of a UDP mirror: each sender gets a host socket of its own, so
    replies (DNS) find their way back."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.transport: asyncio.DatagramTransport | None = None
        self.upstream: dict[tuple[str, int], socket.socket] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        up = self.upstream.get(addr)
        if up is None:
            if len(self.upstream) > 256:
                self.close_upstream()
            up = self.upstream[addr] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            up.setblocking(False)
            up.connect(self.target)
            asyncio.get_running_loop().add_reader(up, self._reply, up, addr)
        with contextlib.suppress(OSError):
            up.send(data)

    def _reply(self, up: socket.socket, addr: tuple[str, int]) -> None:
        with contextlib.suppress(OSError):
            data = up.recv(CHUNK)
            if self.transport is not None:
                self.transport.sendto(data, addr)

    def close_upstream(self) -> None:
        loop = asyncio.get_running_loop()
        for up in self.upstream.values():
            loop.remove_reader(up)
            up.close()
        self.upstream.clear()


async def mirror_udp(
    netns: str, bind: tuple[str, int], target: tuple[str, int]
) -> Callable[[], None]:
    sock = socket_in(netns, socket.SOCK_DGRAM, bind)
    protocol = _Datagrams(target)
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: protocol, sock=sock
    )

    def close() -> None:
        protocol.close_upstream()
        transport.close()

    return close
