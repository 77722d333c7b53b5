"""The browser dashboard `samrun up` serves at /_samrun/ on the Lambda API's port.

It shows what samrun already keeps (the plan, /_samrun/state, metrics, the async queue) and a
bounded live feed of invocations (feed.py), over server-sent events (routes.py). The page's
files, and the libraries it uses (vendored from npm by vendor/package.json), are in static/.
"""

from samrun.dashboard.feed import Feed
from samrun.dashboard.routes import Dashboard, Sources

__all__ = ["Dashboard", "Feed", "Sources"]
