"""Java functions on the process backend: which JDK runs a runtime, how its JVM starts (Lambda's
flags, the heap sized from MemorySize), and samrun's Java runtime client, compiled once.

The JDK is the machine's: the one of the runtime's major version when one is found (JAVA_HOME,
the PATH's `java`, SDKMAN's candidates, /usr/lib/jvm), else the newest, said once when it is
older than the runtime asks. samrun's runtime client (bootstraps/java/: the Runtime API loop, a
JSON binder, and the interfaces of aws-lambda-java-core) ships as source and is compiled with
`--release 8` (classes every JDK runs) by the first javac found, once per javac and version of
the sources, into the user cache (~/.cache/samrun/java-client/KEY), published whole under a
file lock, so concurrent launches and concurrent samruns share one compile. Nothing is
downloaded at run time.

The classpath is Lambda's: the code folder (the `com/...` tree `sam build` leaves), its
`lib/*.jar`, the layers' `java/lib/*.jar`, then the client (after the function's classes, so a
function that packages aws-lambda-java-core uses its own copy of the interfaces).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from samrun.errors import InvalidRuntime
from samrun.runtime import bytecode

logger = logging.getLogger(__name__)

JAVA_MAJORS = {"java8": 8, "java8.al2": 8, "java11": 11, "java17": 17, "java21": 21, "java25": 25}
CLIENT_SOURCES = Path(__file__).parent / "bootstraps" / "java"
MAIN_CLASS = "samrun.lambda.Bootstrap"
INSTALL_HINT = "install a JDK (Debian: apt-get install openjdk-17-jdk-headless) or set JAVA_HOME"
MARKER = ".complete"  # in a compiled client's folder: the digest of the sources it came from
SYSTEM_JDKS = Path("/usr/lib/jvm")  # Debian's and Red Hat's packages, Temurin's too
COMPILE_TIMEOUT_S = 300.0
PROBE_TIMEOUT_S = 20.0


@dataclass(frozen=True, slots=True)
class Jdk:
    """One Java install on this machine."""

    home: Path
    major: int

    @property
    def java(self) -> Path:
        return self.home / "bin" / "java"

    @property
    def javac(self) -> Path | None:
        javac = self.home / "bin" / "javac"
        return javac if os.access(javac, os.X_OK) else None


def jdk_homes(host_env: Mapping[str, str]) -> list[Path]:
    """Where JDKs are looked for, in order: JAVA_HOME, the PATH's `java`, SDKMAN, /usr/lib/jvm."""
    homes: list[Path] = []
    if value := host_env.get("JAVA_HOME"):
        homes.append(Path(value))
    path = host_env.get("PATH", os.environ.get("PATH", ""))
    if found := shutil.which("java", path=path):
        homes.append(home_of(Path(found).resolve()))
    home = Path(host_env.get("HOME") or Path.home())
    sdkman = Path(host_env.get("SDKMAN_DIR") or home / ".sdkman") / "candidates" / "java"
    for root in (sdkman, SYSTEM_JDKS):
        if root.is_dir():
            homes += sorted((p for p in root.iterdir() if p.name != "current"), reverse=True)
    return homes


def home_of(java: Path) -> Path:
    """bin/java's JDK (a JDK 8's jre/bin/java belongs to the JDK above its jre)."""
    home = java.parent.parent
    if home.name == "jre" and (home.parent / "bin" / "java").exists():
        return home.parent
    return home


def jdk_at(home: Path) -> Jdk | None:
    """The install at `home` when its `java` is there, with its major version."""
    if not os.access(home / "bin" / "java", os.X_OK):
        return None
    major = release_major(home) or probe_major(home / "bin" / "java")
    return Jdk(home, major) if major else None


def release_major(home: Path) -> int | None:
    """The major version the install's `release` file names (JAVA_VERSION="1.8.0_392" -> 8)."""
    try:
        text = (home / "release").read_text(errors="replace")
    except OSError:
        return None
    found = re.search(r'^JAVA_VERSION="([^"]+)"', text, re.M)
    return major_of(found.group(1)) if found else None


