"""Which program runs a runtime on this machine, and the paths Lambda adds for it."""

from __future__ import annotations

import contextlib
import importlib.metadata
import logging
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from samrun.errors import InvalidEntrypoint, InvalidRuntime
from samrun.runtime.bytecode import Compiler, sdk_tree
from samrun.runtime.java import JavaLocator
from samrun.runtime.ruby import RubyLocator, command_parts

logger = logging.getLogger(__name__)

BOOTSTRAPS = Path(__file__).parent / "bootstraps"
PYTHON_VERSIONS = ("3.9", "3.10", "3.11", "3.12", "3.13", "3.14")
NODE_MAJORS = ("18", "20", "22", "24")
PROVIDED = ("provided", "provided.al2", "provided.al2023")
PYTHON_BOOTSTRAP = str(BOOTSTRAPS / "python" / "bootstrap.py")
NODE_BOOTSTRAP = str(BOOTSTRAPS / "nodejs" / "bootstrap.js")


def python_argv(interpreter: str) -> tuple[str, ...]:
    """How samrun's Python runtime client starts. -S: no site-packages of the interpreter (nor
    samrun's own): as on Lambda, a function sees its code, its layers, the standard library and
    the AWS SDK, nothing else."""
    return (interpreter, "-u", "-S", PYTHON_BOOTSTRAP)


def node_argv(node: str) -> tuple[str, ...]:
    """How samrun's Node.js runtime client starts."""
    return (node, NODE_BOOTSTRAP)


@dataclass(frozen=True, slots=True)
class RuntimeCommand:
    argv: tuple[str, ...]
    language_paths: dict[str, str]  # env var -> path entries under /opt (or the task root)
    lane: bool = False  # samrun's own runtime client: it speaks the lane (runtime/lane.py)


