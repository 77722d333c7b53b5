"""samrun's Python runtime: the Lambda Runtime API client, standard library only.

It behaves as Lambda's Python runtime (awslambdaric) does: the same handler resolution, the same
init and invoke error shapes (Runtime.ImportModuleError, Runtime.UserCodeSyntaxError,
Runtime.HandlerNotFound, Runtime.MarshalError...), the same context object and log format. It
runs on any Python 3.9+, so each python3.X runtime can use that interpreter when it is installed.
"""

import contextlib
import decimal
import importlib
import json
import logging
import os
import socket
import struct
import sys
import time
import traceback

API = "/2018-06-01/runtime"
LANE = "_SAMRUN_RUNTIME_LANE"  # samrun's fast lane (samrun/runtime/lane.py): a descriptor
TERMINAL = "_SAMRUN_TERMINAL"  # `samrun invoke` on a terminal (runtime/breakpoints.py): 2 fds


class Fault(Exception):
    def __init__(self, error_type, message, trace=None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace or []


class RuntimeClient:
    """One keep-alive connection to the Runtime API.

    A minimal HTTP/1.1 client, as the official runtimes' native clients are: the Runtime API is
    a fixed protocol on loopback, and http.client's general header parsing cost more CPU per
    invocation than the rest of this runtime together.
    """

    def __init__(self, address):
        host, port = address.rsplit(":", 1)
        self.host = address
        self.sock = socket.create_connection((host, int(port)))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = bytearray()
        self._chunk = bytearray(262144)
        self._view = memoryview(self._chunk)
        self._next_message = self._message("GET", "/invocation/next")

    def request(self, method, path, body=b"", headers=()):
        self.sock.sendall(self._message(method, path, body, headers))
        return self._response()

    def _message(self, method, path, body=b"", headers=()):
        lines = [
            f"{method} {API}{path} HTTP/1.1",
            f"Host: {self.host}",
            f"Content-Length: {len(body)}",
        ]
        lines.extend(f"{name}: {value}" for name, value in headers)
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    def _fill(self):
        # into one buffer kept for the process: recv(256 KiB) allocated a fresh bytes object
        # each time, which malloc serves by mmap, mremap and munmap (3 syscalls per read)
        size = self.sock.recv_into(self._chunk)
        if not size:
            raise ConnectionError("the Runtime API closed the connection")
        self.buffer += self._view[:size]

    def _take(self, size):
        while len(self.buffer) < size:
            self._fill()
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def _line(self):
        while True:
            end = self.buffer.find(b"\r\n")
            if end >= 0:
                return self._take(end + 2)[:-2]
            self._fill()

    def _response(self):
        status = int(self._line().split(b" ", 2)[1])
        headers = {}
        for line in iter(self._line, b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            # each chunk is followed by CRLF; the last, empty one by the blank line closing it
            body = b"".join(iter(lambda: self._take(int(self._line(), 16) + 2)[:-2], b""))
        else:
            body = self._take(int(headers.get("content-length", "0")))
        return status, headers, body

    def next(self, sent=False):
        if not sent:
            self.sock.sendall(self._next_message)
        _, headers, body = self._response()
        return headers, body

    def post(self, path, body, error_type=None):
        self.request("POST", *self._post_args(path, body, error_type))

    def post_then_next(self, path, body, error_type=None):
        """The answer and the next `GET /invocation/next`, pipelined in one write (HTTP/1.1):
        the server handles them in order, as if sent one after the other, and the runtime
        saves a round trip (a wake-up of each side) per invocation."""
        message = self._message("POST", *self._post_args(path, body, error_type))
        self.sock.sendall(message + self._next_message)
        self._response()
        return self.next(sent=True)

    def _post_args(self, path, body, error_type):
        sys.stdout.flush()
        sys.stderr.flush()
        headers = [("Content-Type", "application/json")]
        if error_type:
            headers.append(("Lambda-Runtime-Function-Error-Type", error_type))
        return path, body, headers


def _frame(kind, flags, *fields):
    sizes = [len(field) for field in fields]
    head = struct.pack(f">cBB{len(fields)}I", kind, flags, len(fields), *sizes)
    return b"".join((head, *fields))


class LaneClient(RuntimeClient):
    """The Runtime API over samrun's lane: one socketpair, small frames, no HTTP (see
    samrun/runtime/lane.py). The same calls as RuntimeClient, so the rest is unchanged."""

    HEADERS = (
        "lambda-runtime-aws-request-id",
        "lambda-runtime-deadline-ms",
        "lambda-runtime-invoked-function-arn",
        "lambda-runtime-trace-id",
        "lambda-runtime-client-context",
        "lambda-runtime-cognito-identity",
        "lambda-runtime-aws-tenant-id",
    )

    def __init__(self, fd):
        os.set_inheritable(fd, False)  # the function's own child processes do not get it
        self.sock = socket.socket(fileno=fd)
        self.sock.setblocking(True)
        self.buffer = bytearray()
        self._chunk = bytearray(262144)
        self._view = memoryview(self._chunk)
        self._next_message = _frame(b"N", 0)

    def _frame_in(self):
        while len(self.buffer) < 3:
            self._fill()
        kind, count = self.buffer[0], self.buffer[2]
        head = 3 + 4 * count
        while len(self.buffer) < head:
            self._fill()
        sizes = struct.unpack_from(f">{count}I", self.buffer, 3)
        fields = []
        start = head
        for size in sizes:
            while len(self.buffer) < start + size:
                self._fill()
            fields.append(bytes(self.buffer[start : start + size]))
            start += size
        del self.buffer[:start]
        return kind, fields

    def next(self, sent=False):
        if not sent:
            self.sock.sendall(self._next_message)
        kind, fields = self._frame_in()
        if kind != ord("V"):
            raise ConnectionError(f"samrun refused the next invocation: {fields[-1:]}")
        headers = {name: fields[i].decode() for i, name in enumerate(self.HEADERS) if fields[i]}
        return headers, fields[-1]

    def post(self, path, body, error_type=None):
        """Waits for samrun's answer: the runtime exits next."""
        self.sock.sendall(self._message_to(path, body, error_type, 1))
        self._frame_in()

    def post_then_next(self, path, body, error_type=None):
        """The answer and the next `next` in one write, as over HTTP."""
        self.sock.sendall(self._message_to(path, body, error_type, 0) + self._next_message)
        return self.next(sent=True)

    def _message_to(self, path, body, error_type, flags):
        sys.stdout.flush()
        sys.stderr.flush()
        parts = path.split("/")  # /invocation/ID/response, /invocation/ID/error, /init/error
        error_type = (error_type or "").encode()
        if parts[1] == "init":
            return _frame(b"I", flags, error_type, body)
        if parts[3] == "response":
            return _frame(b"R", flags, parts[2].encode(), body)
        return _frame(b"E", flags, parts[2].encode(), error_type, body)


def connect():
    """The lane when samrun gave one (its variable gone before any user code runs), else
    HTTP."""
    lane = os.environ.pop(LANE, "")
    if lane.isdigit() and _is_unix_socket(int(lane)):
        return LaneClient(int(lane))
    return RuntimeClient(os.environ["AWS_LAMBDA_RUNTIME_API"])


def _is_unix_socket(fd):
    """A process not started by samrun's process backend may have another file under that
    number (or none): then the HTTP Runtime API, which samrun serves for every instance."""
    try:
        probe = socket.socket(fileno=os.dup(fd))
    except OSError:
        return False
    try:
        return probe.family == socket.AF_UNIX
    finally:
        probe.close()


def terminal_breakpoints():
    """`samrun invoke` on a terminal gave its terminal and a pipe (their variable gone before
    any user code runs): breakpoint() runs pdb on that terminal, after telling samrun through
    the pipe, which then lifts the timeout. A PYTHONBREAKPOINT the function sets wins."""
    tty, _, paused = os.environ.pop(TERMINAL, "").partition(":")
    if not (tty.isdigit() and paused.isdigit()):
        return
    tty, paused = int(tty), int(paused)
    try:
        os.set_inheritable(tty, False)  # the function's own child processes do not get them
        os.set_inheritable(paused, False)
    except OSError:
        return
    if os.environ.get("PYTHONBREAKPOINT") is None:
        sys.breakpointhook = _TerminalDebugger(tty, paused).breakpoint


class _TerminalDebugger:
    def __init__(self, tty, paused):
        self.tty = tty
        self.paused = paused
        self.files = None

    def breakpoint(self, *args, **kwargs):
        import pdb

        with contextlib.suppress(OSError):
            os.write(self.paused, b"p")
        if self.files is None:  # a tty is not seekable: one file to read it, one to write it
            self.files = (
                open(self.tty, closefd=False),  # noqa: SIM115 (kept for the process's life)
                open(self.tty, "w", buffering=1, closefd=False),  # noqa: SIM115
            )
        debugger = pdb.Pdb(stdin=self.files[0], stdout=self.files[1], nosigint=True)
        debugger.set_trace(sys._getframe().f_back)


class Context:
    """The `context` argument, with the attributes Lambda's Python runtime gives it."""

    def __init__(self, headers):
        env = os.environ
        self.aws_request_id = headers.get("lambda-runtime-aws-request-id", "")
        self.invoked_function_arn = headers.get("lambda-runtime-invoked-function-arn", "")
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self._deadline_ms = int(headers.get("lambda-runtime-deadline-ms") or 0)
        self.client_context = _client_context(headers.get("lambda-runtime-client-context"))
        self.identity = _cognito(headers.get("lambda-runtime-cognito-identity"))
        self.tenant_id = headers.get("lambda-runtime-aws-tenant-id")  # TenancyConfig PER_TENANT

    def get_remaining_time_in_millis(self):
        return max(self._deadline_ms - int(time.time() * 1000), 0)


class _Namespace:
    def __init__(self, **fields):
        self.__dict__.update(fields)


def _client_context(text):
    if not text:
        return None
    data = json.loads(text)
    client = data.get("client") or {}
    return _Namespace(
        client=_Namespace(
            installation_id=client.get("installation_id"),
            app_title=client.get("app_title"),
            app_version_name=client.get("app_version_name"),
            app_version_code=client.get("app_version_code"),
            app_package_name=client.get("app_package_name"),
        ),
        custom=data.get("custom"),
        env=data.get("env"),
    )


def _cognito(text):
    data = json.loads(text) if text else {}
    return _Namespace(
        cognito_identity_id=data.get("cognitoIdentityId"),
        cognito_identity_pool_id=data.get("cognitoIdentityPoolId"),
    )


class _RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record):
        record.aws_request_id = _RequestIdFilter.request_id
        return True


LEVELS = {"TRACE": 5, "DEBUG": 10, "INFO": 20, "WARN": 30, "ERROR": 40, "FATAL": 50}


def json_logs():
    """LoggingConfig LogFormat JSON: Lambda sets AWS_LAMBDA_LOG_FORMAT (and the level)."""
    return os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"


def _iso(created):
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
        + f".{int(created % 1 * 1000):03d}Z"
    )


