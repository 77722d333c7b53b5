"""Ruby functions on the process backend: which `ruby` runs a runtime, and the paths Lambda's
Ruby runtimes set (GEM_PATH, RUBYLIB) for code, layers and Bundler's `vendor/bundle`.

The interpreter is the machine's: the one of the runtime's version when one is found (the PATH,
rbenv, rvm, chruby), else the newest, said once. samrun's runtime client
(bootstraps/ruby/bootstrap.rb) is plain Ruby, so any Ruby 2.7+ runs it.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from samrun.errors import InvalidRuntime

logger = logging.getLogger(__name__)

RUBY_VERSIONS = ("3.2", "3.3", "3.4")
BOOTSTRAP = str(Path(__file__).parent / "bootstraps" / "ruby" / "bootstrap.rb")
# One line each: the version, the ABI folder (vendor/bundle/ruby/<it>), its own gem paths.
PROBE = 'puts RUBY_VERSION, RbConfig::CONFIG["ruby_version"], Gem.default_path.join(":")'
INSTALL_HINT = "install Ruby (Debian: apt-get install ruby) or put its `ruby` on the PATH"


@dataclass(frozen=True, slots=True)
class Ruby:
    """One interpreter on this machine."""

    path: str
    version: str  # 3.1.2
    abi: str  # 3.1.0: the folder RubyGems and Bundler install into for it
    gem_path: tuple[str, ...]  # its own gems: what stands for the gems Lambda's runtime carries

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])


def ruby_homes(host_env: Mapping[str, str]) -> list[Path]:
    """Where version managers keep Rubies: rbenv, rvm, chruby (each install has bin/ruby)."""
    home = Path(host_env.get("HOME", "/root"))
    rbenv = Path(host_env.get("RBENV_ROOT", home / ".rbenv"))
    rvm = Path(host_env.get("rvm_path", home / ".rvm"))
    return [rbenv / "versions", rvm / "rubies", home / ".rubies", Path("/opt/rubies")]


def candidates(host_env: Mapping[str, str]) -> list[str]:
    """Every `ruby` worth asking its version: the PATH's (and Debian's `rubyX.Y` names), then
    each version manager's installs."""
    path = host_env.get("PATH", os.environ.get("PATH", ""))
    found = [shutil.which("ruby", path=path)]
    found += [shutil.which(f"ruby{version}", path=path) for version in RUBY_VERSIONS]
    for home in ruby_homes(host_env):
        if home.is_dir():
            found += [str(install / "bin" / "ruby") for install in sorted(home.iterdir())]
    unique: dict[str, str] = {}
    for candidate in found:
        if candidate and os.access(candidate, os.X_OK):
            unique.setdefault(os.path.realpath(candidate), candidate)
    return list(unique.values())


