"""Ruby dependencies: Bundler, as `sam build` runs it (aws-lambda-builders' ruby_bundler
workflow), on a copy of the code in the state folder, never in the user's sources.

SAM CLI copies the code, sets `without development:test`, runs `bundle install`, then sets
`deployment true` and runs it again: the gems land in the copy's `vendor/bundle`, with the
`Gemfile.lock` and `.bundle/config` beside them. samrun does the same, with `path vendor/bundle`
set first so that no gem is ever installed into the machine's own gems. The copy is the
function's `Code.dependencies`: its gems go on GEM_PATH and its Gemfile is BUNDLE_GEMFILE
(runtime/ruby.py), while the function's code still runs from its own folder.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from samrun.build import steps
from samrun.build.items import BuildItem
from samrun.runtime.ruby import Ruby, discover, pick

HINT = "install Bundler (Debian: apt-get install ruby-bundler)"
MANIFEST_FILES = ("Gemfile", "Gemfile.lock", ".bundle/config")
# A Gemfile that takes gems from the sources themselves (`path:`, `gemspec`): the copy of those
# sources is part of the build, so the whole folder decides it (build/cache.py).
LOCAL_GEMS = re.compile(r"""\bpath\s*:|:path\s*=>|^\s*gemspec\b""", re.MULTILINE)
# samrun run under `bundle exec` would hand its Gemfile and `-rbundler/setup` down: the build
# names its own Gemfile.
BUNDLE_ENV = {"RUBYOPT": ""}


def has_gemfile(folder: Path) -> bool:
    return (folder / "Gemfile").is_file()


def uses_local_gems(folder: Path) -> bool:
    try:
        return bool(LOCAL_GEMS.search((folder / "Gemfile").read_text(errors="replace")))
    except OSError:
        return False


def ruby_of(item: BuildItem, host_env: Mapping[str, str]) -> Ruby | None:
    """The Ruby that runs `item`'s functions here (runtime/ruby.py picks it the same way)."""
    return pick(item.runtime, discover(host_env))


def variant(item: BuildItem, host_env: Mapping[str, str]) -> str:
    """What the gems are built for, part of the cache key: the Ruby's ABI (its folder under
    vendor/bundle/ruby) and version."""
    ruby = ruby_of(item, host_env)
    return f"ruby-{ruby.abi}-{ruby.version}" if ruby else "ruby-none"


def bundle_command(item: BuildItem, host_env: Mapping[str, str]) -> str:
    """The `bundle` beside the Ruby that runs the functions, else the PATH's."""
    ruby = ruby_of(item, host_env)
    if ruby is None:
        raise steps.StepFailed(f"no Ruby found to build {item.label}: install Ruby")
    beside = Path(ruby.path).parent / "bundle"
    if beside.is_file():
        return str(beside)
    return steps.tool("bundle", HINT)


def install(folder: Path, bundle: str, log: Path) -> None:
    """`bundle install` as `sam build` runs it, in `folder` (a copy), into folder/vendor/bundle."""
    env = {**BUNDLE_ENV, "BUNDLE_GEMFILE": str(folder / "Gemfile")}
    for setting in (("path", "vendor/bundle"), ("without", "development:test")):
        argv = [bundle, "config", "set", "--local", *setting]
        steps.run(argv, what="bundle config", cwd=folder, log=log, env=env)
    steps.run([bundle, "install"], what="bundle install", cwd=folder, log=log, env=env)
    argv = [bundle, "config", "set", "--local", "deployment", "true"]
    steps.run(argv, what="bundle config", cwd=folder, log=log, env=env)
    steps.run([bundle, "install"], what="bundle install", cwd=folder, log=log, env=env)


def build_function(item: BuildItem, out: Path, ws: steps.Workspace) -> None:
    """A copy of the function's folder with its gems under vendor/bundle (the copy is `out`)."""
    bundle = bundle_command(item, ws.host_env)
    steps.copy_tree(item.source, out, ws.state_dir)  # (its .bundle/config too, as SAM CLI's)
    install(out, bundle, ws.log)
