"""samrun's spare Python interpreter: started before it is needed, with the runtime client
already imported, it waits for the one instance it will become (samrun/runtime/spares.py is
samrun's side: it decides which instances a spare may serve, and starts the rest as before).

`python -u -S spare.py CONTROL_FD SAMRUN_PID CGROUP...`: CONTROL_FD is a SOCK_SEQPACKET socket
to samrun. The spare joins the cgroup folders (the instance's to be) at once, says it is ready
(with the modules it imported and the size of its environment block), then waits for one JSON
message with descriptors attached (SCM_RIGHTS): the output pipe, then any to keep at the same
numbers. It dies with samrun, and exits when samrun closes the socket.

It becomes the instance as runtime/isolation.py and runtime/unprivileged.py make a spawned one,
in the same order: PDEATHSIG; its cgroups (joined already; else it is a child subreaper); a
private tmpfs as TMPDIR (else RLIMIT_FSIZE); Lambda's rlimits; an unprivileged uid keeping only
CAP_DAC_READ_SEARCH. Then what exec would have given it: stdio, only the descriptors asked for,
the working folder, the environment (replaced whole), sys.path as PYTHONPATH makes it, sys.argv;
it tells samrun it started, and runs the runtime client's main() as bootstrap.py's `__main__`
would. samrun started it in a session of its own, as it starts a runtime. Standard library only,
any Python 3.9+.
"""

import ctypes
import fcntl
import importlib
import json
import os
import resource
import select
import signal
import socket
import sys
import time

import bootstrap  # the point of the spare: imported before the instance needs it

LIBC = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG, PR_SET_KEEPCAPS, PR_SET_CHILD_SUBREAPER = 1, 8, 36
PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_DAC_READ_SEARCH = 47, 2, 2
CAPABILITY_VERSION_3 = 0x20080522
CLONE_NEWNS, MS_REC, MS_PRIVATE = 0x00020000, 16384, 1 << 18
CLONE_NEWNET = 0x40000000
MAX_FILES = MAX_PROCESSES = 1024
HIGH_FD = 512  # received descriptors are moved above this before they take their numbers


class CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def wait_for_instance(control, parent):
    """Say it is ready; return the instance's request and descriptors when samrun sends them."""
    preloaded = sorted({name.split(".")[0] for name in sys.modules})
    room = block_size(os.fsencode(f"{k}={v}") for k, v in os.environ.items())
    ready = {"ready": os.getpid(), "modules": preloaded, "environment_room": room}
    control.send(json.dumps(ready).encode())
    while True:
        if os.getppid() != parent:  # samrun died before PDEATHSIG was set
            os._exit(0)
        readable, _, _ = select.select([control], [], [], 1.0)
        if not readable:
            continue
        message, fds, _, _ = socket.recv_fds(control, 1 << 20, 64)
        if not message:
            os._exit(0)  # samrun closed its end: not needed
        return json.loads(message), fds


def join(cgroups):
    for folder in cgroups:
        with open(os.path.join(folder, "cgroup.procs"), "w") as procs:
            procs.write(str(os.getpid()))


def isolate(request, cgroups):
    """runtime/isolation.py's child_setup, step for step (the session is samrun's doing, the
    cgroups were joined at the start)."""
    if not cgroups:
        LIBC.prctl(PR_SET_CHILD_SUBREAPER, 1)
    if request.get("netns"):  # a VPC function's network namespace, while still root
        fd = os.open(request["netns"], os.O_RDONLY | os.O_CLOEXEC)
        try:
            if LIBC.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns")
        finally:
            os.close(fd)
    fsize = request["ephemeral_storage_mb"] * 1024 * 1024
    if not (request["tmpfs"] and private_tmp(request)):
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))


def private_tmp(request):
    folder = os.fsencode(request["tmp_dir"])
    options = f"size={request['ephemeral_storage_mb']}m,mode=1777".encode()
    if LIBC.unshare(CLONE_NEWNS) != 0:
        return False
    if LIBC.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        return False
    return LIBC.mount(b"tmpfs", folder, b"tmpfs", 0, options) == 0


def become(uid):
    """runtime/unprivileged.py's switcher."""
    header = CapHeader(CAPABILITY_VERSION_3, 0)
    keep = 1 << CAP_DAC_READ_SEARCH
    data = (CapData * 2)(CapData(keep, keep, keep), CapData(0, 0, 0))
    if LIBC.prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_KEEPCAPS")
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if LIBC.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset")
    if LIBC.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_DAC_READ_SEARCH, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_CAP_AMBIENT")
    LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # a uid change clears it


