"""Lambda's Extensions API (`/2020-01-01/extension/...`) for one instance: its `ExtensionHub`.

Contract for the rest of samrun (TELEMETRY included): every `RuntimeSession` owns one hub,
`session.hub` (created with the session, so it exists before anything registers). A request
handler of the instance's Runtime API listener finds the session the way server.py does (the
port it arrived on), then `session.hub.known(identifier)` says whether a
`Lambda-Extension-Identifier` belongs to a registered extension of that instance.

The phases, as Lambda (RAPID) runs them:
- init: external extensions (the executables in /opt/extensions) start before the runtime, from
  a small boot step inside the sandbox (`BOOT`, started as the instance's command): it starts
  each one, tells samrun their pids over a socketpair, and execs the runtime once every one has
  registered (or failed). In a container (the docker backend) a POSIX sh step does the same
  (`CONTAINER_BOOT`, over two FIFOs, `follow_container`): it names each extension it starts and
  reports each one's exit, since a container's pids are not samrun's to watch. Registration
  closes when init ends; names not in /opt/extensions are internal extensions (registered from
  the runtime's process). Init ends when the runtime and every registered extension have called
  `next` once; `init/error`, or an extension that exits first, fails it (`Extension.InitError`,
  `Extension.Crash`).
- invoke: INVOKE goes to every extension that asked for it as the runtime gets the event; the
  caller gets the response at once, and the invocation ends (REPORT, the instance back in its
  pool) when every extension has called `next` again.
- shutdown: SHUTDOWN (`spindown`, `timeout`, `failure`) to those that asked for it; they get
  Lambda's grace (2000 ms with an external extension, 500 ms with internal ones only) to exit,
  then everything is killed.

An instance with no extension pays one attribute test per phase: `hub.extensions` is empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from samrun.runtime import render

if TYPE_CHECKING:
    from samrun.runtime.session import InvokeEvent, RuntimeSession

logger = logging.getLogger(__name__)

API_VERSION = "2020-01-01"
PREFIX = f"/{API_VERSION}/extension"
REGISTER = f"{PREFIX}/register"
NEXT = f"{PREFIX}/event/next"
INIT_ERROR = f"{PREFIX}/init/error"
EXIT_ERROR = f"{PREFIX}/exit/error"

EXTENSION_NAME = "Lambda-Extension-Name"
EXTENSION_ID = "Lambda-Extension-Identifier"
EVENT_ID = "Lambda-Extension-Event-Identifier"
ERROR_TYPE = "Lambda-Extension-Function-Error-Type"
ACCEPT_FEATURE = "Lambda-Extension-Accept-Feature"

INVOKE, SHUTDOWN = "INVOKE", "SHUTDOWN"
SPINDOWN, TIMEOUT, FAILURE = "spindown", "timeout", "failure"
EXTERNAL_GRACE_S = 2.0  # the shutdown phase with an external extension
INTERNAL_GRACE_S = 0.5  # with internal extensions only
MAX_EXTENSIONS = 10  # Lambda's limit per function

INIT_FAILED = "Extension.InitError"
EXIT_FAILED = "Extension.ExitError"
CRASH = "Extension.Crash"

# SAMRUN_EXTENSIONS=0: no extension is started and the invoke path skips the hub (for
# bench/extensions_bench.py, which measures what the hub costs a function without extensions)
ENABLED = os.environ.get("SAMRUN_EXTENSIONS", "1") != "0"
FOLDER = "extensions"  # under /opt
BOOT_FD_ENV = "_SAMRUN_EXTENSIONS_FD"


@dataclass(slots=True, kw_only=True)
class Extension:
    """One registered extension: `internal` ones were registered from the runtime's process."""

    name: str
    identifier: str = field(default_factory=lambda: str(uuid.uuid4()))
    events: frozenset[str] = frozenset()
    internal: bool = False
    ready_once: bool = False  # has called `next` at least once (its init is over)
    busy: bool = False  # was handed an event and has not called `next` since
    exited: bool = False
    error_type: str | None = None  # from init/error or exit/error
    queue: asyncio.Queue[bytes] = field(default_factory=asyncio.Queue)


