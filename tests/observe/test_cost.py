"""Lambda's price formula, and the price table as a replaceable data file."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from samrun.observe.cost import load_prices
from tests.conftest import ROOT


def test_the_formula_by_architecture_and_provisioned_concurrency() -> None:
    prices = load_prices()
    assert prices.date and prices.source.startswith("https://aws.amazon.com/lambda/pricing")
    # 1,000 invocations of 120.2 ms at 1024 MB on x86: billed 121 ms each
    one = prices.invocation(120.2, 1024, "x86_64")
    assert math.isclose(one, 0.0000002 + 0.121 * 1.0 * 0.0000166667, rel_tol=1e-12)
    arm = prices.invocation(0.3, 128, "arm64")  # billed 1 ms at least
    assert math.isclose(arm, 0.0000002 + 0.001 * 0.125 * 0.0000133334, rel_tol=1e-12)
    warm = prices.invocation(10, 2048, "x86_64", on_provisioned=True)
    assert math.isclose(warm, 0.0000002 + 0.010 * 2 * 0.0000097222, rel_tol=1e-12)
    hour = prices.provisioned_time(3600, 1024, "x86_64")
    assert math.isclose(hour, 3600 * 0.0000041667, rel_tol=1e-12)
    storage = prices.invocation(1000, 1024, "x86_64", storage_mb=1536)
    assert math.isclose(storage, one - 0.121 * 0.0000166667 + 0.0000166667 + 0.0000000309)


def test_a_price_file_replaces_the_table(tmp_path: Path) -> None:
    table = json.loads((ROOT / "samrun" / "observe" / "data" / "lambda-prices.json").read_text())
    table |= {"request": 1.0, "date": "2030-01-01"}
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(table))
    prices = load_prices(path)
    assert prices.date == "2030-01-01" and prices.invocation(1, 128) > 1.0


def test_a_broken_price_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "prices.json").write_text('{"date": "x"}')
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "samrun",
            "invoke",
            str(ROOT / "templates" / "quickstart" / "template.yaml"),
            "HelloFunction",
            "--price-file",
            str(tmp_path / "prices.json"),
            "--state-dir",
            str(tmp_path / ".samrun"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "--price-file" in done.stderr and "Traceback" not in done.stderr


def test_the_store_prices_each_invocation_with_its_storage() -> None:
    from samrun.invoke.telemetry import Invoked
    from samrun.observe.metrics import MetricStore

    store = MetricStore(load_prices())
    for duration in (0.4, 2.5, 10.0):  # billed 1, 3 and 10 ms
        store.observe(
            Invoked("F", "$LATEST", None, duration, None, 2048, "arm64", 1, 1, None, False, 1536)
        )
    store.fold()
    billed_s = (1 + 3 + 10) / 1000
    expected = 3 * 0.0000002 + billed_s * 2 * 0.0000133334 + billed_s * 1 * 0.0000000309
    assert math.isclose(store.totals[("F", "", "$LATEST")].cost_usd, expected, rel_tol=1e-9)
