"""`--no-dashboard`: no page at /_samrun/, none announced; the rest of /_samrun/ still answers."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

from tests.conftest import start_up
from tests.dashboard.conftest import APP


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_no_dashboard_serves_no_page(tmp_path: Path) -> None:
    server = start_up(APP, tmp_path / ".samrun", "--no-dashboard")
    try:
        ready = server.wait_for(r"ready: Lambda API on").string
        assert "dashboard" not in ready
        assert status_of(f"{server.lambda_endpoint}/_samrun/") == 404
        assert status_of(f"{server.lambda_endpoint}/_samrun/dashboard/api/overview") == 404
        assert status_of(f"{server.lambda_endpoint}/_samrun/state") == 200
    finally:
        server.stop()
