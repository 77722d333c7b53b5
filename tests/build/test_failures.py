"""A build that fails stops samrun with one clear line naming the function and its log, after
the tail of pip's output; never a traceback."""

from __future__ import annotations

from pathlib import Path

from tests.build.conftest import samrun

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Broken:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.11
"""


def broken_app(root: Path) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "template.yaml").write_text(TEMPLATE)
    (root / "src" / "app.py").write_text("def handler(event, context):\n    return 1\n")
    (root / "src" / "requirements.txt").write_text("samrun-no-such-package-xyz==0.0.1\n")
    return root


def test_a_broken_requirements_txt_is_one_clear_error_with_the_log_tail(tmp_path: Path) -> None:
    app = broken_app(tmp_path / "app")
    state = tmp_path / "state"
    for command in ("build", "up"):
        result = samrun(command, "--state-dir", str(state), cwd=app)
        assert result.returncode == 2
        errors = [line for line in result.stderr.splitlines() if line.startswith("samrun:")]
        log = state / "build" / "logs" / "function-Broken.log"
        assert errors == [
            f"samrun: build of function Broken failed: `pip install` failed (exit 1); log: {log}"
        ], result.stderr
        assert "samrun-no-such-package-xyz" in result.stderr  # pip's own words, from the log
        assert "Traceback" not in result.stdout + result.stderr
        assert "samrun-no-such-package-xyz" in log.read_text()
        assert not list((state / "build").glob("pip-*"))  # nothing half-built is cached
