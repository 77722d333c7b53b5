"""The AWS endpoint an app talks to, and samrun's own clients for it.

Three modes, chosen once by flags:
- `--aws-endpoint URL`: any endpoint (LocalStack, a moto server, ...), fake credentials;
- `--aws-profile NAME`: real AWS with that profile's credentials (the only way samrun ever
  reaches real AWS); functions get those credentials and no AWS_ENDPOINT_URL;
- neither: an embedded moto server, a child process on a loopback ephemeral port, started and
  stopped here, and killed by the kernel if samrun dies (see `moto_child`). If it dies while
  samrun runs, that is logged and it is started again on the same port (functions and the graph
  know that URL), `on_restart` creates the template's resources again, and the log says what
  was lost: moto keeps everything in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from samrun.aws.moto_process import MotoProcess, moto_host
from samrun.errors import SamrunError

logger = logging.getLogger(__name__)

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 3.0
MAX_RESTARTS, RESTART_WINDOW_S = 3, 60.0  # more deaths than this in the window: stay down
LOST = (
    "every message, object, item, record and subscription written since it started, and "
    "every resource created at run time rather than by the template"
)
FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def exists(probe: Callable[[], object], missing: type[Exception]) -> bool:
    """True when `probe` (a describe or get call) finds the resource; False when it raises
    `missing`, the service's not-found error. Creators make what does not exist yet."""
    try:
        probe()
    except missing:
        return False
    return True


class AwsEndpoint:
    """Where the app's AWS calls go; `url` is None for real AWS (--aws-profile)."""

    def __init__(
        self,
        *,
        url: str | None,
        profile: str | None,
        region: str,
        host: str,
        state_dir: Path,
        started: MotoProcess | None = None,
    ) -> None:
        """`started`: the embedded moto server, when `up` started it early (moto_process.py)."""
        if url and profile:
            raise SamrunError("--aws-endpoint and --aws-profile exclude each other")
        self.url = url
        self.profile = profile
        self.embedded = not url and not profile
        self.region = region
        self._host = moto_host(host)
        self._state_dir = state_dir
        self._started = started if self.embedded else None
        self._process: MotoProcess | None = None
        self._port = 0  # kept across restarts
        self._watcher: asyncio.Task[None] | None = None
        self._deaths: list[float] = []
        self.on_restart: Callable[[], Awaitable[object]] | None = None  # re-provision
        self.restarts = 0
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._session: Any = None
        self.credentials: dict[str, str] | None = None  # for functions, with --aws-profile
        self.lambda_endpoint: str | None = None  # samrun's Lambda API, for moto's state machines
        self.xray_daemon: str | None = None  # samrun's X-Ray daemon, for traced executions
        self.on_line: Callable[[str], None] | None = None  # the moto child's reports (IAM)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def describe(self) -> str:
        """The `up` line: `AWS endpoint on URL (embedded moto, pid N)` or `... (profile NAME)`."""
        if self.profile:
            return f"AWS endpoint: real AWS (profile {self.profile}, {self.region})"
        kind = f"embedded moto, pid {self.pid}" if self.embedded else "--aws-endpoint"
        return f"AWS endpoint on {self.url} ({kind})"

    async def start(self) -> None:
        if self.profile:
            self.credentials = await asyncio.to_thread(self._profile_credentials)
        elif self.embedded:
            self.url = await self._start_moto()
            self._watcher = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        """Notice the moto server's death; start it again on its port; re-provision."""
        while self._process is not None:
            process = self._process
            code = await process.wait()
            if self._process is not process:  # stopped on purpose
                return
            loop = asyncio.get_running_loop()
            self._deaths = [t for t in self._deaths if loop.time() - t < RESTART_WINDOW_S]
            self._deaths.append(loop.time())
            why = f"exit status {code}" if code >= 0 else f"signal {-code}"
            if len(self._deaths) > MAX_RESTARTS:
                logger.error(
                    "the embedded moto server died again (%s): %d times in %.0f s, not "
                    "restarting it; AWS calls fail until samrun restarts",
                    why,
                    len(self._deaths),
                    RESTART_WINDOW_S,
                )
                self._process = None
                return
            logger.error(
                "the embedded moto server (pid %d) died (%s); restarting it", process.pid, why
            )
            try:
                await self._start_moto()
            except SamrunError as exc:
                logger.error("%s; AWS calls fail until samrun restarts", exc)
                self._process = None
                return
            if self.on_restart is not None:
                await self.on_restart()
            self.restarts += 1
            logger.warning(
                "embedded moto restarted on %s (pid %s), the template's resources created "
                "again; lost: %s",
                self.url,
                self.pid,
                LOST,
            )

    async def _start_moto(self) -> str:
        process, self._started = self._started, None
        self._process = process or MotoProcess(self._host, self._state_dir, self._port)
        try:
            port = await self._process.port(START_TIMEOUT_S)
        except (TimeoutError, ValueError):
            await self._stop_process()
            raise SamrunError(
                f"the embedded moto server did not start; see {self._state_dir / 'moto.log'}"
            ) from None
        self._process.tell(self.lambda_endpoint, self.xray_daemon)
        self._process.follow(lambda line: self.on_line(line) if self.on_line else None)
        self._port = port
        return f"http://{self._host}:{port}"

    def _profile_credentials(self) -> dict[str, str]:
        import boto3
        import botocore.exceptions

        try:
            self._session = boto3.session.Session(
                profile_name=self.profile, region_name=self.region
            )
            frozen = self._session.get_credentials().get_frozen_credentials()
        except (botocore.exceptions.BotoCoreError, AttributeError) as exc:
            raise SamrunError(f"--aws-profile {self.profile}: {exc}") from None
        creds = {
            "AWS_ACCESS_KEY_ID": frozen.access_key,
            "AWS_SECRET_ACCESS_KEY": frozen.secret_key,
        }
        if frozen.token:
            creds["AWS_SESSION_TOKEN"] = frozen.token
        return creds

    def client(self, service: str, region: str | None = None, *, validated: bool = True) -> Any:
        """A boto3 client for `service` at this endpoint (blocking: call it off the loop); in
        `region` when given (a resource of another region, such as a public layer). Unvalidated:
        botocore skips its parameter checks, for the bulk calls samrun builds itself (log
        shipping: ~1/4 of its CPU)."""
        key = service if region in (None, self.region) else f"{service}@{region}"
        key += "" if validated else "!"
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self._new_client(service, region or self.region, validated)
            return self._clients[key]

    def _new_client(self, service: str, region: str, validated: bool) -> Any:
        import boto3
        from botocore.config import Config as BotoConfig

        config = BotoConfig(
            retries={"max_attempts": 2},
            connect_timeout=5,
            read_timeout=30,
            max_pool_connections=64,  # pollers call from many threads at once
            parameter_validation=validated,
        )
        if self.profile:
            return self._session.client(service, region_name=region, config=config)
        session = boto3.session.Session(region_name=region, **FAKE_CREDENTIALS)
        return session.client(service, endpoint_url=self.url, config=config)

    async def stop(self) -> None:
        watcher, self._watcher = self._watcher, None
        if self._started is not None:  # started early, never used
            self._process, self._started = self._started, None
        await self._stop_process()
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def _stop_process(self) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            async with asyncio.timeout(STOP_TIMEOUT_S):
                await process.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
