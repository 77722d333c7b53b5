"""A SIGTERM to samrun's whole process group (a terminal's job control, `timeout`, a service
manager) is one graceful stop: the embedded AWS endpoint is samrun's to stop, not a death it
reports and restarts on the way out."""

from __future__ import annotations

import os
import signal

from tests.conftest import ROOT, alive, invoke_http, start_up, wait_until


def test_a_group_sigterm_stops_samrun_without_restarting_its_endpoint(tmp_path) -> None:
    server = start_up(ROOT / "templates" / "quickstart" / "template.yaml", tmp_path / ".samrun")
    moto_pid = int(server.wait_for(r"embedded moto, pid (\d+)").group(1))
    assert invoke_http(server.lambda_endpoint, "HelloFunction")[0] == 200  # metrics to publish
    os.killpg(server.process.pid, signal.SIGTERM)  # start_up makes samrun its group's leader
    assert server.stop() == 0
    died = [line for line in server.lines if any(w in line for w in ("died", "restart", "connect"))]
    assert died == [], died
    wait_until(lambda: not alive(moto_pid), timeout=10)