class RuntimeLocator:
    """Finds interpreters once per runtime; warns once when it falls back."""

    def __init__(
        self,
        host_env: Mapping[str, str] | None = None,
        sdk_dir: Path | None = None,
        node_sdk_dir: Path | None = None,
        bytecode_cache: Path | None = None,
    ) -> None:
        """`bytecode_cache`: where the SDK's tree of links and its bytecode for each Python
        live (runtime/bytecode.py); None: the SDK is linked as is, nothing is compiled."""
        self._search = python_homes(host_env or {})
        self._node_search = node_homes(host_env or {})
        self._nodes: dict[str, str | None] = {}
        self._sdk_dir = sdk_dir  # the AWS SDK for Python, as Lambda's Python runtimes carry it
        self._sdk_path = sdk_dir  # where functions import it from (the cache's tree, or sdk_dir)
        self._bytecode_cache = bytecode_cache
        self._compiler = Compiler()
        self._node_sdk = node_sdk_dir  # the AWS SDK for JavaScript v3, when samrun.build got it
        self._sdk_oldest: tuple[int, ...] | None = None  # linked, and the oldest Python it takes
        self._lock = threading.Lock()  # launchers prepare in threads, several at once
        self._sdk_warned: set[str] = set()
        self._pythons: dict[str, str] = {}
        self._rubies = RubyLocator(host_env or {})  # ruby.py: the Ruby of each runtime
        self._host_env: Mapping[str, str] = host_env or {}
        self._missing: dict[str, str | None] = {}  # runtime -> why the process backend cannot
        # java.py: the JDK of each runtime; its client compiled in the user cache, else here
        self._javas = JavaLocator(host_env or {}, sdk_dir.parent if sdk_dir else None)

    def command(
        self,
        runtime: str | None,
        code_dir: Path,
        opt_dir: Path | None,
        deps_dir: Path | None = None,
        memory_mb: int = 128,
    ) -> RuntimeCommand:
        """`deps_dir`: the function's built dependencies, seen as if they were in its code;
        `memory_mb`: MemorySize, which sizes a JVM's heap."""
        if runtime is None:
            raise InvalidRuntime("PackageType Image needs the docker backend")
        if runtime.startswith("python"):
            return self._python(runtime, code_dir, opt_dir, deps_dir)
        if runtime.startswith("nodejs"):
            return self._nodejs(runtime, code_dir, opt_dir, deps_dir)
        if runtime.startswith("ruby"):
            return self._ruby(runtime, code_dir, opt_dir, deps_dir)
        if runtime.startswith("java"):
            argv, env = self._javas.command(runtime, code_dir, opt_dir, deps_dir, memory_mb)
            return RuntimeCommand(argv, env)
        if runtime in PROVIDED:
            return provided(code_dir, opt_dir)
        raise InvalidRuntime(
            f"The runtime parameter of {runtime} is not supported by samrun's process backend."
        )

    def missing(self, runtime: str | None) -> str | None:
        """None when this machine runs `runtime` on the process backend; else why not, in a
        user's words (such a function runs on the docker backend when an engine answers, else
        it is named as not run). Looked up once per runtime."""
        if runtime is None:
            return "PackageType Image functions run in a container"
        if runtime not in self._missing:
            self._missing[runtime] = self._why_missing(runtime)
        return self._missing[runtime]

    def _why_missing(self, runtime: str) -> str | None:
        if runtime.startswith("python"):
            if runtime.removeprefix("python") in PYTHON_VERSIONS:
                return None  # (the running Python stands in for one the machine lacks)
            return f"{runtime} is not among the Pythons samrun's process backend runs"
        if runtime.startswith("nodejs"):
            major = runtime.removeprefix("nodejs").removesuffix(".x")
            if major not in NODE_MAJORS:
                return f"{runtime} is not among the Node.js versions samrun's process backend runs"
            if shutil.which("node") is None and self.node_for(major) is None:
                return f"no Node.js found: {runtime} needs `node` on this machine's PATH"
            return None
        if runtime in PROVIDED:
            return None
        for family in ("java", "ruby"):
            if runtime.startswith(family):
                return language_missing(family, runtime, self._host_env)
        if runtime.startswith("dotnet"):
            return f"{runtime}: samrun's process backend has no .NET runtime client"
        return f"{runtime} is not a runtime samrun's process backend knows"

    def python_for(self, version: str) -> str:
        """That interpreter when it is on the machine and runs, else the running one."""
        with self._lock:
            if version not in self._pythons:
                self._pythons[version] = find_python(version, self._search)
            return self._pythons[version]

    def _python(
        self, runtime: str, code_dir: Path, opt_dir: Path | None, deps_dir: Path | None
    ) -> RuntimeCommand:
        version = runtime.removeprefix("python")
        if version not in PYTHON_VERSIONS:
            raise InvalidRuntime(f"The runtime parameter of {runtime} is not supported.")
        interpreter = self.python_for(version)
        paths = [str(code_dir), *([str(deps_dir)] if deps_dir else [])]
        if opt_dir is not None:
            paths += [
                str(opt_dir / "python" / "lib" / f"python{version}" / "site-packages"),
                str(opt_dir / "python"),
            ]
        if self._sdk_dir is not None and self._sdk_supports(version):
            assert self._sdk_path is not None
            self.compile_for(runtime, [self._sdk_path])  # once per Python: a marker says so
            paths.append(str(self._sdk_path))
        # No bytecode written beside the user's sources (Lambda's /var/task is read-only too);
        # the stdlib's and pip-installed packages' own bytecode is still read.
        env = {"PYTHONPATH": ":".join(paths), "PYTHONDONTWRITEBYTECODE": "1"}
        return RuntimeCommand(python_argv(interpreter), env, lane=True)

    def _sdk_supports(self, version: str, *, say: bool = True) -> bool:
        """Link the SDK once; say once (when a function of it starts) when a Python is too old
        for the SDK samrun has."""
        assert self._sdk_dir is not None
        with self._lock:
            if self._sdk_oldest is None:
                self._sdk_path = self._link_sdk(self._sdk_dir)
                self._sdk_oldest = sdk_minimum_python()
            oldest = self._sdk_oldest
            if say and as_tuple(version) < oldest and version not in self._sdk_warned:
                self._sdk_warned.add(version)
                logger.warning(
                    "python%s functions run without boto3: the AWS SDK samrun has needs "
                    "Python %d.%d or newer",
                    version,
                    *oldest,
                )
        return as_tuple(version) >= oldest

    def _link_sdk(self, state_link: Path) -> Path:
        """The SDK's tree of links in the user cache, where its bytecode for each Python is
        compiled; without a cache (or one that cannot be written), links in the state folder."""
        if self._bytecode_cache is not None:
            try:
                return sdk_tree(sdk_site_packages(), SDK_PACKAGES, self._bytecode_cache)
            except OSError as exc:
                logger.warning(
                    "the AWS SDK is not compiled for functions' Pythons (%s): %s",
                    self._bytecode_cache,
                    exc,
                )
        link_python_sdk(state_link)
        return state_link

    def compile_for(self, runtime: str | None, folders: Iterable[Path]) -> None:
        """Compile `folders` (samrun's: the SDK's tree, built dependencies, layers it built or
        unpacked) once for the Python that runs `runtime`, so its cold starts read bytecode."""
        version = (runtime or "").removeprefix("python")
        if self._bytecode_cache is None or not (runtime or "").startswith("python"):
            return
        if version not in PYTHON_VERSIONS:
            return
        interpreter = self.python_for(version)
        for folder in folders:
            self._compiler.ensure(interpreter, folder)

    def _ruby(
        self, runtime: str, code_dir: Path, opt_dir: Path | None, deps_dir: Path | None
    ) -> RuntimeCommand:
        """The machine's Ruby runs samrun's Ruby runtime client (runtime/ruby.py)."""
        ruby = self._rubies.ruby_for(runtime)
        argv, env = command_parts(runtime, ruby, code_dir, opt_dir, deps_dir)
        return RuntimeCommand(argv, env)

    def _nodejs(
        self, runtime: str, code_dir: Path, opt_dir: Path | None, deps_dir: Path | None
    ) -> RuntimeCommand:
        major = runtime.removeprefix("nodejs").removesuffix(".x")
        if major not in NODE_MAJORS:
            raise InvalidRuntime(f"The runtime parameter of {runtime} is not supported.")
        node = self.node_for(major)
        if node is None:
            raise InvalidRuntime(f"{runtime} needs `node` on this machine's PATH")
        # The function's own node_modules (deps_dir) come first, as /var/task/node_modules does
        # on Lambda; then layers, then the runtime's AWS SDK (/var/runtime/node_modules).
        paths = [str(deps_dir)] if deps_dir else []
        if opt_dir is not None:
            paths += [
                str(opt_dir / "nodejs" / f"node{major}" / "node_modules"),
                str(opt_dir / "nodejs" / "node_modules"),
            ]
        sdk = self._node_sdk / "node_modules" if self._node_sdk else None
        if sdk is not None and (sdk / "@aws-sdk").is_dir():
            paths.append(str(sdk))
        paths.append(str(code_dir))  # Lambda's NODE_PATH ends with /var/task
        return RuntimeCommand(node_argv(node), {"NODE_PATH": ":".join(paths)}, lane=True)

    def node_for(self, major: str) -> str | None:
        """node `major` when it is installed (PATH, nvm, fnm, volta, n), else the PATH's node
        (said once), else None (said once)."""
        with self._lock:
            if major not in self._nodes:
                self._nodes[major] = find_node(major, self._node_search)
            return self._nodes[major]

    def clients(self, runtimes: Iterable[str | None]) -> list[tuple[str, ...]]:
        """How samrun's own runtime clients start for the Python and Node.js runtimes among
        `runtimes` (each interpreter once): what spares are started as."""
        argvs = set()
        for runtime in {r for r in runtimes if r}:
            if runtime.startswith("python") and runtime[6:] in PYTHON_VERSIONS:
                argvs.add(python_argv(self.python_for(runtime[6:])))
            major = runtime.removeprefix("nodejs").removesuffix(".x")
            if runtime.startswith("nodejs") and major in NODE_MAJORS:
                node = self.node_for(major)
                if node is not None:
                    argvs.add(node_argv(node))
        return sorted(argvs)

    def warn_missing(self, runtimes: Iterable[str | None]) -> None:
        """Look up each runtime's interpreter now, so what is missing (and what runs instead)
        is said at startup rather than at the first invoke; and compile the AWS SDK for each
        Python among them (once per machine: it stays in the user cache), so the first cold
        start does not wait for it."""
        for runtime in sorted({r for r in runtimes if r}):
            if runtime.startswith("python"):
                version = runtime.removeprefix("python")
                if version in PYTHON_VERSIONS:
                    self.python_for(version)
                    if self._sdk_dir is not None and self._sdk_supports(version, say=False):
                        assert self._sdk_path is not None
                        self.compile_for(runtime, [self._sdk_path])
            elif runtime.startswith("ruby"):
                self._rubies.warn_missing(runtime)
            elif runtime.startswith("java"):
                self._javas.warn_missing(runtime)  # (and compiles the client once)
            elif runtime.startswith("nodejs"):
                major = runtime.removeprefix("nodejs").removesuffix(".x")
                if major in NODE_MAJORS and self.node_for(major) is None:
                    logger.warning(
                        "%s functions cannot start: node is not on this machine's PATH", runtime
                    )