class ExtensionHub:
    """The extensions of one instance, and the phases they take part in."""

    def __init__(self) -> None:
        self.extensions: dict[str, Extension] = {}  # by identifier
        self.expected: tuple[str, ...] = ()  # external extensions' names (/opt/extensions)
        self.function_name = ""
        self.version = "$LATEST"
        self.handler = ""
        self.account_id = ""
        self.sealed = False  # init is over: registration is closed
        # a platform event (kind, record, text), as Instance._platform writes it
        self.emit: Callable[[str, dict[str, object], str], None] = lambda *event: None
        self._changed = asyncio.Event()
        self._pidfds: dict[int, str] = {}  # a pidfd -> the external extension it watches
        self._started: set[str] = set()  # external extensions the boot step has started
        self._exited: set[str] = set()
        self._boot: asyncio.Task[None] | None = None
        self._shutdown: asyncio.Task[None] | None = None
        # a container's boot step: its names are known once it has listed them (`listed`)
        self._listing: asyncio.Future[None] | None = None
        self._channel: tuple[int, int] | None = None  # (its reports, our "go")
        self._pending = b""

    def configure(
        self,
        *,
        function_name: str,
        version: str,
        handler: str,
        account_id: str,
        expected: tuple[str, ...],
        emit: Callable[[str, dict[str, object], str], None],
    ) -> None:
        self.function_name = function_name
        self.version = version
        self.handler = handler
        self.account_id = account_id
        self.expected = expected
        self.emit = emit

    def known(self, identifier: str) -> Extension | None:
        return self.extensions.get(identifier)

    @property
    def active(self) -> bool:
        """Whether this instance has extensions at all (the no-extension path tests only this)."""
        return bool(self.extensions or self.expected)

    def _by_name(self, name: str) -> Extension | None:
        return next((ext for ext in self.extensions.values() if ext.name == name), None)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _until(self, condition: Callable[[], bool]) -> None:
        while not condition():
            await self._changed.wait()

    # -- the Extensions API ----------------------------------------------------------------

    async def listed(self) -> None:
        """Until the external extensions' names are known: at once, unless a container's boot
        step is still naming what it starts (a register may come first; it must not pass for
        an internal extension's)."""
        if self._listing is not None and not self._listing.done():
            await asyncio.shield(self._listing)

    def register(self, name: str, events: list[str]) -> Extension | web.Response:
        internal = name not in self.expected
        allowed = {INVOKE} if internal else {INVOKE, SHUTDOWN}
        for event in events:
            if event not in allowed:
                kind = "internal" if internal else "external"
                return render.error(
                    403,
                    "Extension.InvalidEventType",
                    f"{event}: {event} is not a valid event for an {kind} extension",
                )
        if self.sealed:
            return render.error(
                403, "Extension.RegistrationClosed", "Extension registration closed already"
            )
        if self._by_name(name) is not None:
            return render.error(
                403,
                "Extension.InvalidExtensionState",
                "Extension with this name already registered",
            )
        if len(self.extensions) >= MAX_EXTENSIONS:
            return render.error(
                403,
                "Extension.TooManyExtensions",
                f"Extension limit ({MAX_EXTENSIONS}) reached",
            )
        extension = Extension(name=name, events=frozenset(events), internal=internal)
        self.extensions[extension.identifier] = extension
        self._notify()
        return extension

    async def next(self, extension: Extension) -> bytes:
        """`GET event/next`: the extension is done with its last event; wait for the next."""
        extension.ready_once = True
        extension.busy = False
        self._notify()
        body = await extension.queue.get()
        return body

    def fail(self, extension: Extension, error_type: str, *, at_init: bool) -> web.Response:
        if at_init and (self.sealed or extension.ready_once):
            return render.error(
                403,
                "Extension.InvalidExtensionState",
                f"State transition from Ready to InitError failed for extension "
                f"{extension.identifier}",
            )
        extension.error_type = INIT_FAILED if at_init else EXIT_FAILED
        extension.busy = False
        self._notify()
        logger.debug("extension %s reported %s", extension.name, error_type)
        return render.accepted()

    # -- init ------------------------------------------------------------------------------

    def follow_boot(self, channel: socket.socket) -> None:
        """Serve the boot step: learn the pids of the extensions it starts, and let it start
        the runtime once all have registered (or one failed)."""
        self._boot = asyncio.get_running_loop().create_task(self._serve_boot(channel))

    async def _serve_boot(self, channel: socket.socket) -> None:
        reader, writer = await asyncio.open_unix_connection(sock=channel)
        try:
            while line := (await reader.readline()).decode(errors="replace").strip():
                if line == "started":
                    break
                pid, _, name = line.partition(" ")
                self._started.add(name)
                self._watch(int(pid), name)
            self._notify()
            await self._until(self._registered_or_failed)
            writer.write(b"go\n")
            await writer.drain()
        except (OSError, ValueError):
            pass
        finally:
            writer.close()

    def follow_container(self, channel: tuple[int, int]) -> None:
        """Serve a container's boot step (`CONTAINER_BOOT`): the read end of the FIFO it reports
        on, and one open on the FIFO it waits on for "go" (both ours from now on)."""
        loop = asyncio.get_running_loop()
        self._channel = channel
        self._listing = loop.create_future()
        loop.add_reader(channel[0], self._read_container)

    def _read_container(self) -> None:
        assert self._channel is not None
        try:
            chunk = os.read(self._channel[0], 4096)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:  # (not while we hold a writer: the FIFO never ends before we close it)
            asyncio.get_running_loop().remove_reader(self._channel[0])
            return
        *lines, self._pending = (self._pending + chunk).split(b"\n")
        for line in lines:
            verb, _, name = line.decode(errors="replace").partition(" ")
            if verb == "started":
                self._started.add(name)
                self.expected = (*self.expected, name)
            elif verb == "exited":
                self._gone(name)
            elif verb == "listed" and self._listing is not None and not self._listing.done():
                self._listing.set_result(None)
                self._notify()
                self._boot = asyncio.get_running_loop().create_task(self._go())

    async def _go(self) -> None:
        """The container's runtime starts once every extension has registered (or failed)."""
        await self._until(self._registered_or_failed)
        if self._channel is not None:
            with contextlib.suppress(OSError):
                os.write(self._channel[1], b"go\n")

    def _registered_or_failed(self) -> bool:
        names = {ext.name for ext in self.extensions.values()}
        return self._failure() is not None or all(name in names for name in self.expected)

    def _watch(self, pid: int, name: str) -> None:
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            self._gone(name)
            return
        except (OSError, AttributeError):
            return  # no pidfds here: its exit is seen as the sandbox's
        self._pidfds[pidfd] = name
        asyncio.get_running_loop().add_reader(pidfd, self._reap, pidfd)

    def _reap(self, pidfd: int) -> None:
        asyncio.get_running_loop().remove_reader(pidfd)
        os.close(pidfd)
        self._gone(self._pidfds.pop(pidfd))

    def _gone(self, name: str) -> None:
        self._exited.add(name)
        extension = self._by_name(name)
        if extension is not None:
            extension.exited = True
            extension.busy = False
        self._notify()

    def _failure(self) -> tuple[str, str] | None:
        for extension in self.extensions.values():
            if extension.error_type == INIT_FAILED:
                return INIT_FAILED, f"Extension {extension.name} failed to initialize"
        for name in self.expected:
            external = self._by_name(name)
            if name in self._exited and (external is None or not external.ready_once):
                return CRASH, f"Extension {name} exited before it was ready"
        return None

    def _ready(self) -> bool:
        names = {ext.name for ext in self.extensions.values()}
        return all(name in names for name in self.expected) and all(
            ext.ready_once for ext in self.extensions.values()
        )

    async def ready(self) -> tuple[str, str] | None:
        """The init phase's part of the extensions: None once every one has called `next`,
        else (error type, message). Registration closes here."""
        await self._until(lambda: self._failure() is not None or self._ready())
        self.sealed = True
        failure = self._failure()
        if failure is None:
            for extension in self.extensions.values():
                events = sorted(extension.events)
                text = f"EXTENSION\tName: {extension.name}\tState: Ready\tEvents: ["
                self.emit(
                    "platform.extension",
                    {"name": extension.name, "state": "Ready", "events": events},
                    text + ",".join(events) + "]",
                )
        return failure

    # -- invoke ----------------------------------------------------------------------------

    def invoke(self, event: InvokeEvent) -> bool:
        """Hand INVOKE to the extensions that asked for it; True when any did (the invocation
        then ends only once they have called `next` again: `settled`)."""
        body: bytes | None = None
        for extension in self.extensions.values():
            if INVOKE not in extension.events or extension.exited:
                continue
            if body is None:
                body = json.dumps(
                    {
                        "eventType": INVOKE,
                        "deadlineMs": event.deadline_ms,
                        "requestId": event.request_id,
                        "invokedFunctionArn": event.invoked_arn,
                        "tracing": {"type": "X-Amzn-Trace-Id", "value": event.trace_id},
                    }
                ).encode()
            extension.busy = True
            extension.queue.put_nowait(body)
        return body is not None

    async def settled(self) -> None:
        """Until every extension has called `next` since its last event (or exited)."""
        await self._until(lambda: not any(ext.busy for ext in self.extensions.values()))

    @property
    def crashed(self) -> bool:
        """An extension exited after init, or reported exit/error: Lambda resets the instance."""
        return any(ext.exited or ext.error_type for ext in self.extensions.values())

    # -- shutdown --------------------------------------------------------------------------

    async def shutdown(self, reason: str) -> None:
        """SHUTDOWN to the extensions that asked for it, then their grace to exit (or to call
        `next` again); the caller kills what is left. Once, however often it is asked."""
        if self._shutdown is None:
            self._shutdown = asyncio.get_running_loop().create_task(self._shut(reason))
        await asyncio.shield(self._shutdown)

    async def _shut(self, reason: str) -> None:
        if not self.extensions:
            return
        external = any(not ext.internal for ext in self.extensions.values())
        grace = EXTERNAL_GRACE_S if external else INTERNAL_GRACE_S
        deadline_ms = int((time.time() + grace) * 1000)
        body = json.dumps(
            {"eventType": SHUTDOWN, "shutdownReason": reason, "deadlineMs": deadline_ms}
        ).encode()
        told = []
        for extension in self.extensions.values():
            if SHUTDOWN in extension.events and not extension.exited:
                extension.busy = True
                extension.queue.put_nowait(body)
                told.append(extension)

        def done() -> bool:  # each has exited, or called `next` again
            return all(ext.exited or not ext.busy for ext in told)

        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await self._until(done)

    def close(self) -> None:
        """The instance is gone: stop watching its extensions."""
        loop = asyncio.get_running_loop()
        for pidfd in list(self._pidfds):
            loop.remove_reader(pidfd)
            os.close(pidfd)
        self._pidfds.clear()
        if self._boot is not None:
            self._boot.cancel()
        if self._channel is not None:
            with contextlib.suppress(ValueError, RuntimeError):
                loop.remove_reader(self._channel[0])
            for fd in self._channel:
                os.close(fd)
            self._channel = None
        if self._listing is not None and not self._listing.done():
            self._listing.cancel()
        for extension in self.extensions.values():
            extension.exited = True
            extension.busy = False
        self._notify()


