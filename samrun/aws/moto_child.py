"""The embedded moto server, run as samrun's child process (never in samrun's own interpreter:
moto's handlers would share samrun's GIL and event loop).

`python -m samrun.aws.moto_child HOST PARENT_PID` binds HOST on an ephemeral port, prints the
port on one line, and serves until samrun goes: SIGKILL from the kernel when the parent dies
(prctl PR_SET_PDEATHSIG, Linux), and a watchdog on the parent pid where prctl is missing or the
parent died before it took effect.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

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


def main(host: str, parent: int) -> None:
    die_with(parent)
    from samrun.aws import moto_patches

    moto_patches.apply()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *args: object, **kwargs: object) -> None:
            pass

    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(host, 0, app, threaded=True, request_handler=QuietHandler)
    print(server.server_port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