def probe(ruby: str) -> Ruby | None:
    """What `ruby` is, or None when it does not run (an rbenv shim of no installed version)."""
    try:
        done = subprocess.run(
            [ruby, "-e", PROBE],
            capture_output=True,
            text=True,
            timeout=20,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = done.stdout.splitlines()
    if done.returncode != 0 or len(lines) < 2:
        return None
    gem_path = tuple(p for p in (lines[2] if len(lines) > 2 else "").split(":") if p)
    return Ruby(ruby, lines[0].strip(), lines[1].strip(), gem_path)


def numbers(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


_discovered: dict[tuple[str, ...], list[Ruby]] = {}
_discover_lock = threading.Lock()


def discover(host_env: Mapping[str, str]) -> list[Ruby]:
    """Every Ruby on this machine, newest first; asked once per process (per PATH and HOME)."""
    key = tuple(host_env.get(k, "") for k in ("PATH", "HOME", "RBENV_ROOT", "rvm_path"))
    with _discover_lock:
        if key not in _discovered:
            found = [r for r in map(probe, candidates(host_env)) if r is not None]
            _discovered[key] = sorted(found, key=lambda r: numbers(r.version), reverse=True)
        return _discovered[key]


def pick(runtime: str, rubies: list[Ruby]) -> Ruby | None:
    """The Ruby of the runtime's version, else the newest; None when there is none."""
    version = runtime.removeprefix("ruby")
    return next((r for r in rubies if r.minor == version), rubies[0] if rubies else None)


def missing(runtime: str | None, host_env: Mapping[str, str]) -> str | None:
    """None when this machine can run `runtime` on the process backend, else why not, in a
    user's words."""
    version = (runtime or "").removeprefix("ruby")
    if version not in RUBY_VERSIONS:
        names = ", ".join(f"ruby{v}" for v in RUBY_VERSIONS)
        return f"{runtime} is not a Ruby runtime samrun runs (it runs {names})"
    if not discover(host_env):
        return f"no Ruby found: {INSTALL_HINT}"
    return None


class RubyLocator:
    """Picks the Ruby of each runtime once, and says once when another version stands in."""

    def __init__(self, host_env: Mapping[str, str]) -> None:
        self._host_env = dict(host_env)
        self._said: set[str] = set()
        self._lock = threading.Lock()

    def ruby_for(self, runtime: str) -> Ruby:
        """InvalidRuntime when the runtime is not one of Lambda's or no Ruby is installed."""
        problem = missing(runtime, self._host_env)
        if problem is not None:
            raise InvalidRuntime(problem)
        ruby = pick(runtime, discover(self._host_env))
        assert ruby is not None  # (missing() said there is one)
        self._say_stand_in(runtime, ruby)
        return ruby

    def _say_stand_in(self, runtime: str, ruby: Ruby) -> None:
        wanted = runtime.removeprefix("ruby")
        with self._lock:
            if ruby.minor == wanted or runtime in self._said:
                return
            self._said.add(runtime)
        relation = "older" if numbers(ruby.minor) < numbers(wanted) else "newer"
        logger.warning(
            "Ruby %s is not on this machine: %s functions run on Ruby %s (%s), %s than the "
            "runtime asks",
            wanted,
            runtime,
            ruby.version,
            ruby.path,
            relation,
        )

    def warn_missing(self, runtime: str) -> None:
        """At startup: say what runs the runtime (or why nothing does) before the first call."""
        problem = missing(runtime, self._host_env)
        if problem is not None:
            logger.warning("%s functions cannot start: %s", runtime, problem)
            return
        self.ruby_for(runtime)


def bundle_folders(root: Path, ruby: Ruby, runtime: str) -> list[str]:
    """`root`'s gem folders for this Ruby: its ABI's (what Bundler installs for it), then the
    runtime's own (a bundle made for Lambda's Ruby, when another version runs it here)."""
    lambdas = f"{runtime.removeprefix('ruby')}.0"
    return [str(root / name) for name in dict.fromkeys((ruby.abi, lambdas))]


def command_parts(
    runtime: str,
    ruby: Ruby,
    code_dir: Path,
    opt_dir: Path | None,
    deps_dir: Path | None,
) -> tuple[tuple[str, ...], dict[str, str]]:
    """The argv and the language variables of a Ruby function, as Lambda sets them:
    GEM_PATH=$LAMBDA_TASK_ROOT/vendor/bundle/ruby/X.Y.0:/opt/ruby/gems/X.Y.0 (then the runtime's
    own gems), RUBYLIB=$LAMBDA_TASK_ROOT:/opt/ruby/lib. What `samrun build` bundled (`deps_dir`,
    in the state folder) comes first, with BUNDLE_GEMFILE naming its Gemfile, so
    `require "bundler/setup"` finds the bundle as it does in the code `sam build` leaves."""
    gem_path: list[str] = []
    env: dict[str, str] = {}
    if deps_dir is not None:
        gem_path += bundle_folders(deps_dir / "vendor" / "bundle" / "ruby", ruby, runtime)
        if (deps_dir / "Gemfile").is_file():
            env["BUNDLE_GEMFILE"] = str(deps_dir / "Gemfile")
    gem_path += bundle_folders(code_dir / "vendor" / "bundle" / "ruby", ruby, runtime)
    rubylib = [str(code_dir)]
    if opt_dir is not None:
        gem_path += bundle_folders(opt_dir / "ruby" / "gems", ruby, runtime)
        rubylib.append(str(opt_dir / "ruby" / "lib"))
    gem_path += ruby.gem_path
    env["GEM_PATH"] = ":".join(dict.fromkeys(gem_path))
    env["RUBYLIB"] = ":".join(rubylib)
    return (ruby.path, BOOTSTRAP), env
