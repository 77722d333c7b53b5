"""Start instances of one function version: code laid out once, one LaunchSpec per instance."""

from __future__ import annotations

import asyncio
import itertools
import logging
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from samrun.errors import InvalidRuntime
from samrun.model import DEFAULT_ACCOUNT_ID, FunctionConfig, PackageType
from samrun.runtime.breakpoints import TerminalLink
from samrun.runtime.code import layer_folders, prepare_code, prepare_layers
from samrun.runtime.debugging import DebugSpec, debug_command
from samrun.runtime.environment import InstanceIdentity, lambda_environment
from samrun.runtime.extensions import Boot, external_extensions, wrapped
from samrun.runtime.instance import Instance, LineSink
from samrun.runtime.lane import ENABLED as LANE_ENABLED
from samrun.runtime.lane import Lane, open_lane
from samrun.runtime.runtimes import RuntimeCommand, RuntimeLocator
from samrun.runtime.sandbox import CONTAINER_DEPS, Backend, LaunchSpec
from samrun.runtime.server import RuntimeApiServer
from samrun.runtime.session import RuntimeSession
from samrun.runtime.vpc import VpcNetworks

_instance_ids = itertools.count(1)
logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class HostContext:
    """What every launcher shares: where things run, and where they may write."""

    backend: Backend
    server: RuntimeApiServer
    locator: RuntimeLocator
    state_dir: Path
    region: str
    lambda_endpoint: str
    host_env: Mapping[str, str]
    aws_endpoint: str | None = None
    aws_credentials: Mapping[str, str] | None = None  # --aws-profile's, for functions
    role_credentials: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # IAM
    containers: Backend | None = None  # runs PackageType Image functions, whatever `backend` is
    containers_problem: str = "no Docker engine was asked for"  # why `containers` is None
    terminal: int | None = None  # `invoke` on a terminal: breakpoint() runs pdb on it
    xray_daemon: str | None = None  # the local X-Ray daemon's host:port (AWS_XRAY_DAEMON_ADDRESS)
    freeze: bool = True  # idle instances are frozen between invocations (--no-freeze: not)
    vpc: VpcNetworks | None = None  # VPC functions' network namespaces (runtime/vpc.py)


@dataclass(frozen=True, slots=True)
class PreparedCode:
    code_dir: Path
    opt_dir: Path | None
    command: RuntimeCommand
    extensions: tuple[Path, ...] = ()  # executables in /opt/extensions (runtime/extensions.py)


