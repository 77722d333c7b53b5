"""The dashboard's browser tests: a real `samrun up` per module, and Debian's headless Chromium
driven by Selenium. Without chromium and chromedriver the tests fail (CI installs them)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import SamrunProcess, start_up

APP = Path(__file__).parent / "app" / "template.yaml"
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
TIME_SCALE = "20"
KEEP_SHOTS = os.environ.get("SAMRUN_DASHBOARD_SHOTS")  # also copy the screenshots here


def browser_paths() -> tuple[str, str]:
    """Chromium and its driver (Debian: `apt-get install chromium chromium-driver`)."""
    binary = next((found for name in CHROMIUM if (found := shutil.which(name))), None)
    driver = shutil.which("chromedriver")
    if binary is None or driver is None:
        pytest.fail("the dashboard tests need chromium and chromedriver (.ci/run installs them)")
    return binary, driver


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the tests' app (a test deploys new code of Canary into it)."""
    folder = tmp_path_factory.mktemp("dashboard") / "app"
    return Path(shutil.copytree(APP.parent, folder, ignore=shutil.ignore_patterns("__pycache__")))


@pytest.fixture(scope="module")
def server(app_dir: Path) -> Iterator[SamrunProcess]:
    running = start_up(  # Flaky is traced (Active); Canary's canary lasts 15 s
        app_dir / APP.name,
        app_dir.parent / ".samrun",
        "--trace-sample-rate",
        "1",
        "--time-scale",
        TIME_SCALE,
    )
    yield running
    running.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[WebDriver]:
    """One headless Chromium for every dashboard test (each module opens its own server's page)."""
    binary, driver = browser_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (
        "--headless=new",
        "--no-sandbox",  # as root in CI
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1400,900",
        "--enable-precise-memory-info",  # performance.memory, for the bounded test
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the page's errors
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    yield chrome
    chrome.quit()


@pytest.fixture
def shot(browser: WebDriver, tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """`shot(name)`: a screenshot in the test's output folder; one is always taken at the end."""
    taken: list[Path] = []
    browser.get("about:blank")  # the last module's page (its server gone) stops reconnecting
    browser.get_log("browser")  # and what it logged is not this test's

    def take(name: str) -> Path:
        path = tmp_path / f"{name}.png"
        browser.save_screenshot(str(path))
        taken.append(path)
        if KEEP_SHOTS:  # a folder to keep them in (docs/dashboard.png is one)
            Path(KEEP_SHOTS).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(KEEP_SHOTS) / path.name)
        return path

    yield take
    if not taken:
        take("end")
    errors = [
        e["message"]
        for e in browser.get_log("browser")
        if e["level"] == "SEVERE" and "ERR_NETWORK_CHANGED" not in e["message"]  # (see above)
    ]
    assert not errors, f"the page logged errors: {errors}"


def open_dashboard(browser: WebDriver, server: SamrunProcess) -> None:
    url = f"{server.lambda_endpoint}/_samrun/"
    browser.get(url)

    def ready(b: WebDriver) -> bool:
        """Loaded; Chromium's error page (ERR_NETWORK_CHANGED: a network interface came or went
        on this machine, as the VPC tests make them) is loaded again."""
        if b.execute_script("return document.body.dataset.ready") == "true":
            return True
        loaded = b.execute_script("return document.readyState") == "complete"
        if loaded and b.title != "samrun dashboard":
            b.get(url)
        return False

    wait(browser, ready)
    wait(browser, lambda b: b.find_element("id", "live-status").text == "live")


def wait(
    browser: WebDriver, condition: Callable[[WebDriver], object], timeout: float = 30
) -> object:
    """Until `condition(browser)` is truthy (a stale element is retried), or fail."""
    return WebDriverWait(
        browser, timeout, ignored_exceptions=[StaleElementReferenceException]
    ).until(condition)


def tab(browser: WebDriver, name: str) -> None:
    browser.find_element("css selector", f"nav button[data-tab='{name}']").click()


def feed_row(browser: WebDriver, request_id: str) -> WebElement | None:
    found = browser.find_elements("css selector", f"#feed tbody tr[data-id='{request_id}']")
    return found[0] if found else None