# -- the HTTP side (routes on each instance's Runtime API listener) -------------------------

SessionOf = Callable[[web.Request], "RuntimeSession | None"]


def add_routes(app: web.Application, session_of: SessionOf) -> None:
    """The Extensions API on the Runtime API's app; `session_of` finds a request's instance."""
    api = ExtensionsApi(session_of)
    app.router.add_post(REGISTER, api.register)
    app.router.add_get(NEXT, api.next_event)
    app.router.add_post(INIT_ERROR, api.init_error)
    app.router.add_post(EXIT_ERROR, api.exit_error)


class ExtensionsApi:
    """The request handlers, with RAPID's status codes and error types."""

    def __init__(self, session_of: SessionOf) -> None:
        self._session_of = session_of

    def _hub(self, request: web.Request) -> ExtensionHub | web.Response:
        session = self._session_of(request)
        return render.unknown_instance() if session is None else session.hub

    def _extension(self, request: web.Request) -> tuple[ExtensionHub, Extension] | web.Response:
        hub = self._hub(request)
        if isinstance(hub, web.Response):
            return hub
        identifier = request.headers.get(EXTENSION_ID, "")
        if not identifier:
            return render.error(
                403, "Extension.MissingExtensionIdentifier", f"Missing {EXTENSION_ID} header"
            )
        try:
            uuid.UUID(identifier)
        except ValueError:
            return render.error(
                403, "Extension.InvalidExtensionIdentifier", f"Invalid {EXTENSION_ID}"
            )
        extension = hub.known(identifier)
        if extension is None:
            return render.error(
                403, "Extension.UnknownExtensionIdentifier", f"Unknown extension {identifier}"
            )
        return hub, extension

    async def register(self, request: web.Request) -> web.StreamResponse:
        hub = self._hub(request)
        if isinstance(hub, web.Response):
            return hub
        name = request.headers.get(EXTENSION_NAME, "")
        if not name:
            return render.error(403, "Extension.InvalidExtensionName", "Empty extension name")
        events = parse_events(await request.read())
        if isinstance(events, str):
            return render.error(403, "InvalidRequestFormat", events)
        await hub.listed()
        extension = hub.register(name, events)
        if isinstance(extension, web.Response):
            return extension
        body: dict[str, str] = {
            "functionName": hub.function_name,
            "functionVersion": hub.version,
            "handler": hub.handler,
        }
        if "accountId" in request.headers.get(ACCEPT_FEATURE, ""):
            body["accountId"] = hub.account_id
        return web.json_response(body, headers={EXTENSION_ID: extension.identifier})

    async def next_event(self, request: web.Request) -> web.StreamResponse:
        found = self._extension(request)
        if isinstance(found, web.Response):
            return found
        hub, extension = found
        body = await hub.next(extension)
        return web.Response(
            body=body, content_type="application/json", headers={EVENT_ID: str(uuid.uuid4())}
        )

    async def init_error(self, request: web.Request) -> web.StreamResponse:
        return await self._error(request, at_init=True)

    async def exit_error(self, request: web.Request) -> web.StreamResponse:
        return await self._error(request, at_init=False)

    async def _error(self, request: web.Request, *, at_init: bool) -> web.StreamResponse:
        found = self._extension(request)
        if isinstance(found, web.Response):
            return found
        hub, extension = found
        error_type = request.headers.get(ERROR_TYPE, "")
        if not error_type:
            return render.error(403, "Extension.MissingHeader", f"{ERROR_TYPE} not found")
        await request.read()
        return hub.fail(extension, error_type, at_init=at_init)


