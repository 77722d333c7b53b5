"""SAM CLI's samconfig.toml / .yaml, read as SAM CLI reads it: `up` runs with its parameter
overrides and env vars, `--config-env` picks another environment, a flag beats the file."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from samrun import samconfig
from samrun.errors import SamrunError
from tests.conftest import SamrunProcess
from tests.template.conftest import ROOT, run_samrun

SCHEMA = json.loads((ROOT / "schemas" / "plan.schema.json").read_text())

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  Greeting: {Type: String, Default: hello}
Resources:
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: src
      Environment:
        Variables: {GREETING: !Ref Greeting, COLOR: none}
"""
CODE = """\
import os


def handler(event, context):
    return {"greeting": os.environ["GREETING"], "color": os.environ["COLOR"]}
"""
SAMCONFIG = """\
version = 0.1

[default.global.parameters]
stack_name = "an-app"  # a deploy key: global serves every command, so no word about it

[default.local_start_api.parameters]
parameter_overrides = "Greeting=bonjour"
env_vars = "env/default.json"
warm_containers = "EAGER"

[dev.local_start_api.parameters]
parameter_overrides = ["Greeting=hola"]
env_vars = "env/dev.json"
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    (folder / "src").mkdir(parents=True)
    (folder / "env").mkdir()
    (folder / "src" / "app.py").write_text(CODE)
    (folder / "template.yaml").write_text(TEMPLATE)
    (folder / "samconfig.toml").write_text(SAMCONFIG)
    (folder / "env" / "default.json").write_text(json.dumps({"Echo": {"COLOR": "blue"}}))
    (folder / "env" / "dev.json").write_text(json.dumps({"Echo": {"COLOR": "green"}}))
    return folder


def up(project: Path, state: Path, *extra: str) -> SamrunProcess:
    """`samrun up` in the project folder, with no template named, as a user runs it there."""
    args = ["up", "--port", "0", "--invoke-port", "0", "--state-dir", str(state), *extra]
    return SamrunProcess(args, cwd=project)


def echo(server: SamrunProcess) -> object:
    answer = server.lambda_client().invoke(FunctionName="Echo", Payload=b"{}")  # type: ignore[attr-defined]
    return json.loads(answer["Payload"].read())


def test_up_runs_with_the_files_overrides_and_env_vars(project: Path, tmp_path: Path) -> None:
    server = up(project, tmp_path / "state")
    try:
        assert echo(server) == {"greeting": "bonjour", "color": "blue"}
        assert any(f"read {project / 'samconfig.toml'} [default]" in line for line in server.lines)
    finally:
        assert server.stop() == 0
    assert sorted(p.name for p in project.iterdir()) == [
        "env",
        "samconfig.toml",
        "src",
        "template.yaml",
    ]


def test_config_env_picks_another_environment(project: Path, tmp_path: Path) -> None:
    server = up(project, tmp_path / "state", "--config-env", "dev")
    try:
        assert echo(server) == {"greeting": "hola", "color": "green"}
    finally:
        assert server.stop() == 0


def test_a_flag_beats_the_file(project: Path, tmp_path: Path) -> None:
    state = str(tmp_path / "state")
    result = run_samrun("plan", "--json", "--state-dir", state, cwd=project)
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    jsonschema.validate(plan, SCHEMA)
    assert plan["samconfig"] == {"file": str(project / "samconfig.toml"), "env": "default"}
    assert plan["functions"][0]["environment"]["GREETING"] == "bonjour"
    assert f"samrun: read {project / 'samconfig.toml'} [default]" in result.stderr
    assert "warning" not in result.stderr  # warm_containers and global keys: nothing to say
    flagged = run_samrun(
        "plan", "--json", "--state-dir", state, "--parameter-overrides", "Greeting=hi",
        cwd=project,
    )  # fmt: skip
    assert json.loads(flagged.stdout)["functions"][0]["environment"]["GREETING"] == "hi"


def test_the_file_is_found_beside_the_template_named(project: Path, tmp_path: Path) -> None:
    result = run_samrun(
        "plan", str(project / "template.yaml"), "--json", "--config-env", "dev",
        "--state-dir", str(tmp_path / "state"), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["samconfig"]["env"] == "dev"
    assert plan["functions"][0]["environment"]["GREETING"] == "hola"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version = 0.1\n[default.local_start_api.parameters\n", "malformed"),
        ("[default.local_start_api.parameters]\nport = 1\n", "'version' is missing"),
        ("version = 0.1\n[default.local_start_api]\nport = 1\n", "must hold a table"),
    ],
)
def test_a_bad_file_is_a_usage_error_naming_it(
    project: Path, tmp_path: Path, text: str, message: str
) -> None:
    (project / "samconfig.toml").write_text(text)
    result = run_samrun("plan", "--state-dir", str(tmp_path / "state"), cwd=project)
    assert result.returncode == 2
    assert str(project / "samconfig.toml") in result.stderr and message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_environment_or_file_given_is_a_usage_error(
    project: Path, tmp_path: Path
) -> None:
    state = str(tmp_path / "state")
    result = run_samrun("plan", "--config-env", "prod", "--state-dir", state, cwd=project)
    assert (
        result.returncode == 2 and "no environment 'prod' (it has: default, dev)" in result.stderr
    )
    result = run_samrun("plan", "--config-file", "other.toml", "--state-dir", state, cwd=project)
    assert result.returncode == 2 and "--config-file other.toml" in result.stderr


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder / name


def test_up_reads_both_local_start_tables_the_apis_port_is_port(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "samconfig.toml",
        "version = 0.1\n"
        "[default.global.parameters]\nregion = 'eu-west-1'\nhost = '127.0.0.2'\n"
        "[default.local_start_lambda.parameters]\nport = 4001\nhost = '127.0.0.3'\n"
        "[default.local_start_api.parameters]\nport = 4000\nhost = '127.0.0.4'\n"
        "template_file = 'infra/app.yaml'\nbogus = 1\n",
    )
    found = samconfig.read(path, "default", "up")
    assert found.values == {
        "region": "eu-west-1",
        "host": "127.0.0.4",  # the API's table is read last: it wins
        "invoke_port": 4001,  # start-lambda's port is the Lambda API's
        "port": 4000,
        "template": str(tmp_path / "infra" / "app.yaml"),  # from the file's folder
    }
    assert found.warnings == (
        f"{path}: not used by samrun: [default.local_start_api.parameters] bogus",
    )
    assert samconfig.read(path, "default", "invoke").values == {
        "region": "eu-west-1",
        "host": "127.0.0.2",
    }


def test_yaml_is_read_and_toml_comes_first(tmp_path: Path) -> None:
    write(tmp_path, "samconfig.yaml", "version: 0.1\ndefault:\n  build:\n    parameters:\n"
          "      parameter_overrides: [A=1, B=2]\n")  # fmt: skip
    found = samconfig.find(None, None, tmp_path)
    assert found == tmp_path / "samconfig.yaml"
    read = samconfig.read(found, "default", "build")
    assert read.values == {"parameter_overrides": ["A=1", "B=2"]}
    write(tmp_path, "samconfig.toml", "version = 0.1\n")
    assert samconfig.find(None, None, tmp_path) == tmp_path / "samconfig.toml"
    assert samconfig.find(None, str(tmp_path / "sub" / "template.yaml"), Path("/")) is None


def test_a_value_of_the_wrong_kind_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "samconfig.toml", "version = 0.1\n[default.build.parameters]\n"
                 "env_vars = 3\n")  # fmt: skip
    with pytest.raises(SamrunError, match="env_vars must be a path"):
        samconfig.read(path, "default", "build")


def test_tracing_flags_come_from_the_file_and_are_checked(tmp_path: Path) -> None:
    """trace_sample_rate and xray_upload, samrun's own keys, as their flags parse them."""
    path = write(tmp_path, "samconfig.toml", "version = 0.1\n[default.local_start_api.parameters]\n"
                 "trace_sample_rate = 0.5\nxray_upload = true\n")  # fmt: skip
    assert samconfig.read(path, "default", "up").values == {
        "trace_sample_rate": 0.5,
        "xray_upload": True,
    }
    write(tmp_path, "template.yaml", "Resources: {}\n")
    result = run_samrun("up", "--state-dir", str(tmp_path / "state"), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "--xray-upload sends traces to real X-Ray and needs --aws-profile" in result.stderr
    path.write_text("version = 0.1\n[default.global.parameters]\ntrace_sample_rate = 7\n")
    result = run_samrun("up", "--state-dir", str(tmp_path / "state"), cwd=tmp_path)
    assert result.returncode == 2 and "--trace-sample-rate 7.0: give a share" in result.stderr
    assert "Traceback" not in result.stderr
