"""Dependencies as `sam build` installs them (pip, npm, esbuild, makefile), into the state folder.

Runs between the graph and the orchestrator: it reads an `AppGraph` and the state folder, and
returns the graph whose functions and layers run what was built. Nothing is written into the
user's sources; an unchanged manifest builds nothing the second time (samrun.build.cache).
"""

from samrun.build.progress import Progress
from samrun.build.runner import BuildOptions, build_app, node_sdk_folder, source_graph

__all__ = ["BuildOptions", "Progress", "build_app", "node_sdk_folder", "source_graph"]