def parse_events(body: bytes) -> list[str] | str:
    """The `events` of a register request, or what is wrong with it."""
    try:
        parsed = json.loads(body or b"{}")
    except ValueError as exc:
        return str(exc)
    events = parsed.get("events", []) if isinstance(parsed, dict) else None
    if not isinstance(events, list) or not all(isinstance(event, str) for event in events):
        return "events must be a list of strings"
    return events


# -- starting them: the boot step, and AWS_LAMBDA_EXEC_WRAPPER ------------------------------

# Runs in the sandbox as the instance's first process: starts each extension (nothing of
# samrun's descriptors but stdio), reports "PID NAME" lines, then waits for "go" and execs
# the runtime's command (argv after "--"), which keeps the same pid, group and cgroups.
BOOT = """\
import os, subprocess, sys
fd = int(os.environ.pop("_SAMRUN_EXTENSIONS_FD"))
args = sys.argv[1:]
cut = args.index("--")
channel = os.fdopen(fd, "r+b", buffering=0)
for path in args[:cut]:
    try:
        child = subprocess.Popen([path], close_fds=True)
    except OSError as exc:
        print(f"{os.path.basename(path)}: cannot start: {exc.strerror}", file=sys.stderr)
        continue
    channel.write(f"{child.pid} {os.path.basename(path)}\\n".encode())
channel.write(b"started\\n")
channel.readline()
channel.close()
os.execvp(args[cut + 1], args[cut + 1:])
"""