def language_missing(family: str, runtime: str, host_env: Mapping[str, str]) -> str | None:
    """What samrun/runtime/java.py or ruby.py says of `runtime` on this machine (`missing`)."""
    try:
        module = importlib.import_module(f"samrun.runtime.{family}")
    except ImportError:
        module = None
    check = getattr(module, "missing", None)
    if check is None:
        return f"{runtime}: samrun's process backend does not run this runtime"
    found: str | None = check(runtime, host_env)
    return found


def provided(code_dir: Path, opt_dir: Path | None) -> RuntimeCommand:
    """OS-only runtimes run the function's own `bootstrap`, from the code or from a layer."""
    for candidate in (code_dir / "bootstrap", *([opt_dir / "bootstrap"] if opt_dir else [])):
        if candidate.is_file():
            if not os.access(candidate, os.X_OK):
                raise InvalidEntrypoint(f"fork/exec {candidate}: permission denied")
            return RuntimeCommand((str(candidate),), {})
    raise InvalidEntrypoint(
        "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]"
    )


SDK_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six.py")


def sdk_site_packages() -> Path:
    """Where the AWS SDK for Python that samrun itself runs with is installed (pure Python,
    so any python3.9+ can import it): what Lambda's runtimes provide besides the stdlib."""
    import botocore

    return Path(botocore.__file__).resolve().parent.parent


