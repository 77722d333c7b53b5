"""Which Ruby runs a ruby3.X runtime (runtime/ruby.py), on stand-in `ruby` programs that answer
the probe as a Ruby of that version would: the PATH's, rbenv's and chruby's installs, the
matching version first, else the newest with one warning, and a reason when there is none."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from samrun.errors import InvalidRuntime
from samrun.runtime.ruby import RubyLocator, command_parts, missing


def fake_ruby(folder: Path, version: str) -> Path:
    """A `ruby` that answers samrun's probe (version, ABI folder, its own gem paths)."""
    folder.mkdir(parents=True, exist_ok=True)
    ruby = folder / "ruby"
    abi = ".".join(version.split(".")[:2]) + ".0"
    ruby.write_text(f"#!/bin/sh\nprintf '{version}\\n{abi}\\n/gems/{abi}:/more/{abi}\\n'\n")
    ruby.chmod(0o755)
    return ruby


@pytest.fixture
def machine(tmp_path: Path) -> dict[str, str]:
    fake_ruby(tmp_path / "bin", "3.1.2")
    fake_ruby(tmp_path / "home" / ".rbenv" / "versions" / "3.2.4" / "bin", "3.2.4")
    fake_ruby(tmp_path / "home" / ".rubies" / "ruby-3.3.6" / "bin", "3.3.6")
    return {"PATH": str(tmp_path / "bin"), "HOME": str(tmp_path / "home")}


def test_the_matching_version_else_the_newest_said_once(
    machine: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    locator = RubyLocator(machine)
    with caplog.at_level(logging.WARNING):
        assert locator.ruby_for("ruby3.2").version == "3.2.4"  # rbenv's
        assert locator.ruby_for("ruby3.3").version == "3.3.6"  # chruby's
        assert caplog.records == []
        assert locator.ruby_for("ruby3.4").version == "3.3.6"  # the newest stands in
        assert locator.ruby_for("ruby3.4").version == "3.3.6"
    (warning,) = caplog.records
    assert "Ruby 3.4 is not on this machine" in warning.getMessage()
    assert "older than the runtime asks" in warning.getMessage()


def test_no_ruby_or_no_such_runtime_is_named(tmp_path: Path) -> None:
    bare = {"PATH": str(tmp_path), "HOME": str(tmp_path)}
    assert missing("ruby3.3", bare) == (
        "no Ruby found: install Ruby (Debian: apt-get install ruby) or put its `ruby` on the PATH"
    )
    assert "is not a Ruby runtime samrun runs" in (missing("ruby2.7", bare) or "")
    with pytest.raises(InvalidRuntime, match="no Ruby found"):
        RubyLocator(bare).ruby_for("ruby3.3")


def test_gem_paths_as_lambda_sets_them(machine: dict[str, str], tmp_path: Path) -> None:
    ruby = RubyLocator(machine).ruby_for("ruby3.4")  # 3.3.6 stands in for 3.4
    code, opt, deps = tmp_path / "code", tmp_path / "opt", tmp_path / "deps"
    (deps / "Gemfile").parent.mkdir()
    (deps / "Gemfile").write_text("")
    argv, env = command_parts("ruby3.4", ruby, code, opt, deps)
    assert argv[0] == ruby.path and argv[1].endswith("bootstraps/ruby/bootstrap.rb")
    assert env["GEM_PATH"].split(":") == [
        f"{deps}/vendor/bundle/ruby/3.3.0",
        f"{deps}/vendor/bundle/ruby/3.4.0",
        f"{code}/vendor/bundle/ruby/3.3.0",
        f"{code}/vendor/bundle/ruby/3.4.0",
        f"{opt}/ruby/gems/3.3.0",
        f"{opt}/ruby/gems/3.4.0",
        "/gems/3.3.0",
        "/more/3.3.0",
    ]
    assert env["RUBYLIB"] == f"{code}:{opt}/ruby/lib"
    assert env["BUNDLE_GEMFILE"] == f"{deps}/Gemfile"
