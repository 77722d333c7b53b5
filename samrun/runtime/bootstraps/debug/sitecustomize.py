"""samrun's debugger start-up for Python in a container (runtime/docker_debug.py mounts it).

The image's bootstrap starts its Python as it always does; this folder is first on PYTHONPATH
only for a debugged function, so this module runs before the runtime client: it starts debugpy
(mounted read-only beside it) listening where SAMRUN_DEBUGPY says, waits for a client when asked,
takes its folders off sys.path again, and hands over to the image's own sitecustomize, if any.
The variable is removed first, so a Python the function starts is not debugged a second time.
If debugpy cannot start (a Python it does not support, a port in use), the runtime exits with
the reason: the function never runs without the debugger that was asked for.
"""

import importlib.machinery
import importlib.util
import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
_setting = os.environ.pop("SAMRUN_DEBUGPY", "")  # HOST:PORT[:wait]
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
_paths = [p for p in os.environ.get("PYTHONPATH", "").split(":") if p and p != _here]
if _paths:  # the function's environment as it would be without the debugger
    os.environ["PYTHONPATH"] = ":".join(_paths)
else:
    os.environ.pop("PYTHONPATH", None)
if _setting:
    _host, _port, *_wait = _setting.split(":")
    _lib = os.path.join(os.path.dirname(_here), "lib")
    sys.path.insert(0, _lib)
    try:
        import debugpy

        debugpy.listen((_host, int(_port)))
    except Exception as exc:  # never run on without the debugger that was asked for
        sys.stderr.write(f"samrun: debugpy cannot start in this container: {exc}\n")
        sys.stderr.flush()
        os._exit(70)
    finally:
        if _lib in sys.path:
            sys.path.remove(_lib)
    if _wait:
        debugpy.wait_for_client()
_next = importlib.machinery.PathFinder.find_spec("sitecustomize", sys.path)
if _next is not None and _next.loader is not None:  # the image's own, now this one is off the path
    _module = importlib.util.module_from_spec(_next)
    sys.modules[__name__] = _module
    _next.loader.exec_module(_module)