def link_python_sdk(folder: Path) -> None:
    """A folder of links to the SDK's packages (SAMRUN_PYTHON_BYTECODE=off, or no cache)."""
    site_packages = sdk_site_packages()
    folder.mkdir(parents=True, exist_ok=True)
    for name in SDK_PACKAGES:
        link, target = folder / name, site_packages / name
        if target.exists() and not link.is_symlink():
            with contextlib.suppress(FileExistsError):  # another samrun on this state folder
                link.symlink_to(target)


def sdk_minimum_python() -> tuple[int, ...]:
    """The oldest Python the installed SDK supports (its packages' Requires-Python)."""
    oldest: tuple[int, ...] = (3, 0)
    for package in ("boto3", "botocore", "s3transfer", "urllib3"):
        requires = importlib.metadata.metadata(package)["Requires-Python"] or ""
        for clause in requires.split(","):
            if clause.strip().startswith(">="):
                oldest = max(oldest, as_tuple(clause.strip()[2:].strip()))
    return oldest


def as_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def python_homes(host_env: Mapping[str, str]) -> list[Path]:
    """Where interpreters live besides the PATH: pyenv's and uv's version folders."""
    home = Path(host_env.get("HOME", "/root"))
    pyenv = Path(host_env.get("PYENV_ROOT", home / ".pyenv"))
    return [pyenv / "versions", home / ".local" / "share" / "uv" / "python"]


