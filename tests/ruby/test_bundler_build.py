"""`samrun build` for a Ruby function with a Gemfile: Bundler installs into a copy in the state
folder as `sam build` does (deployment mode, vendor/bundle), the function's `require
"bundler/setup"` finds that bundle, the sources stay untouched, and a second build is cached.
The Gemfile takes its one gem from a `path:` in the sources: no registry is asked."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from samrun.build.cache import build_key
from samrun.build.items import BuildItem
from samrun.model import Code
from tests.build.conftest import samrun, tree
from tests.conftest import invoke_http, start_up

pytestmark = pytest.mark.skipif(
    shutil.which("ruby") is None or shutil.which("bundle") is None,
    reason="needs ruby and bundle on PATH",
)

TEMPLATE = """Transform: AWS::Serverless-2016-10-31
Resources:
  Greet:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: ruby3.3
      Handler: app.handler
      CodeUri: fn/
"""

APP = """require 'bundler/setup'
require 'greeter'

def handler(event:, context:)
  { 'greeting' => Greeter.hi(event['name']), 'gemfile' => ENV['BUNDLE_GEMFILE'],
    'from' => $LOADED_FEATURES.grep(/greeter/).first,
    'groups' => Bundler.settings[:without].map(&:to_s) }
end
"""

GEMSPEC = """Gem::Specification.new do |s|
  s.name = "greeter"
  s.version = "0.1.0"
  s.summary = "a gem of the sources"
  s.authors = ["samrun"]
  s.files = ["lib/greeter.rb"]
end
"""


def write_app(folder: Path) -> Path:
    fn = folder / "fn"
    (fn / "gems" / "greeter" / "lib").mkdir(parents=True)
    (fn / "gems" / "greeter" / "greeter.gemspec").write_text(GEMSPEC)
    (fn / "gems" / "greeter" / "lib" / "greeter.rb").write_text(
        'module Greeter\n  def self.hi(name)\n    "hi #{name}"\n  end\nend\n'
    )
    (fn / "Gemfile").write_text('gem "greeter", path: "gems/greeter"\n')
    (fn / "app.rb").write_text(APP)
    (folder / "template.yaml").write_text(TEMPLATE)
    return folder / "template.yaml"


def test_up_bundles_into_the_state_folder_and_build_then_finds_it_cached(tmp_path: Path) -> None:
    template = write_app(tmp_path / "app")
    before = tree(tmp_path / "app")
    state = tmp_path / "state"

    server = start_up(template, state)
    try:
        server.wait_for(r"build Greet \(bundler, ruby3\.3\): built in")
        status, _, body = invoke_http(server.lambda_endpoint, "Greet", {"name": "ruby"})
    finally:
        server.stop()
    assert status == 200, body
    assert body["greeting"] == "hi ruby"
    built = Path(body["gemfile"]).parent
    assert built.is_relative_to(state) and (built / "Gemfile.lock").is_file()
    assert body["from"].startswith(str(built))  # the bundle's copy of the path gem
    assert body["groups"] == ["development", "test"]  # as `sam build` sets it
    assert "BUNDLE_DEPLOYMENT" in (built / ".bundle" / "config").read_text()
    assert (built / "vendor" / "bundle").is_dir()

    again = samrun("build", "--state-dir", str(state), cwd=tmp_path / "app")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "build Greet (bundler, ruby3.3): cached" in again.stdout
    assert tree(tmp_path / "app") == before  # no Gemfile.lock, .bundle or vendor in the sources


def test_a_path_gems_change_is_a_new_build_key(tmp_path: Path) -> None:
    """Without `path:` gems only Gemfile, Gemfile.lock and .bundle/config decide the bundle;
    with them, the sources do too (the bundle holds their copy)."""
    write_app(tmp_path)
    fn = tmp_path / "fn"
    item = BuildItem(
        names=("Greet",),
        kind="function",
        builder="bundler",
        code=Code(path=str(fn)),
        source=fn,
        runtime="ruby3.3",
        architecture="x86_64",
    )
    key = build_key(item, tmp_path / "state")
    (fn / "gems" / "greeter" / "lib" / "greeter.rb").write_text("module Greeter; end\n")
    assert build_key(item, tmp_path / "state") != key
    (fn / "Gemfile").write_text('source "https://rubygems.org"\ngem "rake"\n')
    key = build_key(item, tmp_path / "state")
    (fn / "app.rb").write_text("# another handler\n")
    assert build_key(item, tmp_path / "state") == key
    (fn / "Gemfile.lock").write_text("GEM\n")
    assert build_key(item, tmp_path / "state") != key