class _JsonFormatter(logging.Formatter):
    """One JSON object per record, with the keys Lambda's Python runtime writes."""

    def format(self, record):
        entry = {
            "timestamp": _iso(record.created),
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "requestId": getattr(record, "aws_request_id", ""),
        }
        if record.exc_info and record.exc_info[0] is not None:
            entry["errorType"] = record.exc_info[0].__name__
            entry["errorMessage"] = str(record.exc_info[1])
            entry["stackTrace"] = traceback.format_tb(record.exc_info[2])
        return json.dumps(entry, default=str)


def setup_logging():
    handler = logging.StreamHandler(sys.stdout)
    if json_logs():
        handler.setFormatter(_JsonFormatter())
        level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "INFO").upper()
        logging.getLogger().setLevel(LEVELS.get(level, logging.INFO))
    else:
        handler.setFormatter(
            logging.Formatter(
                "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
                "%Y-%m-%dT%H:%M:%S",
            )
        )
        handler.formatter.converter = time.gmtime
    handler.addFilter(_RequestIdFilter())
    logging.getLogger().addHandler(handler)


def load_handler(spec):
    """Resolve `module.function` as awslambdaric does, raising its faults."""
    try:
        modname, fname = spec.rsplit(".", 1)
    except ValueError as exc:
        raise Fault("Runtime.MalformedHandlerName", f"Bad handler '{spec}': {exc}") from None
    if modname.split(".")[0] in sys.builtin_module_names:
        message = f"Cannot use built-in module {modname} as a handler module"
        raise Fault("Runtime.BuiltInModuleConflict", message)
    try:
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as exc:
        message = f"Unable to import module '{modname}': {exc}"
        raise Fault("Runtime.ImportModuleError", message) from None
    except SyntaxError as exc:
        trace = [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']
        message = f"Syntax error in module '{modname}': {exc}"
        raise Fault("Runtime.UserCodeSyntaxError", message, trace) from None
    handler = getattr(module, fname, None)
    if handler is None:
        fault = Fault("Runtime.HandlerNotFound", f"Handler '{fname}' missing on module '{modname}'")

        def missing(event, context):
            raise fault

        return missing
    return handler


def error_body(error_type, message, trace, request_id=""):
    return {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": trace,
    }


def exception_body(exc, request_id=""):
    if isinstance(exc, Fault):
        return error_body(exc.error_type, exc.message, exc.trace, request_id)
    trace = traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:])
    return error_body(type(exc).__name__, str(exc), trace, request_id)


