"""The embedded moto server, run as samrun's child process (never in samrun's own interpreter:
moto's handlers would share samrun's GIL and event loop).

`python -m samrun.aws.moto_child HOST PARENT_PID [PORT]` binds HOST on PORT (a restart: the
port the app already knows) or an ephemeral one, prints the port on one line, reads the URL of
samrun's Lambda API (for state machines' Lambda tasks) and the address of samrun's X-Ray daemon
(for traced state machines' segments) from its first line of stdin (`URL ADDRESS`, `-` for
none), and serves
until samrun goes: SIGKILL from the kernel when the parent dies (prctl PR_SET_PDEATHSIG,
Linux), and a watchdog on the parent pid where prctl is missing or the parent died before it
took effect.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
import uuid
from typing import Any

PR_SET_PDEATHSIG = 1
WATCHDOG_S = 0.5


def die_with(parent: int) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: the watchdog alone
    if os.getppid() != parent:
        os._exit(0)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WATCHDOG_S)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


_request = threading.local()  # the X-Amzn-Trace-Id of the request this thread serves


def run_state_machines(
    port: int, lambda_endpoint: str | None, xray_daemon: str | None = None
) -> None:
    """moto's Step Functions interpreter on (StartExecution runs the workflow), its AWS calls
    to this server (moto assumes port 5000), its Lambda tasks to samrun's Lambda API, and traced
    executions' segments to samrun's X-Ray daemon."""
    os.environ["MOTO_PORT"] = str(port)
    from moto.core.config import default_user_config

    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    start = StepFunctionsParserBackend.start_execution

    def start_named(self: Any, arn: str, name: Any = None, *args: Any, **kwargs: Any) -> Any:
        # AWS names an unnamed execution with a UUID; moto's interpreter leaves it None
        return start(self, arn, name or str(uuid.uuid4()), *args, **kwargs)

    StepFunctionsParserBackend.start_execution = start_named  # type: ignore[method-assign,assignment]
    if xray_daemon:
        from samrun.aws import moto_tracing

        moto_tracing.install(xray_daemon, lambda: getattr(_request, "trace", None))
    if not lambda_endpoint:
        return
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    moto_client_for = lambda_eval_utils.boto_client_for  # type: ignore[attr-defined]

    def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        client = moto_client_for(region, service, state_credentials)
        if service != "lambda":
            return client
        import boto3

        from samrun.aws import moto_tracing

        local = boto3.client(
            "lambda",
            region_name=region,
            endpoint_url=lambda_endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=client.meta.config,
        )
        local.meta.events.register("before-send.lambda", moto_tracing.add_header)
        return local

    lambda_eval_utils.boto_client_for = client_for  # type: ignore[attr-defined]


def propagate_trace_header(app: Any) -> Any:
    """As AWS does, a message SQS gets while serving a request (SendMessage, or an SNS publish,
    S3 notification or EventBridge target delivered to SQS) carries that request's
    X-Amzn-Trace-Id as its AWSTraceHeader: samrun follows recursive loops across those hops."""
    from moto.sqs.models import SQSBackend

    current = _request
    send = SQSBackend.send_message

    def send_message(self: Any, *args: Any, **kwargs: Any) -> Any:
        trace = getattr(current, "trace", None)
        if trace and not kwargs.get("system_attributes"):
            kwargs["system_attributes"] = {
                "AWSTraceHeader": {"DataType": "String", "StringValue": trace}
            }
        return send(self, *args, **kwargs)

    SQSBackend.send_message = send_message  # type: ignore[method-assign]

    def traced(environ: dict[str, Any], start_response: Any) -> Any:
        current.trace = environ.get("HTTP_X_AMZN_TRACE_ID")
        try:
            return app(environ, start_response)
        finally:
            current.trace = None

    return traced


def main(host: str, parent: int, port: int = 0) -> None:
    die_with(parent)
    from samrun.aws import moto_autoscaling, moto_patches

    moto_patches.apply()
    from samrun.iam import moto_auth  # --enforce-iam: functions' role sessions are checked

    moto_auth.install()
    moto_autoscaling.install()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *args: object, **kwargs: object) -> None:
            pass

    lock = threading.Lock()
    state_machines: list[bool] = []
    told_endpoints: list[str | None] = []  # samrun sends them once it has their ports
    told = threading.Event()

    def listen_to_samrun() -> None:
        fields = [*sys.stdin.readline().split(), "-", "-"][:2]
        told_endpoints.extend(None if field == "-" else field for field in fields)
        told.set()

    threading.Thread(target=listen_to_samrun, name="lambda-endpoint", daemon=True).start()

    def backend_app(service: Any) -> Any:
        """The interpreter's patches at the first Step Functions request (moto builds a
        service's app then), not at start: importing it took ~0.7 s of every `up`."""
        if service == "stepfunctions":
            with lock:
                if not state_machines:
                    told.wait(10)  # sent before samrun's first AWS call: never waits in fact
                    run_state_machines(server.server_port, *(told_endpoints or [None, None]))
                    state_machines.append(True)
        return create_backend_app(service)

    app = propagate_trace_header(DomainDispatcherApplication(backend_app))
    app = moto_autoscaling.serve_activities(app)  # the scaler's activities (samrun/scaling/)
    server = make_server(host, port, app, threaded=True, request_handler=QuietHandler)
    os.environ["MOTO_PORT"] = str(server.server_port)  # moto's own calls to itself
    print(server.server_port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 0)