def find_python(version: str, homes: list[Path]) -> str:
    """That interpreter when it is on the machine and runs (on the PATH, or installed by pyenv
    or uv), else the running one."""
    found = locate_python(version, homes)
    if found is None:
        running = f"{sys.version_info.major}.{sys.version_info.minor}"
        logger.warning(
            "python%s is not on this machine: python%s runs its functions", version, running
        )
        return sys.executable
    return found


def locate_python(version: str, homes: list[Path]) -> str | None:
    """That interpreter when it is on the machine and runs, else None."""
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    if version == running:
        return sys.executable
    candidates = [shutil.which(f"python{version}")]
    for home in homes:  # newest patch release first: 3.12.10 before 3.12.9
        installs = sorted(home.glob(f"*{version}.[0-9]*"), key=patch, reverse=True)
        candidates += [str(install / "bin" / f"python{version}") for install in installs]
    for candidate in candidates:
        if candidate and Path(candidate).exists() and runs(candidate):
            return candidate
    return None


def node_homes(host_env: Mapping[str, str]) -> list[Path]:
    """Where version managers keep Node.js installs: nvm, fnm, volta, n."""
    home = Path(host_env.get("HOME", "/root"))
    nvm = Path(host_env.get("NVM_DIR", home / ".nvm"))
    return [
        nvm / "versions" / "node",
        home / ".local" / "share" / "fnm" / "node-versions",
        home / ".volta" / "tools" / "image" / "node",
        Path(host_env.get("N_PREFIX", "/usr/local")) / "n" / "versions" / "node",
    ]


def find_node(major: str, homes: list[Path]) -> str | None:
    """node `major` from the PATH or a version manager; else the PATH's node, with a warning
    naming the version that runs instead; else None."""
    default = shutil.which("node")
    candidates = [shutil.which(f"node{major}"), default]
    for home in homes:
        installs = sorted(home.glob(f"v{major}.*"), key=patch, reverse=True)
        installs += sorted(home.glob(f"{major}.*"), key=patch, reverse=True)
        for install in installs:
            candidates += [str(install / "bin" / "node"), str(install / "installation/bin/node")]
    for candidate in candidates:
        if candidate and Path(candidate).exists() and node_major(candidate) == major:
            return candidate
    if default is not None:
        logger.warning(
            "node %s is not on this machine: node %s runs nodejs%s.x functions",
            major,
            node_major(default) or "?",
            major,
        )
    return default


def node_major(node: str) -> str | None:
    try:
        done = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    version = done.stdout.strip().removeprefix("v")
    return version.split(".")[0] if done.returncode == 0 and version else None


def patch(install: Path) -> tuple[int, ...]:
    """(3, 12, 10) from `3.12.10`, `v20.1.0` or `cpython-3.12.10-linux-x86_64-gnu`."""
    numbers = install.name.removeprefix("cpython-").removeprefix("v").split("-")[0].split(".")
    return tuple(int(n) for n in numbers if n.isdigit())


def runs(interpreter: str) -> bool:
    """pyenv shims exist for versions that are not active; only a run tells."""
    try:
        return (
            subprocess.run([interpreter, "-c", "pass"], capture_output=True, timeout=10).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
