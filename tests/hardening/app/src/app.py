"""Functions for the hardening tests: each one shows what a sandbox can see or leave behind."""

import contextlib
import os
import subprocess
import sys
import time


def echo(event, context):
    time.sleep(float(event.get("sleep", 0)) if isinstance(event, dict) else 0)
    return {"ok": True, "pid": os.getpid()}


def fds(event, context):
    """Every descriptor this process holds, and what it points at."""
    found = {}
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            found[fd] = os.readlink(f"/proc/self/fd/{fd}")
    return {"fds": found}


def daemon(event, context):
    """Start a daemon (setsid, double fork) that outlives this call; return its pid."""
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, time\nif os.fork():\n    os._exit(0)\nos.setsid()\n"
            "print(os.getpid(), flush=True)\ntime.sleep(600)",
        ],
        stdout=subprocess.PIPE,
        start_new_session=True,
        text=True,
    )
    pid = int(child.stdout.readline())
    child.wait()
    return {"daemon": pid}


def daemon_then_exit(event, context):
    """Start a daemon, say its pid, and end the runtime itself (a crash)."""
    pid = daemon(event, context)["daemon"]
    print(f"daemon {pid}", flush=True)
    os._exit(3)


def slow(event, context):
    time.sleep(float(event.get("sleep", 2)))
    return {"slept": event.get("sleep", 2)}


def write_state(event, context):
    """Try to write into a folder the event names (samrun's state folder in the test)."""
    results = {}
    for path in event["paths"]:
        try:
            with open(path, "a") as f:
                f.write("x")
            results[path] = "written"
        except OSError as exc:
            results[path] = exc.strerror
    tmp = os.path.join(os.environ.get("TMPDIR", "/tmp"), "probe")
    with open(tmp, "w") as f:
        f.write("ok")
    results["tmp"] = "written"
    results["uid"] = os.getuid()
    return results


def env(event, context):
    return dict(os.environ)


def imports(event, context):
    import helper  # noqa: F401  (a module of the code folder: Python would cache its bytecode)

    return {"ok": True, "flags": sys.flags.dont_write_bytecode}