class Launcher:
    """Knows how to start an instance of `function_name` at `version` with `config`."""

    def __init__(
        self,
        host: HostContext,
        *,
        function_name: str,
        version: str,
        config: FunctionConfig,
        env_overrides: Mapping[str, str],
        emit: LineSink,
        log_sink: Callable[[str, str], LineSink] | None = None,
        debug: DebugSpec | None = None,
    ) -> None:
        """`debug`: the function runs under its debugger (runtime/debugging.py)."""
        self.host = host
        self.debug = debug
        self.function_name = function_name
        self.version = version
        self.config = config
        self._env_overrides = env_overrides
        self._emit = emit
        self._log_sink = log_sink  # (log group, log stream) -> a sink: CloudWatch Logs
        self._prepared: PreparedCode | None = None
        self._preparing = asyncio.Lock()

    async def launch(self, initialization_type: str = "on-demand") -> Instance:
        """Start a sandbox and its Runtime API listener; the caller runs `Instance.start`."""
        async with self._preparing:  # concurrent cold starts share one preparation
            prepared = self._prepared
            if prepared is None:
                prepared = self._prepared = await asyncio.to_thread(self._prepare)
        backend = self.backend()
        instance_id = f"{next(_instance_ids):06d}"
        tmp_dir = self.host.state_dir / "tmp" / f"{self.function_name}-{instance_id}"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        session = RuntimeSession()
        holder: list[Instance] = []
        session.hub.configure(
            function_name=self.function_name,
            version=self.version,
            handler=self.config.handler or "",
            account_id=DEFAULT_ACCOUNT_ID,
            expected=tuple(path.name for path in prepared.extensions),
            emit=lambda *event: holder[0]._platform(*event) if holder else None,
        )
        address = await self.host.server.open(session)
        netns, unmirror = await self._network(backend, address)
        who = InstanceIdentity(
            function_name=self.function_name,
            version=self.version,
            region=self.host.region,
            initialization_type=initialization_type,
            runtime_api=address,
            instance_id=instance_id,
            lambda_endpoint=self.host.lambda_endpoint,
            aws_endpoint=self.host.aws_endpoint,
            # --enforce-iam: its execution role's session; else --aws-profile's, or fake ones
            credentials=self.host.role_credentials.get(self.function_name)
            or self.host.aws_credentials,
        )
        if backend.provides_runtime:
            env = self._container_environment(who, has_layers=prepared.opt_dir is not None)
        else:
            env = lambda_environment(
                self.config,
                who,
                code_dir=prepared.code_dir,
                tmp_dir=tmp_dir,
                language_paths=prepared.command.language_paths,
                opt_dir=prepared.opt_dir,
                overrides=self._env_overrides,
                host_env=self.host.host_env,
            )
        # Lambda's code folder is read-only, so Python writes no bytecode there; here the code
        # is the user's own folder: Python (and any Python a function starts) writes none, and
        # still reads what is there (the AWS SDK's, compiled when it was installed).
        env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
        if self.host.xray_daemon:  # reserved, as Lambda sets them
            env["AWS_XRAY_DAEMON_ADDRESS"] = self.host.xray_daemon
            env["AWS_XRAY_CONTEXT_MISSING"] = "LOG_ERROR"
        lane: Lane | None = None
        if prepared.command.lane and LANE_ENABLED and not backend.provides_runtime:
            lane = await open_lane(session)  # the HTTP listener serves it too
            env.update(lane.environment())
        terminal = TerminalLink(self._terminal(backend))
        env.update(terminal.environment())
        argv, boot = self._command(prepared, env)
        spec = LaunchSpec(
            name=f"{self.function_name}:{instance_id}",
            argv=argv,
            env=env,
            code_dir=prepared.code_dir,
            opt_dir=prepared.opt_dir,
            tmp_dir=tmp_dir,
            memory_mb=self.config.memory_mb,
            ephemeral_storage_mb=self.config.ephemeral_storage_mb,
            runtime=self.config.runtime,
            image_uri=self.config.code.image_uri,
            handler=self.config.handler,
            architecture=(self.config.architectures or ("x86_64",))[0],
            image_config=self.config.image_config,
            image_build=self.config.image_build,
            deps_dir=Path(deps) if (deps := self.config.code.dependencies) else None,
            pass_fds=(
                *((lane.runtime_fd,) if lane is not None else ()),
                *terminal.fds,
                *Boot.fds(boot),
            ),
            debug=self.debug if backend.provides_runtime else None,  # else in the command
            netns=netns,
        )

        async def close_listener() -> None:
            if lane is not None:
                lane.close()
            if boot is not None:
                boot.close()
            terminal.close()
            unmirror()
            await self.host.server.close(address)
            await asyncio.to_thread(shutil.rmtree, tmp_dir, True)

        emit = self._emit
        if self._log_sink is not None:  # also to the instance's log stream, as Lambda writes it
            local = emit
            ship = self._log_sink(
                env["AWS_LAMBDA_LOG_GROUP_NAME"], env["AWS_LAMBDA_LOG_STREAM_NAME"]
            )

            def emit(line: str) -> None:
                local(line)
                ship(line)

        try:
            sandbox = await backend.start(spec, lambda line: holder[0].on_output(line))
        except BaseException:
            await close_listener()
            raise
        finally:
            if lane is not None:
                lane.handed_over()
            terminal.handed_over()
        Boot.follow(boot, session.hub, sandbox.extensions_boot)
        instance = Instance(
            instance_id=instance_id,
            version=self.version,
            memory_mb=self.config.memory_mb,
            session=session,
            sandbox=sandbox,
            close_listener=close_listener,
            emit=emit,
            platform_json=self.config.logging.log_format.upper() == "JSON",
            platform_info=(self.config.logging.system_log_level or "INFO").upper() != "WARN",
            freeze=self.host.freeze and self.debug is None,  # a debugger must see it run
            function_name=self.function_name,
            initialization_type=initialization_type,
            runtime=self.config.runtime,
        )
        holder.append(instance)
        terminal.watch(lambda: self._at_breakpoint(instance))
        if lane is not None and sandbox.runtime_lane is not None:
            try:  # (the instance exists first: a spare runs already, and may write)
                await lane.adopt(sandbox.runtime_lane)
            except BaseException:
                await instance.stop()
                raise
        return instance

    async def _network(
        self, backend: Backend, address: str
    ) -> tuple[str | None, Callable[[], None]]:
        """A VPC function's namespace, with its Runtime API listener mirrored inside."""
        vpc = self.host.vpc if not backend.provides_runtime else None
        netns = vpc.netns(self.function_name) if vpc is not None else None
        if vpc is None or netns is None:
            return None, lambda: None
        if self.debug is not None:  # its debugger's port must be reachable from the IDE
            logger.warning(
                "%s: debugged: runs on the host network, not in its VPC", self.function_name
            )
            return None, lambda: None
        try:
            return netns, await vpc.mirror(self.function_name, address)
        except BaseException:
            await self.host.server.close(address)
            raise

    def _command(
        self, prepared: PreparedCode, env: dict[str, str]
    ) -> tuple[tuple[str, ...], Boot | None]:
        """The runtime's command line: through AWS_LAMBDA_EXEC_WRAPPER (managed runtimes, as
        on Lambda), and after the external extensions' boot step when there are any."""
        argv = prepared.command.argv
        if not (self.config.runtime or "").startswith("provided"):
            argv = wrapped(argv, env, prepared.code_dir, prepared.opt_dir)
        if not prepared.extensions:
            return argv, None
        boot = Boot(list(prepared.extensions))
        env.update(boot.environment())
        return boot.argv(argv), boot

    def _terminal(self, backend: Backend) -> int | None:
        """The terminal for breakpoint()'s pdb (runtime/breakpoints.py): for samrun's Python
        runtime client, when no debugger was asked for."""
        if self.debug is not None or backend.provides_runtime:
            return None
        return self.host.terminal if (self.config.runtime or "").startswith("python") else None

    def _at_breakpoint(self, instance: Instance) -> None:
        if instance.suspend_timeout():
            logger.info(
                "%s: stopped at a breakpoint: its %s s timeout is suspended for this invocation",
                self.function_name,
                self.config.timeout_s,
            )

    def backend(self) -> Backend:
        """Image functions run in containers whatever --backend says, and so do runtimes the
        machine has no interpreter for (`RuntimeLocator.missing`); the rest on --backend."""
        if self.config.package_type is not PackageType.IMAGE:
            if self.host.backend.provides_runtime:
                return self.host.backend
            missing = self.host.locator.missing(self.config.runtime)
            if missing is None:
                return self.host.backend
            if self.host.containers is None:
                raise InvalidRuntime(
                    f"The runtime {self.config.runtime} of {self.function_name} cannot run "
                    f"here: {missing}, and it needs a Docker engine: "
                    f"{self.host.containers_problem}"
                )
            return self.host.containers
        if self.host.containers is None:
            raise InvalidRuntime(
                f"{self.function_name} is a PackageType Image function and cannot run: "
                f"{self.host.containers_problem}"
            )
        return self.host.containers

    def _container_environment(self, who: InstanceIdentity, *, has_layers: bool) -> dict[str, str]:
        """Lambda's variables with Lambda's paths; PATH and the like come from the image."""
        env = lambda_environment(
            self.config,
            who,
            code_dir=Path("/var/task"),
            tmp_dir=Path("/tmp"),
            opt_dir=Path("/opt") if has_layers else None,
            language_paths={},
            overrides=self._env_overrides,
            host_env={},
        )
        user_set = {**self.config.environment, **self._env_overrides}
        for key in ("PATH", "LD_LIBRARY_PATH"):
            if key not in user_set:
                env.pop(key, None)
        env["LAMBDA_RUNTIME_DIR"] = "/var/runtime"
        if self.config.code.dependencies:
            for key, value in container_dependency_paths(self.config.runtime or "").items():
                env[key] = f"{value}:{user_set[key]}" if key in user_set else value
        return env

    def _prepare(self) -> PreparedCode:
        state = self.host.state_dir
        if self.config.package_type is PackageType.IMAGE:
            return PreparedCode(state, None, RuntimeCommand((), {}))  # the code is in the image
        code_dir = prepare_code(self.config.code, self.config.runtime, state)
        layer_paths = [
            Path(ref.code.path)
            for ref in self.config.layers
            if ref.code is not None and ref.code.path
        ]
        layers = layer_folders(layer_paths, state)
        deps = self.config.code.dependencies
        if not self.backend().provides_runtime:  # bytecode for the Python that reads them
            ours = [f for f in [*([Path(deps)] if deps else []), *layers] if in_folder(f, state)]
            self.host.locator.compile_for(self.config.runtime, ours)
        opt_dir = prepare_layers(layers, state)  # (a merged copy takes their bytecode along)
        if self.backend().provides_runtime:
            return PreparedCode(code_dir, opt_dir, RuntimeCommand((), {}))
        command = self.host.locator.command(
            self.config.runtime,
            code_dir,
            opt_dir,
            Path(deps) if deps else None,
            memory_mb=self.config.memory_mb,
        )
        if self.debug is not None and self.config.runtime is not None:
            command = debug_command(self.config.runtime, command, self.debug)
        return PreparedCode(code_dir, opt_dir, command, tuple(external_extensions(opt_dir)))


def in_folder(path: Path, folder: Path) -> bool:
    """Whether `path` is samrun's (inside the state folder), never a folder of the user's."""
    return path.resolve().is_relative_to(folder.resolve())


def container_dependency_paths(runtime: str) -> dict[str, str]:
    """The language path that puts built dependencies beside /var/task in a container (on
    Lambda, `sam build` copies them into the code; here they stay in the state folder)."""
    if runtime.startswith("python"):
        return {"PYTHONPATH": CONTAINER_DEPS}  # the images' bootstraps put /var/task first
    if runtime.startswith("nodejs"):
        major = runtime.removeprefix("nodejs").removesuffix(".x")
        return {  # Lambda's NODE_PATH, with the function's node_modules first
            "NODE_PATH": ":".join(
                (
                    CONTAINER_DEPS,
                    f"/opt/nodejs/node{major}/node_modules",
                    "/opt/nodejs/node_modules",
                    "/var/runtime/node_modules",
                    "/var/runtime",
                    "/var/task",
                )
            )
        }
    return {}
