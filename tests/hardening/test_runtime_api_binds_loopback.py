"""Item 9: with `--host 0.0.0.0`, every instance's Runtime API still listens on loopback only
(no one on the network can post a forged response), and samrun warns that the Lambda API and
the routes are unauthenticated."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import invoke_http, start_up


def listening_addresses(port: int) -> set[str]:
    """The local addresses of every listening TCP socket on `port` (from /proc/net/tcp*)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            address, hex_port = fields[1].split(":")
            if int(hex_port, 16) == port and fields[3] == "0A":  # LISTEN
                found.add(address)
    return found


def test_runtime_api_listens_on_loopback_whatever_host_says(app_dir: Path) -> None:
    server = start_up(app_dir / "template.yaml", app_dir / ".samrun", "--host", "0.0.0.0")
    try:
        server.wait_for("unauthenticated")
        status, _, env = invoke_http(server.lambda_endpoint, "Env")
        assert status == 200
        host, port = env["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)  # type: ignore[index]
        assert host == "127.0.0.1"
        assert listening_addresses(int(port)) == {"0100007F"}  # 127.0.0.1, nothing else
    finally:
        assert server.stop() == 0


def test_loopback_host_gives_no_warning(app_dir: Path) -> None:
    server = start_up(app_dir / "template.yaml", app_dir / ".samrun")
    try:
        assert invoke_http(server.lambda_endpoint, "Echo")[0] == 200
        assert not [line for line in server.lines if "unauthenticated" in line]
    finally:
        assert server.stop() == 0
