"""Which blocked addresses a private VPC function tried: one line each, as it happens.

The kernel drops the packets (nftables, runtime/vpc.py), so the connection hangs as in a VPC
without NAT. samrun sees the attempt on the host end of the function's veth with a packet socket
that a small BPF program limits to TCP SYNs and UDP datagrams, the only packets that start one.
"""

from __future__ import annotations

import asyncio
import ctypes
import socket
import struct
from collections.abc import Callable

ETH_P_IP = 0x0800
SO_ATTACH_FILTER = 26
PACKET_OUTGOING = 4
# offsets from the IPv4 header (a SOCK_DGRAM packet socket starts there)
BPF_PROGRAM = (
    (0x30, 0, 0, 9),  # ldb [9]: protocol
    (0x15, 5, 0, 17),  # udp: accept
    (0x15, 0, 5, 6),  # not tcp: drop
    (0xB1, 0, 0, 0),  # ldxb 4*([0]&0xf): the IP header's length
    (0x50, 0, 0, 13),  # ldb [x+13]: TCP flags
    (0x54, 0, 0, 0x12),  # and SYN|ACK
    (0x15, 0, 1, 0x02),  # SYN alone: accept, else drop
    (0x06, 0, 0, 0x40000),  # accept
    (0x06, 0, 0, 0),  # drop
)


def _attach_filter(sock: socket.socket) -> None:
    program = (ctypes.c_ubyte * (8 * len(BPF_PROGRAM)))()
    for index, (code, jt, jf, k) in enumerate(BPF_PROGRAM):
        struct.pack_into("HBBI", program, 8 * index, code, jt, jf, k)
    fprog = struct.pack("HL", len(BPF_PROGRAM), ctypes.addressof(program))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


class BlockedWatch:
    """Reports each blocked (address, port) a function tries, once."""

    def __init__(
        self,
        interface: str,
        allowed: Callable[[str, int, str], bool],
        report: Callable[[str, int, str], None],
    ) -> None:
        self._allowed = allowed
        self._report = report
        self._seen: set[tuple[str, int, str]] = set()
        sock = self._sock = socket.socket(
            socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP)
        )
        try:
            _attach_filter(sock)
            sock.bind((interface, ETH_P_IP))
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        self._interface = interface
        asyncio.get_running_loop().add_reader(sock, self._read)

    def _read(self) -> None:
        while True:
            try:
                packet, where = self._sock.recvfrom(128)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self.close()
                return
            if where[0] != self._interface or where[2] == PACKET_OUTGOING or len(packet) < 24:
                continue
            header = (packet[0] & 0x0F) * 4
            proto = "udp" if packet[9] == 17 else "tcp"
            if len(packet) < header + 4:
                continue
            address = socket.inet_ntoa(packet[16:20])
            port = struct.unpack_from("!H", packet, header + 2)[0]
            key = (address, port, proto)
            if key in self._seen or self._allowed(*key):
                continue
            self._seen.add(key)
            self._report(*key)

    @property
    def blocked(self) -> list[str]:
        """Each blocked address tried so far, `proto:ip:port`."""
        return [f"{proto}:{ip}:{port}" for ip, port, proto in sorted(self._seen)]

    def close(self) -> None:
        if self._sock.fileno() >= 0:
            asyncio.get_running_loop().remove_reader(self._sock)
            self._sock.close()