def log_error(body):
    if json_logs():
        entry = {
            "timestamp": _iso(time.time()),
            "level": "ERROR",
            "message": body["errorMessage"],
            "errorType": body["errorType"],
            "errorMessage": body["errorMessage"],
            "stackTrace": body["stackTrace"],
            "requestId": body.get("requestId", ""),
        }
        sys.stdout.write(json.dumps(entry) + "\n")
        return
    lines = [f"[ERROR] {body['errorType']}: {body['errorMessage']}"]
    if body["stackTrace"]:
        lines.append("Traceback (most recent call last):")
        lines.extend(line.rstrip("\n") for line in body["stackTrace"])
    sys.stdout.write("\n".join(lines) + "\n")


def _default(value):
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _keeps_unicode():
    """Lambda's Python 3.12 and later runtimes write non-ASCII characters as they are; earlier
    ones escape them (\\uXXXX), as awslambdaric does by AWS_EXECUTION_ENV."""
    version = os.environ.get("AWS_EXECUTION_ENV", "").removeprefix("AWS_Lambda_python")
    major, _, minor = version.partition(".")
    return major.isdigit() and minor.isdigit() and (int(major), int(minor)) >= (3, 12)


ENSURE_ASCII = not _keeps_unicode()


def to_json(result):
    """The response payload: bytes as they are (awslambdaric sends them unchanged), else JSON."""
    if isinstance(result, bytes):
        return result
    try:
        return json.dumps(result, default=_default, ensure_ascii=ENSURE_ASCII).encode()
    except (TypeError, ValueError) as exc:
        raise Fault("Runtime.MarshalError", f"Unable to marshal response: {exc}") from None


