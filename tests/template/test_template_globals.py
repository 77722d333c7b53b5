"""Globals reach every function, including one declared with no Properties at all."""

from __future__ import annotations

from pathlib import Path

from samrun.template import load_graph

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
    Handler: app.handler
    CodeUri: code/
    MemorySize: 512
Resources:
  Bare:
    Type: AWS::Serverless::Function
  WithProperties:
    Type: AWS::Serverless::Function
    Properties:
      Timeout: 9
"""


def test_globals_apply_to_a_function_without_properties(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    graph = load_graph(tmp_path / "template.yaml")
    bare, with_properties = (graph.function(name) for name in ("Bare", "WithProperties"))
    assert bare is not None and with_properties is not None
    for function in (bare, with_properties):
        assert function.config.code.path == str(tmp_path / "code")
        assert function.config.memory_mb == 512
        assert function.config.runtime == "python3.12"
    assert with_properties.config.timeout_s == 9