def probe_major(java: Path) -> int | None:
    """`java -version`'s major version."""
    try:
        done = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=PROBE_TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r'version "([^"]+)"', done.stderr + done.stdout)
    return major_of(found.group(1)) if found else None


def major_of(version: str) -> int | None:
    parts = re.findall(r"\d+", version)
    if not parts:
        return None
    return int(parts[1]) if parts[0] == "1" and len(parts) > 1 else int(parts[0])


_found: dict[tuple[str, ...], tuple[Jdk, ...]] = {}
_found_lock = threading.Lock()


def find_jdks(host_env: Mapping[str, str]) -> tuple[Jdk, ...]:
    """Every JDK on the machine, in search order, each install once (looked up once)."""
    keys = ("JAVA_HOME", "PATH", "HOME", "SDKMAN_DIR")
    key = tuple(host_env.get(name, "") for name in keys)
    with _found_lock:
        if key not in _found:
            jdks: list[Jdk] = []
            seen: set[Path] = set()
            for home in jdk_homes(host_env):
                real = home.resolve()
                if real in seen:
                    continue
                seen.add(real)
                if (jdk := jdk_at(real)) is not None:
                    jdks.append(jdk)
            _found[key] = tuple(jdks)
        return _found[key]


def choose(runtime: str, jdks: tuple[Jdk, ...]) -> Jdk | None:
    """The first JDK of the runtime's major version, else the newest; None without any."""
    wanted = JAVA_MAJORS.get(runtime)
    for jdk in jdks:
        if jdk.major == wanted:
            return jdk
    return max(jdks, key=lambda jdk: jdk.major, default=None)


def compiler_for(jdk: Jdk, jdks: tuple[Jdk, ...]) -> Jdk | None:
    """The JDK whose javac compiles the client for `jdk`: the first with a javac in search
    order (its `--release 8` classes run on every JDK, so all share one compile), else None."""
    return next((other for other in (*jdks, jdk) if other.javac is not None), None)


def missing(runtime: str | None, host_env: Mapping[str, str]) -> str | None:
    """None when this machine can run `runtime` on the process backend, else why not."""
    runtime = runtime or ""
    if runtime not in JAVA_MAJORS:
        return f"{runtime} is not a Java runtime samrun knows"
    jdks = find_jdks(host_env)
    jdk = choose(runtime, jdks)
    if jdk is None:
        return f"no JDK found: {INSTALL_HINT}"
    if compiler_for(jdk, jdks) is None and not any(compiled_clients(host_env)):
        return f"no javac found to compile samrun's Java runtime client: {INSTALL_HINT}"
    return None


def cache_folder(environ: Mapping[str, str]) -> Path:
    """samrun's user cache, as runtime/bytecode.py names it (SAMRUN_CACHE_DIR, XDG_CACHE_HOME,
    ~/.cache/samrun); its Python switch does not concern Java."""
    without_switch = {key: value for key, value in environ.items() if key != bytecode.SWITCH}
    folder = bytecode.cache_dir(without_switch)
    assert folder is not None
    return folder / "java-client"


def compiled_clients(host_env: Mapping[str, str]) -> list[Path]:
    """Clients of these sources already compiled in the cache (by any javac): what a machine
    with a JRE and no javac can still run."""
    folder = cache_folder({**os.environ, **host_env})
    if not folder.is_dir():
        return []
    digest = sources_digest()
    return [p for p in sorted(folder.glob("*")) if read_marker(p) == digest]


def read_marker(folder: Path) -> str | None:
    try:
        return (folder / MARKER).read_text().strip()
    except OSError:
        return None


def client_sources() -> list[Path]:
    return sorted(CLIENT_SOURCES.rglob("*.java"))


def sources_digest() -> str:
    digest = hashlib.sha256()
    for source in client_sources():
        digest.update(str(source.relative_to(CLIENT_SOURCES)).encode() + b"\0")
        digest.update(source.read_bytes())
    return digest.hexdigest()


