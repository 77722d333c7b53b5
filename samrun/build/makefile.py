"""`Metadata: BuildMethod: makefile`: `make build-LOGICALID` with ARTIFACTS_DIR, as SAM CLI runs
it, for functions and layers. The Makefile lives in the CodeUri / ContentUri; the sources are
copied to a scratch folder and make runs there, so nothing is written into the user's sources.
Whatever the target puts in ARTIFACTS_DIR is the function's code (or the layer's /opt).
"""

from __future__ import annotations

from pathlib import Path

from samrun.build import steps
from samrun.build.items import BuildItem


def build(item: BuildItem, out: Path, ws: steps.Workspace) -> None:
    make = steps.tool("make", "install make to build BuildMethod: makefile")
    if not (item.source / "Makefile").is_file():
        raise steps.StepFailed(f"no Makefile in {item.source}")
    scratch = ws.scratch(f"make-{item.logical_id}")
    steps.copy_tree(item.source, scratch, ws.state_dir)
    target = f"build-{item.logical_id}"
    argv = [make, "-f", str(scratch / "Makefile"), target, f"ARTIFACTS_DIR={out}"]
    steps.run(argv, what=f"make {target}", cwd=scratch, log=ws.log, env={"ARTIFACTS_DIR": str(out)})
