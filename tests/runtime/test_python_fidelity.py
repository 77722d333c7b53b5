"""The Python runtime as Lambda's own (awslambdaric): bytes answered as they are, output without
a newline logged, non-ASCII JSON by Python version, and a failed init logged with Lambda's
INIT_REPORT / START / END / REPORT lines (tests/fixtures/templates/compat/runtime_fidelity.yaml)."""

from __future__ import annotations

import re
import urllib.request
from typing import Any

import pytest

from tests.conftest import SamrunProcess, invoke_http, wait_until
from tests.template.conftest import TEMPLATES


@pytest.fixture
def server(samrun_up: Any) -> SamrunProcess:
    running: SamrunProcess = samrun_up(TEMPLATES / "compat" / "runtime_fidelity.yaml")
    return running


def raw_invoke(server: SamrunProcess, name: str) -> bytes:
    request = urllib.request.Request(
        f"{server.lambda_endpoint}/2015-03-31/functions/{name}/invocations", data=b"{}"
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        body: bytes = response.read()
        return body


def test_a_handler_returning_bytes_answers_those_bytes(server: SamrunProcess) -> None:
    assert raw_invoke(server, "RawBytes") == b"\x00\x01raw bytes \xff"


def test_output_without_newline_reaches_the_log_before_end(server: SamrunProcess) -> None:
    assert raw_invoke(server, "NoNewline") == b'"ok"'
    start = server.lines.index(server.wait_for(r"^NoNewline \| START").string)
    end = server.wait_for(r"^NoNewline \| END", start=start)
    lines = server.lines[start : server.lines.index(end.string)]
    assert "NoNewline | partial output without newline" in lines


def test_non_ascii_json_is_escaped_before_python_3_12_only(server: SamrunProcess) -> None:
    assert raw_invoke(server, "Unicode311") == b'{"text": "h\\u00e9llo \\u2603 \\u65e5\\u672c"}'
    assert raw_invoke(server, "Unicode312") == '{"text": "héllo ☃ 日本"}'.encode()


def test_init_failure_logs_init_report_start_end_report(server: SamrunProcess) -> None:
    status, _, body = invoke_http(server.lambda_endpoint, "BrokenInit", {})
    assert status == 200 and body["errorType"] == "RuntimeError"
    report = server.wait_for(r"^BrokenInit \| REPORT RequestId")
    wait_until(lambda: report.string in server.lines)
    ours = [line.removeprefix("BrokenInit | ") for line in server.lines if "BrokenInit |" in line]
    platform = [line for line in ours if re.match(r"(INIT_REPORT|START|END|REPORT) ", line)]
    assert ours[0] == "[ERROR] RuntimeError: cannot connect to the database"
    assert re.fullmatch(
        r"INIT_REPORT Init Duration: [\d.]+ ms\tPhase: init\tStatus: error\t"
        r"Error Type: Runtime.Unknown",
        platform[0],
    )
    request_id = re.fullmatch(r"START RequestId: (\S+) Version: \$LATEST", platform[1])
    assert request_id
    assert platform[2] == f"END RequestId: {request_id.group(1)}"
    assert re.fullmatch(
        rf"REPORT RequestId: {request_id.group(1)}\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms"
        r"\tMemory Size: 128 MB\tMax Memory Used: \d+ MB\tStatus: error\t"
        r"Error Type: Runtime.Unknown",
        platform[3],
    )
