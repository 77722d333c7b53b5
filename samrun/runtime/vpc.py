"""VPC functions on the process backend: a network namespace each, as Lambda's VPC would be.

At startup (as root), each function with VpcConfig gets a named namespace
(`samrun-vpc-PID-N`), a veth pair (host end `svPID-N`, a /30 of 169.254.200.0/21: link-local,
so nothing leaves the machine by it) and a default route to the host end. Its instances join the
namespace between fork and exec (runtime/isolation.py): a cold start pays one setns, the
namespace itself is made once. Inside, samrun's endpoints and the loopback `--vpc-allow`
addresses answer on their usual addresses (runtime/vpc_mirror.py). On the host end, an nftables
table `samrun_vpc_PID` accepts what is allowed: other `--vpc-allow` addresses and the host's
DNS servers for a private function, everything (masqueraded) for one with a NAT route; the rest
is dropped, so it hangs as in a VPC without NAT, and samrun names each address tried
(runtime/vpc_watch.py).

`close` removes all of it; after a `kill -9` the next start removes what a dead samrun left
(namespaces, the veths go with them, tables, iptables rules), whatever its state folder. A
samrun is known by its pid, and pids come back (pid_max may be 32768): what carries this
samrun's own pid, or a pid whose process is not the one that wrote `/run/samrun-vpc/PID` (its
start time, in clock ticks since boot), is a dead samrun's too. Samruns starting at once take
turns (a lock file in /run): one removes the leftovers, each picks its addresses from what the
others already hold.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import fcntl
import ipaddress
import logging
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from samrun.errors import SamrunError
from samrun.model import Function, PackageType
from samrun.runtime.vpc_config import Address, Network, VpcSettings, function_network, resolve_ip
from samrun.runtime.vpc_mirror import mirror_tcp, mirror_udp
from samrun.runtime.vpc_watch import BlockedWatch

logger = logging.getLogger(__name__)

POOL = ipaddress.IPv4Network("169.254.200.0/21")
NETNS_DIR = "/run/netns"
PREFIX = "samrun-vpc"
TABLE = "samrun_vpc"
COMMENT = "samrun-vpc"
OURS = re.compile(rf"^{PREFIX}-(\d+)-\d+$")
VETH = re.compile(r"^\d+: (sv(\d+)-\d+)@", re.MULTILINE)
LOCK = "/run/samrun-vpc.lock"
REGISTRY = "/run/samrun-vpc"  # a file per samrun with namespaces: PID, holding its start time
LOCK_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A samrun endpoint a VPC function must reach: `udp` for the X-Ray daemon."""

    address: Address
    proto: str = "tcp"


@dataclass
class Namespace:
    function: str
    name: str
    veth: str
    host_ip: str
    ns_ip: str
    network: Network
    closers: list[Callable[[], None]] = field(default_factory=list)
    watch: BlockedWatch | None = None

    @property
    def path(self) -> str:
        return f"{NETNS_DIR}/{self.name}"


def unavailable() -> str | None:
    """Why namespaces cannot be made here, or None."""
    if os.geteuid() != 0:
        return f"network namespaces need root (samrun runs as uid {os.geteuid()})"
    missing = [tool for tool in ("ip", "nft") if shutil.which(tool) is None]
    if missing:
        return f"{' and '.join(missing)} not found (apt-get install iproute2 nftables)"
    return None


def endpoint_of(url: str | None, proto: str = "tcp") -> Endpoint | None:
    """The host:port of a URL (or a bare host:port)."""
    if not url:
        return None
    parts = urlsplit(url if "://" in url else f"//{url}")
    if parts.hostname is None:
        return None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return Endpoint(Address(parts.hostname, port), proto)


def is_local(ip: str) -> bool:
    """Whether the host serves `ip` on its loopback (0.0.0.0 reaches it too)."""
    address = ipaddress.IPv4Address(ip)
    return address.is_loopback or address.is_unspecified


def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        raise OSError(f"{' '.join(argv)}: no answer within 30 s") from None
    if check and result.returncode != 0:
        raise OSError(f"{' '.join(argv)}: {result.stderr.strip() or result.returncode}")
    return result