def handle(client, handler, headers, body):
    """Runs one event; returns the next one (its answer and the next request share a write)."""
    request_id = headers.get("lambda-runtime-aws-request-id", "")
    _RequestIdFilter.request_id = request_id
    os.environ["_X_AMZN_TRACE_ID"] = headers.get("lambda-runtime-trace-id", "")
    try:
        try:
            event = json.loads(body) if body else {}
        except ValueError as exc:
            raise Fault("Runtime.UnmarshalError", f"Unable to unmarshal input: {exc}") from None
        payload = to_json(handler(event, Context(headers)))
    except Exception as exc:
        failure = exception_body(exc, request_id)
        log_error(failure)
        path = f"/invocation/{request_id}/error"
        return client.post_then_next(path, json.dumps(failure).encode(), failure["errorType"])
    return client.post_then_next(f"/invocation/{request_id}/response", payload)


def main():
    client = connect()
    terminal_breakpoints()
    sys.path.insert(0, os.environ.get("LAMBDA_TASK_ROOT", "."))
    setup_logging()
    try:
        handler = load_handler(os.environ["_HANDLER"])
    except Exception as exc:
        failure = exception_body(exc)
        log_error(failure)
        client.post("/init/error", json.dumps(failure).encode(), failure["errorType"])
        sys.exit(1)
    headers, body = client.next()
    while True:
        headers, body = handle(client, handler, headers, body)


if __name__ == "__main__":
    main()
