"""Watch mode reloads a Ruby function when one of its .rb files changes (the Java side, a .java
edit rebuilt by Maven, is tests/build/test_java_build.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import invoke_http

pytestmark = pytest.mark.skipif(shutil.which("ruby") is None, reason="Ruby is not installed")

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Orders:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: ruby3.3
      Handler: lib/shop.Shop::Orders.create
      CodeUri: src
"""
ORDERS = """\
require_relative "price"

module Shop
  class Orders
    def self.create(event:, context:)
      { "answer" => Price.label }
    end
  end
end
"""
PRICE = "module Price\n  def self.label\n    %r\n  end\nend\n"


def test_an_rb_edit_reloads(tmp_path: Path, samrun_up) -> None:
    lib = tmp_path / "src" / "lib"
    lib.mkdir(parents=True)
    (lib / "shop.rb").write_text(ORDERS)
    (lib / "price.rb").write_text(PRICE % "one")
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    server = samrun_up(tmp_path / "template.yaml", "--watch")
    server.wait_for("watching")
    assert invoke_http(server.lambda_endpoint, "Orders")[2] == {"answer": "one"}
    mark = len(server.lines)
    (lib / "price.rb").write_text(PRICE % "two")  # a file the handler's file requires
    server.wait_for(r"reloaded \(code: Orders\)", start=mark)
    assert invoke_http(server.lambda_endpoint, "Orders")[2] == {"answer": "two"}
