"""samrun's own descriptor limit: raised to the hard limit once, at start.

Every connection, Runtime API listener and output pipe is a descriptor of samrun's; with a soft
limit of 1,024 (a common default) a burst of a thousand callers exhausts it and cold starts fail
with EMFILE. Function processes get Lambda's own 1,024 back (runtime/isolation.py) and inherit
no descriptor of samrun's but stdio (runtime/process.py).
"""

from __future__ import annotations

import logging
import resource

logger = logging.getLogger(__name__)


def raise_fd_limit() -> int:
    """Set the soft RLIMIT_NOFILE to the hard one; returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (OSError, ValueError) as exc:
        logger.debug("could not raise the descriptor limit from %d: %s", soft, exc)
        return soft
    return target