@contextlib.contextmanager
def host_lock(timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """One samrun at a time changes the host's network (leftovers, addresses, rules). The
    kernel drops an flock with its holder, even after `kill -9`."""
    fd = os.open(LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise OSError(
                        f"another samrun held {LOCK} for {timeout:.0f} s (setting up its VPC "
                        "networks)"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # (releases the lock)


def remove_leftovers(alive: Callable[[int], bool] | None = None) -> list[str]:
    """Remove what samruns that are gone left behind; returns what was removed. Called at
    start, before this samrun makes anything: what carries its own pid is a dead samrun's."""
    own = os.getpid()
    removed = []
    dead: set[int] = set()

    def gone(pid: int) -> bool:
        if pid in dead:
            return True
        if pid == own or not (alive or _alive)(pid) or (alive is None and _reused(pid)):
            dead.add(pid)
            return True
        return False

    with contextlib.suppress(OSError):
        for name in sorted(os.listdir(NETNS_DIR)):
            match = OURS.match(name)
            if match and gone(int(match.group(1))):
                run("ip", "netns", "delete", name, check=False)
                removed.append(f"namespace {name}")
    for veth, pid in VETH.findall(run("ip", "-o", "link", "show", check=False).stdout):
        if gone(int(pid)):  # its namespace is deleted but still held: the pair stays
            run("ip", "link", "delete", veth, check=False)
            removed.append(f"interface {veth}")
    tables = run("nft", "list", "tables", check=False).stdout
    for pid in re.findall(rf"table inet {TABLE}_(\d+)\b", tables):
        if gone(int(pid)):
            run("nft", "delete", "table", "inet", f"{TABLE}_{pid}", check=False)
            removed.append(f"nftables table {TABLE}_{pid}")
    for chain, rule in _iptables_rules():
        pid = int(rule.split(f"{COMMENT}-")[1].split()[0].strip('"'))
        if gone(pid):
            _delete_iptables(chain, rule)
            removed.append(f"iptables rule in {chain}")
    with contextlib.suppress(OSError):
        for entry in os.listdir(REGISTRY):
            if entry.isdigit() and gone(int(entry)):
                os.unlink(f"{REGISTRY}/{entry}")
    return removed


def _started(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot, as /proc says), or None."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _reused(pid: int) -> bool:
    """Whether `pid` now belongs to another process than the samrun that registered it."""
    try:
        with open(f"{REGISTRY}/{pid}") as registered:
            return registered.read().strip() != _started(pid)
    except OSError:  # not registered (or an older samrun's): its pid is all we know
        return False


def _register(pid: int) -> None:
    os.makedirs(REGISTRY, exist_ok=True)
    with open(f"{REGISTRY}/{pid}", "w") as registry:
        registry.write(_started(pid) or "")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return b"samrun" in cmdline.read()  # a reused pid is not a samrun
    except OSError:
        return False


def _iptables_rules() -> Iterable[tuple[str, str]]:
    if shutil.which("iptables") is None:
        return []
    found = []
    for chain in ("DOCKER-USER", "FORWARD"):
        listing = run("iptables", "-w", "10", "-S", chain, check=False).stdout
        found += [(chain, line) for line in listing.splitlines() if f"{COMMENT}-" in line]
    return found


def _delete_iptables(chain: str, rule: str) -> None:
    spec = rule.split(maxsplit=2)[2]  # "-A CHAIN spec"
    run("sh", "-c", f"iptables -w 10 -D {chain} {spec}", check=False)


def _used_ips() -> set[str]:
    text = run("ip", "-4", "-o", "addr", "show", check=False).stdout
    return set(re.findall(r"inet (169\.254\.\d+\.\d+)/", text))


def _nameservers() -> list[str]:
    try:
        with open("/etc/resolv.conf") as resolv:
            lines = resolv.read().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            with contextlib.suppress(ValueError):
                found.append(str(ipaddress.IPv4Address(parts[1])))
    return found


class VpcNetworks:
    """The namespaces of one samrun's VPC functions, their rules and their mirrors."""

    def __init__(
        self,
        functions: Mapping[str, Network],
        settings: VpcSettings,
        endpoints: Iterable[Endpoint],
    ) -> None:
        self.functions = dict(functions)
        self.settings = settings
        self.endpoints = [e for e in endpoints if e is not None]
        self.pid = os.getpid()
        self.table = f"{TABLE}_{self.pid}"
        self.namespaces: dict[str, Namespace] = {}
        self._iptables: list[tuple[str, str]] = []

    def netns(self, function: str) -> str | None:
        """The namespace path an instance of `function` joins, or None (host network)."""
        space = self.namespaces.get(function)
        return space.path if space else None

    async def start(self) -> None:
        try:
            for line in await asyncio.to_thread(self._take_over):
                logger.info("removed a leftover of an earlier samrun: %s", line)
            for space in self.namespaces.values():
                await self._inside(space)
        except BaseException as exc:
            await self.close()
            if isinstance(exc, OSError):
                raise SamrunError(f"VPC networks: {exc}") from None
            raise

    def _take_over(self) -> list[str]:
        """Leftovers out, then this samrun's namespaces in, while no other samrun does either."""
        with host_lock():
            removed = remove_leftovers()
            _register(self.pid)
            atexit.register(self._remove)  # a stop that fails half-way still removes them
            self._create()
        return removed

    def _create(self) -> None:
        used = _used_ips()
        free = (s for s in POOL.subnets(new_prefix=30) if not {str(h) for h in s.hosts()} & used)
        for index, (function, network) in enumerate(sorted(self.functions.items())):
            host_ip, ns_ip = (str(h) for h in next(free).hosts())
            space = Namespace(
                function=function,
                name=f"{PREFIX}-{self.pid}-{index}",
                veth=f"sv{self.pid}-{index}",
                host_ip=host_ip,
                ns_ip=ns_ip,
                network=network,
            )
            self.namespaces[function] = space  # (close removes it, made or half made)
            run("ip", "netns", "add", space.name)
            run(
                "ip",
                "link",
                "add",
                space.veth,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                space.name,
            )
            run("ip", "addr", "add", f"{host_ip}/30", "dev", space.veth)
            run("ip", "link", "set", space.veth, "up")
            run("ip", "-n", space.name, "addr", "add", f"{ns_ip}/30", "dev", "eth0")
            run("ip", "-n", space.name, "link", "set", "lo", "up")
            run("ip", "-n", space.name, "link", "set", "eth0", "up")
            run("ip", "-n", space.name, "route", "add", "default", "via", host_ip)
        subprocess.run(
            ["nft", "-f", "-"], input=self._ruleset(), text=True, check=True, capture_output=True
        )
        if self._remote_allowed() or any(s.network.egress for s in self.namespaces.values()):
            self._open_forwarding()

    def _remote_allowed(self) -> list[tuple[str, int, str]]:
        """(ip, port, proto) reached through the veth: non-loopback endpoints and --vpc-allow."""
        allowed = []
        targets = [*self.endpoints, *(Endpoint(a) for a in self.settings.allow)]
        for endpoint in targets:
            ip = resolve_ip(endpoint.address.host)
            if not is_local(ip):
                allowed.append((ip, endpoint.address.port, endpoint.proto))
                if endpoint in self.endpoints or endpoint.proto == "tcp":
                    allowed.append((ip, endpoint.address.port, "udp"))
        for server in _nameservers():  # AmazonProvidedDNS answers in every VPC
            if not is_local(server):
                allowed += [(server, 53, "udp"), (server, 53, "tcp")]
        return allowed

    def _local_mirrors(self) -> list[tuple[str, int, str]]:
        """(ip, port, proto) that answer inside each namespace, relayed to the host's."""
        mirrors = []
        targets = [*self.endpoints, *(Endpoint(a) for a in self.settings.allow)]
        for endpoint in targets:
            ip = resolve_ip(endpoint.address.host)
            if is_local(ip):
                mirrors.append((ip, endpoint.address.port, endpoint.proto))
        for server in _nameservers():
            if is_local(server):
                mirrors += [(server, 53, "udp"), (server, 53, "tcp")]
        return list(dict.fromkeys(mirrors))

    def _ruleset(self) -> str:
        lines = [
            f"table inet {self.table} {{",
            "  chain pre {",
            "    type filter hook prerouting priority -150; policy accept;",
        ]
        allowed = self._remote_allowed()
        private = []
        for space in self.namespaces.values():
            veth = f'iifname "{space.veth}"'
            lines.append(f"    {veth} ct state established,related accept")
            if space.network.egress:
                lines.append(f"    {veth} accept")
                continue
            private.append(space.ns_ip)
            for ip, port, proto in allowed:
                lines.append(f"    {veth} ip daddr {ip} {proto} dport {port} accept")
            lines.append(f"    {veth} drop")
        lines += [
            "  }",
            "  chain post {",
            "    type nat hook postrouting priority 100; policy accept;",
        ]
        egress = [s.ns_ip for s in self.namespaces.values() if s.network.egress]
        sources = [*egress, *private] if allowed else egress
        if sources:
            lines.append(f"    ip saddr {{ {', '.join(sources)} }} masquerade")
        lines += ["  }", "}"]
        return "\n".join(lines) + "\n"

    def _open_forwarding(self) -> None:
        """Forwarded packets of NAT functions pass a FORWARD policy of DROP (Docker's)."""
        if run("sysctl", "-n", "net.ipv4.ip_forward", check=False).stdout.strip() != "1":
            run("sysctl", "-w", "net.ipv4.ip_forward=1", check=False)
            logger.warning("VPC: enabled IPv4 forwarding (net.ipv4.ip_forward=1) for NAT egress")
        if shutil.which("iptables") is None:
            return
        policy = run("iptables", "-w", "10", "-S", "FORWARD", check=False).stdout
        if "-P FORWARD DROP" not in policy:
            return
        chain = (
            "DOCKER-USER"
            if run("iptables", "-w", "10", "-S", "DOCKER-USER", check=False).returncode == 0
            else "FORWARD"
        )
        comment = f"{COMMENT}-{self.pid}"
        for side in ("-i", "-o"):
            spec = [side, f"sv{self.pid}-+", "-m", "comment", "--comment", comment, "-j", "ACCEPT"]
            if run("iptables", "-w", "10", "-I", chain, *spec, check=False).returncode == 0:
                self._iptables.append((chain, " ".join(spec)))

    async def _inside(self, space: Namespace) -> None:
        for ip, port, proto in self._local_mirrors():
            target = ("127.0.0.1" if ipaddress.IPv4Address(ip).is_unspecified else ip, port)
            mirror = mirror_udp if proto == "udp" else mirror_tcp
            space.closers.append(await mirror(space.path, (ip, port), target))
        if not space.network.egress:
            allowed = {(ip, port, proto) for ip, port, proto in self._remote_allowed()}
            function = space.function

            def report(ip: str, port: int, proto: str) -> None:
                logger.warning(
                    "%s: %s connection to %s:%d blocked: its VPC subnets have no route to a NAT "
                    "gateway, so it hangs as on AWS (--vpc-allow %s:%d maps the address into "
                    "the VPC)",
                    function,
                    proto.upper(),
                    ip,
                    port,
                    ip,
                    port,
                )

            space.watch = BlockedWatch(
                space.veth, lambda ip, port, proto: (ip, port, proto) in allowed, report
            )

    async def mirror(self, function: str, address: str) -> Callable[[], None]:
        """An instance's Runtime API listener (`127.0.0.1:PORT`), inside its namespace."""
        space = self.namespaces[function]
        host, _, port = address.rpartition(":")
        return await mirror_tcp(space.path, (host, int(port)), (host, int(port)))

    def state(self) -> dict[str, object]:
        """For /_samrun/state: each VPC function's namespace, egress and blocked addresses."""
        return {
            function: {
                "namespace": space.name,
                "egress": space.network.egress,
                "subnets": list(space.network.notes),
                "allow": [str(address) for address in self.settings.allow],
                "blocked": space.watch.blocked if space.watch is not None else [],
            }
            for function, space in sorted(self.namespaces.items())
        }

    def lines(self) -> list[str]:
        """Startup: each VPC function's network and why."""
        found = []
        for function, network in sorted(self.functions.items()):
            space = self.namespaces.get(function)
            where = f" (namespace {space.name})" if space else ""
            found.append(f"{function}: {network.describe()}{where}; " + "; ".join(network.notes))
        if self.settings.allow:
            allowed = ", ".join(map(str, self.settings.allow))
            found.append(f"VPC functions also reach (--vpc-allow): {allowed}")
        return found

    async def close(self) -> None:
        for space in self.namespaces.values():
            for close in space.closers:
                with contextlib.suppress(Exception):
                    close()
            if space.watch is not None:
                space.watch.close()
        await asyncio.to_thread(self._remove)
        atexit.unregister(self._remove)

    def _remove(self) -> None:
        for space in self.namespaces.values():
            run("ip", "netns", "delete", space.name, check=False)  # its veth goes with it
        run("nft", "delete", "table", "inet", self.table, check=False)
        for chain, spec in self._iptables:
            run("sh", "-c", f"iptables -w 10 -D {chain} {spec}", check=False)
        self.namespaces.clear()
        self._iptables.clear()
        with contextlib.suppress(OSError):
            os.unlink(f"{REGISTRY}/{self.pid}")


async def open_networks(
    functions: Iterable[Function],
    settings: VpcSettings,
    *,
    docker: bool,
    endpoints: Iterable[Endpoint | None],
) -> VpcNetworks | None:
    """The namespaces of the functions with VpcConfig that run as processes here; what is not
    enforced (containers, no root) is said once."""
    networks = {
        f.name: function_network(f.config.vpc, settings.subnets)
        for f in functions
        if f.config.vpc is not None
    }
    if not networks:
        return None
    containers = sorted(
        name
        for name in networks
        if docker
        or next(f for f in functions if f.name == name).config.package_type is PackageType.IMAGE
    )
    if containers:
        logger.warning(
            "VpcConfig of %s not enforced: containers use the Docker engine's network (VPC "
            "egress is modelled on the process backend only)",
            ", ".join(containers),
        )
    local = {name: network for name, network in networks.items() if name not in containers}
    if not local:
        return None
    reason = unavailable()
    if reason is not None:
        logger.warning(
            "VpcConfig of %s not enforced: %s; they run on the host network",
            ", ".join(sorted(local)),
            reason,
        )
        return None
    vpc = VpcNetworks(local, settings, [e for e in endpoints if e is not None])
    await vpc.start()
    for line in vpc.lines():
        logger.info("%s", line)
    return vpc