# The same in a container, in POSIX sh (an image may have no Python: provided.al2023 has sh):
# starts each executable in /opt/extensions (the layers', or an image function's own), reports
# "started NAME" for each, "listed", and "exited NAME" when one ends (a subshell waits for it),
# waits for "go" once it started any, then execs the image's entrypoint and command ("$@"), which
# keep the container's first pid. {redirect} sends all output where samrun reads it first.
CONTAINER_BOOT = """\
{redirect}exec 3>{events}
for ext in /opt/extensions/*; do
  if [ -f "$ext" ] && [ -x "$ext" ]; then
    name=${{ext##*/}}
    ( "$ext" 3>&-; echo "exited $name" >&3 ) &
    echo "started $name" >&3
  fi
done
echo listed >&3
if [ -n "$name" ]; then read -r go <{go}; fi
exec 3>&-
exec "$@"
"""


def container_boot(events: str, go: str, output: str | None) -> str:
    """The container's boot step (`CONTAINER_BOOT`) with the FIFOs where the container sees
    them, its output redirected into `output` first when given."""
    redirect = f"exec >{output} 2>&1\n" if output else ""
    return CONTAINER_BOOT.format(redirect=redirect, events=events, go=go)


def external_extensions(opt_dir: Path | None) -> list[Path]:
    """The executables in /opt/extensions, in name order (as Lambda starts them)."""
    folder = opt_dir / FOLDER if opt_dir is not None and ENABLED else None
    if folder is None or not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if path.is_file() and os.access(path, os.X_OK))


