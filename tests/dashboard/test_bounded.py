"""A page left open under load: 2,000 invocations leave samrun's memory, the events sent to
the page and the page's own rows bounded (the feed keeps rings and coalesces its messages)."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from selenium.webdriver.remote.webdriver import WebDriver

from samrun.dashboard.feed import DETAILS, MAX_ROWS_PER_MESSAGE, RECORDS
from samrun.dashboard.routes import INTERVAL_S
from tests.conftest import SamrunProcess
from tests.dashboard.conftest import open_dashboard, tab, wait

INVOCATIONS = 2000
WARM_UP = 500  # fills the feed's rings: from here on, what it keeps does not grow
PAGE_ROWS = 500  # app.js keeps as many
RSS_GROWTH_MB = 40


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def stats(server: SamrunProcess) -> dict[str, Any]:
    url = f"{server.lambda_endpoint}/_samrun/dashboard/api/stats"
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def invoke_many(server: SamrunProcess, count: int) -> None:
    client: Any = server.lambda_client()

    def one(i: int) -> None:
        answer = client.invoke(FunctionName="Hello", Payload=json.dumps({"name": str(i)}))
        assert answer["StatusCode"] == 200 and "FunctionError" not in answer

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(count)))


def test_memory_and_events_stay_bounded_with_the_page_open(
    browser: WebDriver, server: SamrunProcess, shot: Callable[[str], Path]
) -> None:
    open_dashboard(browser, server)
    tab(browser, "invocations")
    started = time.monotonic()
    invoke_many(server, WARM_UP)
    wait(browser, lambda b: stats(server)["seq"] >= WARM_UP)
    before = rss_mb(server.process.pid)
    heap_before = browser.execute_script("return performance.memory.usedJSHeapSize") / 2**20
    invoke_many(server, INVOCATIONS - WARM_UP)
    # the page catches up: its newest row is the last invocation
    wait(browser, lambda b: stats(server)["seq"] == INVOCATIONS)
    wait(browser, lambda b: b.execute_script("return page.seq") == INVOCATIONS, timeout=30)
    elapsed = time.monotonic() - started
    after = rss_mb(server.process.pid)
    shot("under-load")

    found = stats(server)
    print(f"{elapsed=:.1f}s {before=:.0f}MB {after=:.0f}MB {found}")
    assert found["rows_kept"] == RECORDS and found["details_kept"] == DETAILS
    assert found["clients"] == 1
    # at most one message per interval to the one page, never one per invocation
    assert found["messages_sent"] <= elapsed / INTERVAL_S + 2
    assert found["rows_sent"] <= found["messages_sent"] * MAX_ROWS_PER_MESSAGE
    assert after - before < RSS_GROWTH_MB, f"samrun's RSS grew from {before:.0f} to {after:.0f} MB"
    rows = browser.execute_script("return document.querySelectorAll('#feed tbody tr').length")
    assert rows <= PAGE_ROWS
    assert browser.execute_script("return page.rows.length") <= PAGE_ROWS
    heap_after = browser.execute_script("return performance.memory.usedJSHeapSize") / 2**20
    assert heap_after - heap_before < 64, f"the tab's heap grew {heap_before:.0f}->{heap_after:.0f}"
