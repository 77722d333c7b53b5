"""The dashboard in a real browser against a running `samrun up`: the graph, invoking from the
page, the live feed, logs, errors, and redriving a dead-lettered event."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from tests.conftest import SamrunProcess, invoke_http
from tests.dashboard.conftest import feed_row, open_dashboard, tab, wait

Shot = Callable[[str], Path]


def api(
    server: SamrunProcess,
    path: str,
    method: str = "GET",
    body: object = None,
    **headers: str,
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(
        f"{server.lambda_endpoint}/_samrun/dashboard/api{path}",
        headers=headers,
        method=method,
        data=data,
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def test_the_graph_shows_every_resource_of_the_template(
    browser: WebDriver, server: SamrunProcess, shot: Shot
) -> None:
    ready = server.wait_for(r"ready: Lambda API on").string  # the URL is printed with it
    assert ready.endswith(f"; dashboard: {server.lambda_endpoint}/_samrun/")
    open_dashboard(browser, server)
    nodes = browser.find_elements("css selector", "#graph .node")
    logical_ids = {node.get_attribute("data-logical-id") for node in nodes}
    template = {"Jobs", "DeadLetters", "Alerts", "Hello", "Worker", "Flaky", "ServerlessHttpApi"}
    assert template <= logical_ids
    ids = {node.get_attribute("data-id") for node in nodes}
    assert "schedule:HelloNightly" in ids
    kinds = sorted(
        e.get_attribute("data-kind") for e in browser.find_elements("css selector", ".edge")
    )
    assert kinds == ["alarm", "dlq", "mapping", "route", "schedule", "trigger"]
    shot("graph")
    # a function's node opens its page: NoEcho and credential-looking values are masked
    browser.find_element("css selector", "#graph .node[data-id='fn:Hello']").click()
    # (the page is drawn again with each state message: its text is read in one go)
    text = wait(
        browser, lambda b: b.find_element("css selector", "#function-page dl.environment").text
    )
    assert "GREETING\nhello" in text
    assert "DB_PASSWORD\n****" in text and "API_TOKEN\n****" in text
    assert "hunter2-secret" not in browser.page_source
    assert "token-value-not-shown" not in browser.page_source
    shot("function")


def test_the_dashboard_is_refused_to_other_origins(server: SamrunProcess) -> None:
    status, body = api(server, "/overview", Origin="http://evil.example")
    assert status == 403 and "cross-origin" in body["message"]
    status, _ = api(server, "/overview", Host="attacker.example:80")
    assert status == 403


def test_invoke_from_the_page_then_the_feed_shows_it_live_with_its_logs(
    browser: WebDriver, server: SamrunProcess, shot: Shot
) -> None:
    open_dashboard(browser, server)
    tab(browser, "invoke")
    Select(browser.find_element("id", "invoke-function")).select_by_value("Hello")
    event = browser.find_element("id", "invoke-event")
    event.clear()
    event.send_keys('{"name": "from the page"}')
    browser.find_element("id", "invoke-go").click()
    response = wait(
        browser, lambda b: b.find_elements("css selector", "#invoke-result pre.response")
    )
    answer = response[0]  # type: ignore[index]
    assert json.loads(answer.text) == {"greeting": "hello", "name": "from the page"}
    assert "hello from Hello" in browser.find_element("id", "invoke-logs").text
    request_id = answer.get_attribute("data-id")
    shot("invoke")

    tab(browser, "invocations")  # no reload: the live feed brought the row
    row = wait(browser, lambda b: feed_row(b, request_id))
    assert "dashboard" in row.text  # type: ignore[attr-defined]
    # and one from outside the page (the Lambda API) arrives without a reload
    status, headers, _ = invoke_http(server.lambda_endpoint, "Hello", {"name": "boto"})
    assert status == 200
    outside = headers.get("x-amzn-RequestId")
    rows = wait(browser, lambda b: len(b.find_elements("css selector", "#feed tbody tr")) >= 2)
    assert rows
    if outside:
        wait(browser, lambda b: feed_row(b, outside))
    row = feed_row(browser, request_id)
    assert row is not None
    row.click()
    logs = wait(browser, lambda b: b.find_elements("id", "detail-logs"))
    text = logs[0].text  # type: ignore[index]
    assert f"START RequestId: {request_id}" in text and "hello from Hello" in text
    assert "REPORT RequestId" in text
    shot("logs")


def test_a_failing_invocation_shows_its_error_type_and_message(
    browser: WebDriver, server: SamrunProcess, shot: Shot
) -> None:
    open_dashboard(browser, server)
    tab(browser, "invocations")
    status, headers, body = invoke_http(server.lambda_endpoint, "Hello", {"fail": "kaput"})
    assert status == 200 and headers.get("X-Amz-Function-Error") == "Unhandled"
    row = wait(
        browser,
        lambda b: b.find_elements("css selector", "#feed tbody tr[data-status='error']"),
    )
    row[0].click()  # type: ignore[index]
    error_type = wait(browser, lambda b: b.find_elements("css selector", "#detail .error-type"))
    assert error_type[0].text == "ValueError"  # type: ignore[index]
    message = browser.find_element("css selector", "#detail .error-message").text
    assert message == "boom: kaput" == body["errorMessage"]  # type: ignore[index]
    assert "raise ValueError" in browser.find_element("css selector", "#detail .stack-trace").text
    shot("error")


def test_redrive_a_dead_lettered_event_and_see_it_delivered(
    browser: WebDriver,
    server: SamrunProcess,
    shot: Shot,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    marker = tmp_path_factory.mktemp("marker") / "ready"
    status, _, _ = invoke_http(
        server.lambda_endpoint,
        "Flaky",
        {"marker": str(marker), "n": 7},
        headers={"X-Amz-Invocation-Type": "Event"},
    )
    assert status == 202
    open_dashboard(browser, server)
    tab(browser, "sources")
    text = wait(browser, lambda b: b.find_element("css selector", "#dead-letters tbody tr").text)
    assert "Flaky" in text and "RetriesExhausted" in text  # type: ignore[operator]
    shot("dead-letter")

    tab(browser, "graph")  # the dead-letter queue's backlog shows on its node
    badge = "[data-id='res:DeadLetters'] .badge"
    wait(browser, lambda b: [e.text for e in b.find_elements("css selector", badge)] == ["1"])
    tab(browser, "sources")
    marker.touch()  # what failed is fixed: the redriven event is delivered

    def redrive(b: WebDriver) -> bool:
        """(The table is drawn again with each state message: a stale button is found again.)"""
        b.find_element("css selector", "#dead-letters tbody tr button.redrive").click()
        return True

    wait(browser, redrive)
    redriven = wait(browser, lambda b: b.find_elements("css selector", "#dead-letters .redriven"))
    request_id = redriven[0].text.rsplit(" ", 1)[-1]  # type: ignore[index]
    tab(browser, "invocations")
    delivered = wait(browser, lambda b: feed_row(b, request_id), timeout=60)
    assert delivered.get_attribute("data-status") == "ok"  # type: ignore[attr-defined]
    assert "async" in delivered.text  # type: ignore[attr-defined]

    def traced(b: WebDriver) -> list[Any]:
        """Its trace is stored a moment after it ran: open it again until it shows."""
        found = b.find_elements("css selector", "#detail .waterfall")
        if not found:
            row = feed_row(b, request_id)
            if row is not None:
                row.click()
        return found

    waterfall = wait(browser, traced)[0]  # type: ignore[index]
    assert "Flaky (AWS::Lambda::Function)" in waterfall.text and "Dwell Time" in waterfall.text
    logs = browser.find_element("id", "detail-logs")
    assert "delivered 7" in logs.text
    shot("redriven")
    tab(browser, "graph")  # what ran just now is listed under the graph (the README's picture)
    wait(browser, lambda b: b.find_elements("css selector", f"#recent tr[data-id='{request_id}']"))
    shot("overview")


def deploy(server: SamrunProcess, function: str) -> dict[str, Any]:
    """samrun's own deploy: publish $LATEST and shift the AutoPublishAlias (blocks until done)."""
    request = urllib.request.Request(
        f"{server.lambda_endpoint}/_samrun/functions/{function}/deploy", method="POST", data=b""
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def test_a_canary_deployment_shows_its_progress_on_the_function_page(
    browser: WebDriver, server: SamrunProcess, app_dir: Path, shot: Shot
) -> None:
    code = app_dir / "canary" / "app.py"
    code.write_text(code.read_text().replace('REVISION = "one"', 'REVISION = "two"'))
    open_dashboard(browser, server)
    tab(browser, "functions")
    browser.find_element("css selector", "#function-list li[data-name='Canary']").click()
    result: dict[str, Any] = {}
    deploying = threading.Thread(
        target=lambda: result.update(deploy(server, "Canary")), daemon=True
    )
    deploying.start()

    def canary(b: WebDriver) -> str | None:
        """The function page while 10 % of the alias's traffic is on the new version (read in
        one go: the page is drawn again with each state message)."""
        text: str = b.find_element("id", "function-page").text
        return text if "10% on version 2" in text else None

    text = wait(browser, canary, timeout=60)
    assert "live 1 → 2 (Canary10Percent5Minutes)" in text  # type: ignore[operator]
    assert "alias live → 90% → 1, 10% → 2" in text  # type: ignore[operator]
    assert "step\n1 of 1" in text  # type: ignore[operator]
    assert "alarms watched\nCanaryErrors" in text  # type: ignore[operator]
    next_step = browser.find_elements("css selector", "#deployments .next-step")
    assert not next_step or " s)" in next_step[0].text  # (in N s), unless it just ended
    shot("canary")
    deploying.join(timeout=120)
    assert result.get("Status") == "Succeeded", result

    def finished(b: WebDriver) -> str | None:
        text: str = b.find_element("id", "function-page").text
        return text if "alias live → 2" in text and "Succeeded" in text else None

    text = wait(browser, finished)
    assert "10% on version 2" not in text  # type: ignore[operator]
    status, _, body = invoke_http(server.lambda_endpoint, "Canary", qualifier="live")
    assert status == 200 and body == {"revision": "two"}


def test_a_mapped_function_charts_its_iterator_age_and_queue_depth(
    browser: WebDriver, server: SamrunProcess, shot: Shot
) -> None:
    open_dashboard(browser, server)
    tab(browser, "functions")
    browser.find_element("css selector", "#function-list li[data-name='Hello']").click()
    wait(browser, lambda b: "GREETING" in b.find_element("id", "function-page").text)
    assert not browser.find_elements("id", "source-charts")  # no mapping: no such charts
    assert "null" not in browser.find_element("id", "function-page").text
    browser.find_element("css selector", "#function-list li[data-name='Worker']").click()

    def sampled(b: WebDriver) -> bool:
        """Two samples (two state messages) drawn in both charts, from the pollers' state."""
        charts = [b.find_element("id", i) for i in ("chart-iterator-age", "chart-queue-depth")]
        return all(
            int(c.get_attribute("data-points") or 0) >= 2
            and c.find_elements("css selector", "canvas")
            for c in charts
        )

    wait(browser, sampled)
    assert browser.find_element("css selector", "#chart-queue-depth").get_attribute("data-last")
    shot("source-charts")


def test_an_event_saved_from_the_invoke_tab_is_kept_in_the_state_folder(
    browser: WebDriver, server: SamrunProcess, app_dir: Path, shot: Shot
) -> None:
    open_dashboard(browser, server)
    tab(browser, "invoke")
    event = browser.find_element("id", "invoke-event")
    event.clear()
    event.send_keys('{"name": "saved one"}')
    browser.find_element("id", "invoke-save-name").send_keys("greeting-1")
    browser.find_element("id", "invoke-save").click()
    wait(
        browser, lambda b: b.find_element("id", "invoke-save-status").text == "saved as greeting-1"
    )
    saved = app_dir.parent / ".samrun" / "dashboard" / "events" / "greeting-1.json"
    assert json.loads(saved.read_text()) == {"name": "saved one"}
    # a bad name is refused on the page, with the reason
    name = browser.find_element("id", "invoke-save-name")
    name.clear()
    name.send_keys("..")
    browser.find_element("id", "invoke-save").click()
    wait(browser, lambda b: "name" in b.find_element("id", "invoke-save-status").text)

    open_dashboard(browser, server)  # a new page: the saved event is offered
    tab(browser, "invoke")
    Select(browser.find_element("id", "invoke-function")).select_by_value("Hello")
    wait(
        browser,
        lambda b: b.find_elements("css selector", "#invoke-saved option[value='greeting-1']"),
    )
    Select(browser.find_element("id", "invoke-saved")).select_by_value("greeting-1")
    wait(
        browser,
        lambda b: "saved one" in b.find_element("id", "invoke-event").get_attribute("value"),
    )
    browser.find_element("id", "invoke-go").click()
    response = wait(
        browser, lambda b: b.find_elements("css selector", "#invoke-result pre.response")
    )
    assert json.loads(response[0].text)["name"] == "saved one"  # type: ignore[index]
    shot("saved-event")


def test_saved_events_refuse_bad_names_and_big_events(server: SamrunProcess, app_dir: Path) -> None:
    folder = app_dir.parent / ".samrun" / "dashboard"
    for name in (
        "..",
        ".hidden",
        "a..b",
        "%2E%2E%2Fescape",
        "..%2F..%2Fescape",
        "x" * 65,
        "a%20b",
        "a.json",
    ):
        status, body = api(server, f"/saved/{name}", method="PUT", body={"event": "{}"})
        assert status in (400, 404), (name, status)
    assert not list(app_dir.parent.glob("*.json")) and not list(folder.glob("*.json"))
    assert not (folder.parent / "escape.json").exists()
    status, body = api(
        server, "/saved/big", method="PUT", body={"event": json.dumps("x" * 300_000)}
    )
    assert status in (400, 413) and "KB" in body["message"]
    status, body = api(server, "/saved/notjson", method="PUT", body={"event": "{nope"})
    assert status == 400 and "not JSON" in body["message"]
    status, _ = api(server, "/saved/kept", method="PUT", body={"event": '{"a": 1}'})
    assert status == 201
    assert "kept" in api(server, "/saved")[1]["names"]
    assert api(server, "/saved/kept")[1]["event"] == '{"a": 1}'
    request = urllib.request.Request(
        f"{server.lambda_endpoint}/_samrun/dashboard/api/saved/kept", method="DELETE"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 204
    assert api(server, "/saved/kept")[0] == 404


def test_fire_now_of_a_schedule_invokes_its_function_and_the_feed_shows_it(
    browser: WebDriver, server: SamrunProcess, shot: Shot
) -> None:
    open_dashboard(browser, server)
    tab(browser, "sources")
    button = "#triggers tbody tr[data-name='HelloNightly'] button.fire"
    wait(browser, lambda b: b.find_elements("css selector", button))
    before = {
        row.get_attribute("data-id")
        for row in browser.find_elements("css selector", "#feed tbody tr[data-function='Hello']")
    }

    def fire(b: WebDriver) -> bool:
        """(The table is drawn again with each state message: a stale button is found again.)"""
        b.find_element("css selector", button).click()
        return True

    wait(browser, fire)
    tab(browser, "invocations")

    def fired(b: WebDriver) -> list[Any]:
        rows = b.find_elements("css selector", "#feed tbody tr[data-function='Hello']")
        return [r for r in rows if r.get_attribute("data-id") not in before]

    row = wait(browser, fired)[0]  # type: ignore[index]
    assert row.get_attribute("data-status") == "ok"
    assert "schedule" in row.text
    tab(browser, "sources")
    count = "#triggers tbody tr[data-name='HelloNightly'] td:nth-child(5)"
    wait(browser, lambda b: b.find_element("css selector", count).text == "1")
    shot("fired")