def client_key(javac: Path, release: int) -> str:
    """One compiled client per javac, release and version of the sources."""
    key = f"{javac.resolve()}\0{release}\0{sources_digest()}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def compile_client(compiler: Jdk, target: Jdk, cache: Path) -> Path:
    """The client's classes for `target`, compiled by `compiler`'s javac into `cache` once:
    `--release 8` where javac still offers it (the classes then run on any JDK), else the
    target's own version. A lock file makes concurrent samruns wait for one compile."""
    javac = compiler.javac
    assert javac is not None
    releases = [8] if compiler.major >= 9 else []
    if target.major not in releases and target.major <= compiler.major:
        releases.append(target.major)
    problem = "no --release of it runs on this JDK"
    for release in releases:
        folder = cache / client_key(javac, release)
        if (folder / MARKER).exists():
            return folder
        cache.mkdir(parents=True, exist_ok=True)
        with open(cache / f".{folder.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if (folder / MARKER).exists():
                return folder
            problem = run_javac(javac, compiler.major, release, folder)
            if not problem:
                return folder
    raise InvalidRuntime(f"samrun's Java runtime client does not compile with {javac}: {problem}")


def run_javac(javac: Path, javac_major: int, release: int, folder: Path) -> str:
    """Compile into a staging folder and publish it whole; '' when done, else javac's words."""
    staging = folder.with_name(f".{folder.name}.{os.getpid()}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    target = ["--release", str(release)] if javac_major >= 9 else ["-source", "8", "-target", "8"]
    argv = [
        str(javac),
        *target,
        "-encoding",
        "UTF-8",
        "-nowarn",
        "-Xlint:-options",
        "-d",
        str(staging),
        *map(str, client_sources()),
    ]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S)
        if done.returncode != 0:
            lines = (done.stdout + done.stderr).strip().splitlines()
            return " / ".join(lines[-4:]) or f"exit status {done.returncode}"
        (staging / MARKER).write_text(sources_digest())
        shutil.rmtree(folder, ignore_errors=True)
        staging.rename(folder)
        return ""
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def jvm_options(runtime: str, jdk_major: int, memory_mb: int) -> list[str]:
    """How Lambda's Java runtimes start their JVM (as their command lines show, per runtime):
    the heap and, for java8.al2/java11, metaspace and code cache sized from MemorySize; the
    serial GC; tiered compilation stopped at C1 on java17+, off before. Plus samrun's own:
    UTF-8 as the default charset (what Lambda's en_US.UTF-8 locale gives), and no perf-data
    file (the JVM would write it to the machine's shared /tmp, outside the instance's)."""
    kb = memory_mb * 1024
    major = JAVA_MAJORS.get(runtime, jdk_major)
    if major <= 11:
        heap = 0.70 if major == 8 else 0.85
        options = [
            f"-XX:MaxHeapSize={round(kb * heap)}k",
            f"-XX:MaxMetaspaceSize={round(kb * 0.10)}k",
            f"-XX:ReservedCodeCacheSize={round(kb * 0.05)}k",
            "-XX:+UseSerialGC",
            "-XX:-TieredCompilation",
            "-Djava.net.preferIPv4Stack=true",
        ]
    else:
        options = [
            f"-XX:MaxHeapSize={round(kb * 0.85)}k",
            "-XX:+UseSerialGC",
            "-XX:+TieredCompilation",
            "-XX:TieredStopAtLevel=1",
        ]
    if jdk_major >= 9 and major >= 17:
        options.append("--add-opens=java.base/java.io=ALL-UNNAMED")
    if jdk_major >= 11:
        options.append("-XX:+ErrorFileToStderr")
    return [*options, "-XX:-UsePerfData", "-Dfile.encoding=UTF-8"]


def classpath(code_dir: Path, opt_dir: Path | None, deps_dir: Path | None) -> list[str]:
    """Lambda's: the code root, its lib/*.jar, then the layers' java/lib/*.jar; built
    dependencies kept in the state folder (samrun build) count as the code's."""
    roots = [code_dir, *([deps_dir] if deps_dir else [])]
    entries = [str(root) for root in roots]
    for folder in [
        *(root / "lib" for root in roots),
        *([opt_dir / "java" / "lib"] if opt_dir else []),
    ]:
        if folder.is_dir():
            entries += [str(jar) for jar in sorted(folder.glob("*.jar")) if jar.is_file()]
    return entries


class JavaLocator:
    """Finds the JDK of each runtime once, says once what runs instead, compiles the client."""

    def __init__(self, host_env: Mapping[str, str], state_dir: Path | None = None) -> None:
        """`state_dir`: where the client is compiled when the user cache cannot be written."""
        self._host_env = host_env
        self._cache = cache_folder({**os.environ, **host_env})
        self._fallback = (state_dir or Path(tempfile.gettempdir())) / "java-client"
        self._lock = threading.Lock()
        self._said: set[str] = set()
        self._clients: dict[Path, Path] = {}

    def jdk_for(self, runtime: str) -> Jdk:
        """The JDK that runs `runtime` (said once when it is not the runtime's version)."""
        if runtime not in JAVA_MAJORS:
            raise InvalidRuntime(f"The runtime parameter of {runtime} is not supported.")
        jdk = choose(runtime, find_jdks(self._host_env))
        if jdk is None:
            raise InvalidRuntime(f"{runtime} cannot run: no JDK found: {INSTALL_HINT}")
        wanted = JAVA_MAJORS[runtime]
        with self._lock:
            if jdk.major != wanted and runtime not in self._said:
                self._said.add(runtime)
                say = logger.warning if jdk.major < wanted else logger.info
                say(
                    "Java %d is not on this machine: %s functions run on Java %d (%s)",
                    wanted,
                    runtime,
                    jdk.major,
                    jdk.home,
                )
        return jdk

    def client_for(self, jdk: Jdk) -> Path:
        """The compiled runtime client for `jdk` (compiled on first use)."""
        with self._lock:
            if jdk.home in self._clients:
                return self._clients[jdk.home]
        compiler = compiler_for(jdk, find_jdks(self._host_env))
        if compiler is None:
            ready = compiled_clients(self._host_env)
            if not ready:
                raise InvalidRuntime(
                    f"no javac found to compile samrun's Java runtime client: {INSTALL_HINT}"
                )
            folder = ready[0]
        else:
            try:
                folder = compile_client(compiler, jdk, self._cache)
            except OSError as exc:
                logger.info("the Java runtime client is not cached in %s: %s", self._cache, exc)
                folder = compile_client(compiler, jdk, self._fallback)
        with self._lock:
            self._clients[jdk.home] = folder
        return folder

    def command(
        self,
        runtime: str,
        code_dir: Path,
        opt_dir: Path | None,
        deps_dir: Path | None,
        memory_mb: int,
    ) -> tuple[tuple[str, ...], dict[str, str]]:
        """The JVM's argv for an instance of `runtime` with `memory_mb`; JAVA_TOOL_OPTIONS, the
        JVM's own variable, reaches it through the function's environment."""
        jdk = self.jdk_for(runtime)
        client = self.client_for(jdk)
        entries = [*classpath(code_dir, opt_dir, deps_dir), str(client)]
        argv = (
            str(jdk.java),
            *jvm_options(runtime, jdk.major, memory_mb),
            "-classpath",
            ":".join(entries),
            MAIN_CLASS,
        )
        return argv, {}

    def warn_missing(self, runtime: str) -> None:
        """Look the JDK up and compile the client now, so what is missing is said at startup
        and the first cold start does not wait for javac."""
        try:
            self.client_for(self.jdk_for(runtime))
        except InvalidRuntime as exc:
            if runtime not in self._said:
                self._said.add(runtime)
                logger.warning("%s functions cannot start: %s", runtime, exc)


def forget() -> None:
    """Look the JDKs up again (tests that change what is installed)."""
    with _found_lock:
        _found.clear()


__all__ = ["JAVA_MAJORS", "JavaLocator", "Jdk", "find_jdks", "forget", "jvm_options", "missing"]
