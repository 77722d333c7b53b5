"""`samrun validate` finds what used to fail only at invoke: a runtime Lambda never had
(`cobol85`), and a .zip CodeUri or layer ContentUri whose entries escape the folder they unpack
into (zip slip: `..`, absolute names, symbolic links pointing outside). Each is an error located
at the property that names it; a deprecated runtime stays cfn-lint's warning."""

from __future__ import annotations

import re
import stat
import zipfile
from pathlib import Path

import pytest

from tests.template.conftest import run_samrun

LOCATED = re.compile(r"^(?P<file>.+):(?P<line>\d+):(?P<col>\d+): \[(?P<rule>[\w-]+)\] (?P<msg>.+)$")
HANDLER = "def handler(event, context):\n    return event\n"


def problems(result) -> list[re.Match[str]]:
    lines = result.stdout.strip().splitlines()
    matches = [LOCATED.match(line) for line in lines]
    assert all(matches), result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    return [m for m in matches if m]


def function_template(tmp_path: Path, runtime: str, code_uri: str = "src") -> Path:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "app.py").write_text(HANDLER)
    path = tmp_path / "template.yaml"
    path.write_text(
        "Transform: AWS::Serverless-2016-10-31\n"
        "Globals:\n"
        "  Function:\n"
        f"    Runtime: {runtime}\n"
        "Resources:\n"
        "  Fn:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties:\n"
        f"      CodeUri: {code_uri}\n"
        "      Handler: app.handler\n"
    )
    return path


def test_unknown_runtime_is_an_error_at_the_line_that_sets_it(tmp_path: Path) -> None:
    path = function_template(tmp_path, "cobol85")
    result = run_samrun("validate", str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    found = [m for m in problems(result) if m["rule"] == "samrun-runtime"]
    assert len(found) == 1
    assert (found[0]["line"], found[0]["col"]) == ("4", "5")  # Globals.Function.Runtime
    assert "'cobol85' is not a Lambda runtime" in found[0]["msg"]
    assert "python3.13" in found[0]["msg"]


@pytest.mark.parametrize("runtime", ["python3.13", "nodejs22.x", "provided.al2023", "java21"])
def test_lambda_runtimes_pass(tmp_path: Path, runtime: str) -> None:
    path = function_template(tmp_path, runtime)
    result = run_samrun("validate", str(path))
    assert not [m for m in problems(result) if m["rule"] == "samrun-runtime"]


@pytest.mark.parametrize("runtime", ["python3.8", "python3.7", "python3.6"])
def test_deprecated_runtime_is_a_warning_not_an_error(tmp_path: Path, runtime: str) -> None:
    """python3.8: deprecated; python3.7 and python3.6: AWS no longer creates them either (cfn-lint
    errors E2531/E2533), but they are Lambda runtimes, so a warning here too."""
    path = function_template(tmp_path, runtime)
    result = run_samrun("validate", str(path))
    assert result.returncode == 0, result.stdout
    rules = {m["rule"] for m in problems(result)}
    assert "samrun-runtime" not in rules and rules & {"W2531", "E2531", "E2533"}, rules


def write_zip(path: Path, entries: dict[str, str], links: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("app.py", HANDLER)
        for name, text in entries.items():
            archive.writestr(zipfile.ZipInfo(name), text)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3  # unix: the mode bits below are read
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return path


UNSAFE = {
    "dot-dot": ({"../escaped.py": "x = 1"}, {}, "'../escaped.py' escapes"),
    "deep-dot-dot": ({"lib/../../escaped.py": "x = 1"}, {}, "'lib/../../escaped.py' escapes"),
    "absolute": ({"/tmp/samrun-zip-slip.py": "x = 1"}, {}, "'/tmp/samrun-zip-slip.py' escapes"),
    "symlink-out": ({}, {"passwd": "../../../etc/passwd"}, "symbolic link 'passwd' points"),
    "symlink-absolute": ({}, {"lib/passwd": "/etc/passwd"}, "symbolic link 'lib/passwd'"),
}


@pytest.mark.parametrize("case", sorted(UNSAFE))
def test_zip_code_uri_that_escapes_its_folder_is_an_error(tmp_path: Path, case: str) -> None:
    entries, links, message = UNSAFE[case]
    write_zip(tmp_path / "code.zip", entries, links)
    path = function_template(tmp_path, "python3.13", code_uri="code.zip")
    result = run_samrun("validate", str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    found = [m for m in problems(result) if m["rule"] == "samrun-archive"]
    assert len(found) == 1, result.stdout
    assert (found[0]["line"], found[0]["col"]) == ("9", "7")  # CodeUri
    assert message in found[0]["msg"]


def test_safe_zip_with_an_inner_symlink_passes(tmp_path: Path) -> None:
    write_zip(tmp_path / "code.zip", {"lib/util.py": "x = 1"}, {"lib/alias.py": "util.py"})
    path = function_template(tmp_path, "python3.13", code_uri="code.zip")
    result = run_samrun("validate", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert not [m for m in problems(result) if m["rule"] == "samrun-archive"]


def test_layer_zip_that_escapes_is_an_error_at_its_content_uri(tmp_path: Path) -> None:
    write_zip(tmp_path / "layer.zip", {"python/../../escaped.py": "x = 1"})
    path = function_template(tmp_path, "python3.13")
    path.write_text(
        path.read_text()
        + "      Layers:\n        - !Ref Deps\n"
        + "  Deps:\n    Type: AWS::Serverless::LayerVersion\n    Properties:\n"
        + "      ContentUri: layer.zip\n"
    )
    result = run_samrun("validate", str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    found = [m for m in problems(result) if m["rule"] == "samrun-archive"]
    assert [(m["line"], m["col"]) for m in found] == [("16", "7")], result.stdout
    assert "'python/../../escaped.py' escapes" in found[0]["msg"]
