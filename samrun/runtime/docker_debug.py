"""A debugged function in a container: its debugger mounted in, its port on this machine's loopback.

The image's own entrypoint and bootstrap start the runtime as always (nothing about an image is
assumed beyond Lambda's contract). For Python, samrun's start-up folder (bootstraps/debug: a
`sitecustomize` module) and a debugpy are mounted read-only and the folder is put first on
PYTHONPATH, so the image's Python starts debugpy before its runtime client; for Node.js, the
inspector is asked for through NODE_OPTIONS; a `provided` bootstrap runs under `--debug-args`,
with `--debugger-path` mounted where SAM CLI mounts it. On a local engine the container shares
this machine's network, so the debugger listens on loopback itself; on a bridge network it
listens on the container's interfaces and the port is published on 127.0.0.1 only.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from samrun.runtime.debugging import LOOPBACK, DebugSpec

ROOT = "/var/samrun-debug"
SITE = f"{ROOT}/site"  # sitecustomize: starts debugpy (bootstraps/debug/sitecustomize.py)
DEBUGPY = f"{ROOT}/lib/debugpy"
SAM_DEBUGGER = "/tmp/lambci_debug_files"  # where SAM CLI mounts --debugger-path
STARTUP = Path(__file__).parent / "bootstraps" / "debug"
REMOTE_ROOT = "/var/task"  # what an IDE maps to the function's folder (pathMappings)


def language(runtime: str | None) -> str | None:
    """python | nodejs | provided, or None for an image function (whatever its image runs)."""
    for family in ("python", "nodejs", "provided"):
        if (runtime or "").startswith(family):
            return family
    return None


def debug_folders(runtime: str | None, spec: DebugSpec) -> dict[str, Path]:
    """Where in the container -> the folder of this machine mounted there, read-only."""
    family = language(runtime)
    folders: dict[str, Path] = {}
    if family in ("python", None):
        from samrun.runtime.debug_python import debugpy_folder

        folders[SITE] = STARTUP
        folders[DEBUGPY] = debugpy_folder(spec.debugger_path if family == "python" else None)
    if family != "python" and spec.debugger_path:
        folders[SAM_DEBUGGER] = Path(spec.debugger_path).expanduser().resolve()
    return folders


def listen_host(host_network: bool) -> str:
    """Loopback when the container shares this machine's network; else every interface of the
    container's own network (only the published port reaches it, and that on loopback)."""
    return LOOPBACK if host_network else "0.0.0.0"


def debug_environment(
    runtime: str | None,
    spec: DebugSpec,
    env: Mapping[str, str],
    image_env: Mapping[str, str],
    *,
    host_network: bool,
) -> dict[str, str]:
    """The variables that start the debugger, merged with the function's and the image's own
    (a variable the container is given replaces the image's, so theirs are kept after ours)."""
    family = language(runtime)
    where = f"{listen_host(host_network)}:{spec.port}"
    added: dict[str, str] = {}
    if family in ("python", None):
        added["SAMRUN_DEBUGPY"] = where + (":wait" if spec.wait else "")
        added["PYTHONPATH"] = joined(SITE, env.get("PYTHONPATH") or image_env.get("PYTHONPATH"))
        added["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # frozen stdlib modules: no warning
    if family in ("nodejs", None):
        flag = "--inspect-brk" if spec.wait else "--inspect"
        before = env.get("NODE_OPTIONS") or image_env.get("NODE_OPTIONS")
        added["NODE_OPTIONS"] = joined(f"{flag}={where}", before, sep=" ")
    return added


def joined(first: str, rest: str | None, sep: str = ":") -> str:
    return f"{first}{sep}{rest}" if rest else first


def published_ports(spec: DebugSpec, *, host_network: bool) -> dict[str, tuple[str, int]] | None:
    """The debugger's port on this machine's loopback (none to publish on the host network)."""
    return None if host_network else {f"{spec.port}/tcp": (LOOPBACK, spec.port)}


def provided_entrypoint(bootstrap: str, spec: DebugSpec) -> list[str]:
    """A `provided` function's bootstrap run by the debugger `--debug-args` names (SAM CLI's
    form: `/tmp/lambci_debug_files/dlv --listen=:5986 ... exec`)."""
    return [*spec.args, bootstrap]