def descriptors(fds, numbers, control):
    """stdin from /dev/null, stdout and stderr the output pipe (fds[0]), fds[1:] at `numbers`,
    and nothing else open but `control` (returned at its new number): what exec with
    close_fds and pass_fds would leave. Everything is first moved above every number in play,
    so no descriptor is overwritten before it is placed."""
    base = max([HIGH_FD, control, *fds, *numbers]) + 1
    moved = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, base) for fd in fds]
    channel = fcntl.fcntl(control, fcntl.F_DUPFD_CLOEXEC, base)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(moved[0], 1)
    os.dup2(moved[0], 2)
    for fd, number in zip(moved[1:], numbers):  # noqa: B905 - Python 3.9 has no strict
        os.dup2(fd, number)  # inheritable, as pass_fds makes them
    kept = sorted({0, 1, 2, *numbers, channel})
    for low, high in zip(kept, [*kept[1:], max(channel + 1, os.sysconf("SC_OPEN_MAX"))]):  # noqa: B905
        os.closerange(low + 1, high)
    return channel


def rewrite_block(field, strings):
    """Overwrite the process's initial argument (field 48 of /proc/self/stat) or environment
    (field 50) block in place, NUL-padded: /proc/PID/cmdline and /proc/PID/environ (ps, and
    samrun's search for an instance's orphans) then show the instance's, not the spare's.
    Python copied both at start; os.environ.clear() left none of the C environment there."""
    with open("/proc/self/stat", "rb") as stat:
        fields = stat.read().rsplit(b")", 1)[1].split()  # fields[0] is field 3
    start, end = int(fields[field - 3]), int(fields[field - 2])
    data = b"".join(item + b"\0" for item in strings)
    if not start or len(data) > end - start:
        return False
    ctypes.memmove(start, data + b"\0" * (end - start - len(data)), end - start)
    return True


def block_size(strings):
    return sum(len(item) + 1 for item in strings)


def become_instance(request, fds, base_path, control, cgroups):
    """Everything exec would have done; the runtime client's module is executed again, so what
    it reads from the environment at import time is the function's."""
    global bootstrap
    isolate(request, cgroups)
    channel = descriptors(fds, request["pass_fds"], control.fileno())
    resource.setrlimit(resource.RLIMIT_NOFILE, (MAX_FILES, MAX_FILES))
    resource.setrlimit(resource.RLIMIT_NPROC, (MAX_PROCESSES, MAX_PROCESSES))
    if request["uid"] is not None:
        become(request["uid"])
    os.chdir(request["cwd"])
    env = request["env"]
    os.environ.clear()
    os.environ.update(env)
    rewrite_block(50, [os.fsencode(f"{key}={value}") for key, value in env.items()])
    rewrite_block(48, [os.fsencode(arg) for arg in request["argv"]])
    time.tzset()
    sys.dont_write_bytecode = bool(env.get("PYTHONDONTWRITEBYTECODE"))
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    sys.path[:] = [os.path.dirname(bootstrap.__file__), *paths, *base_path]
    sys.path_importer_cache.clear()
    importlib.invalidate_caches()
    sys.argv[:] = [bootstrap.__file__]
    orig = getattr(sys, "orig_argv", None)  # Python 3.10+
    if orig and __file__ in orig:
        sys.orig_argv = [*orig[: orig.index(__file__)], bootstrap.__file__]
    bootstrap = importlib.reload(bootstrap)
    sys.modules["__main__"] = bootstrap  # the script a fresh interpreter would have run
    # set up: samrun's spawn returns now, as a spawn returns once exec succeeded (so REPORT's
    # Init Duration counts from here, the runtime's start, as it does for a spawned one)
    os.write(channel, json.dumps({"started": os.getpid()}).encode())
    os.close(channel)


if __name__ == "__main__":
    base = sys.path[1:]  # the interpreter's own entries: the spare has no PYTHONPATH
    channel = socket.socket(fileno=int(sys.argv[1]))
    LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    cgroups = sys.argv[3:]
    join(cgroups)
    request, fds = wait_for_instance(channel, int(sys.argv[2]))
    try:
        become_instance(request, fds, base, channel, cgroups)
    except BaseException:  # as a failed exec: samrun sees the exit, nothing runs
        os._exit(127)
    channel.detach()  # closed already, at its new number
    del request, fds, base, channel, cgroups
    bootstrap.main()