class Boot:
    """The boot step of one instance: its command line, and samrun's end of its channel."""

    def __init__(self, extensions: list[Path]) -> None:
        self.extensions = extensions
        self.ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._theirs: socket.socket | None = theirs
        self.fd = theirs.fileno()

    def argv(self, runtime_argv: tuple[str, ...]) -> tuple[str, ...]:
        return (
            sys.executable,
            "-I",
            "-S",
            "-c",
            BOOT,
            *(str(path) for path in self.extensions),
            "--",
            *runtime_argv,
        )

    def environment(self) -> dict[str, str]:
        return {BOOT_FD_ENV: str(self.fd)}

    @staticmethod
    def fds(boot: Boot | None) -> tuple[int, ...]:
        """What the sandbox inherits for `boot` (nothing without one)."""
        return (boot.fd,) if boot is not None else ()

    @staticmethod
    def follow(boot: Boot | None, hub: ExtensionHub, container: tuple[int, int] | None) -> None:
        """The sandbox has started: serve its boot step, if it has one (`container`: a
        container's, `Sandbox.extensions_boot`)."""
        if boot is not None:
            hub.follow_boot(boot.handed_over())
        elif container is not None:
            hub.follow_container(container)

    def handed_over(self) -> socket.socket:
        """The boot step has started (or failed to): its end is its own; returns ours."""
        if self._theirs is not None:
            self._theirs.close()
            self._theirs = None
        return self.ours

    def close(self) -> None:
        self.handed_over()
        self.ours.close()


WRAPPER_ENV = "AWS_LAMBDA_EXEC_WRAPPER"


def wrapped(
    argv: tuple[str, ...], env: dict[str, str], code_dir: Path, opt_dir: Path | None
) -> tuple[str, ...]:
    """The runtime's command through `AWS_LAMBDA_EXEC_WRAPPER`, as Lambda starts a managed
    runtime: the wrapper gets the runtime's command line as its arguments. /opt and /var/task
    in the path are where this machine keeps them."""
    wrapper = env.get(WRAPPER_ENV, "")
    if not wrapper or not argv:
        return argv
    return (local_path(wrapper, code_dir, opt_dir), *argv)


def local_path(path: str, code_dir: Path, opt_dir: Path | None) -> str:
    if path.startswith("/opt/") and opt_dir is not None:
        return str(opt_dir / path.removeprefix("/opt/"))
    if path.startswith("/var/task/"):
        return str(code_dir / path.removeprefix("/var/task/"))
    return path
