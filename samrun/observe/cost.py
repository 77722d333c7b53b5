"""What each invocation would cost on Lambda: requests, GB-seconds by architecture, provisioned
concurrency and ephemeral storage, from a price table that is a data file with its date and
source (`data/lambda-prices.json`, replaceable with `--price-file`).

Duration is billed in 1 ms steps, as Lambda bills it; the first price tier only (samrun never
reaches the next one), no free tier.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from samrun.errors import SamrunError

DEFAULT_PRICES = Path(__file__).parent / "data" / "lambda-prices.json"
FREE_STORAGE_MB = 512


@dataclass(frozen=True, slots=True)
class PriceTable:
    date: str
    source: str
    request: float
    duration: dict[str, float]  # architecture -> USD per GB-second
    provisioned: dict[str, float]  # provisioned concurrency, per configured GB-second
    provisioned_duration: dict[str, float]  # duration on a provisioned instance
    storage: float  # ephemeral storage over 512 MB, per GB-second

    def invocation(
        self,
        duration_ms: float,
        memory_mb: int,
        architecture: str = "x86_64",
        *,
        on_provisioned: bool = False,
        storage_mb: int = FREE_STORAGE_MB,
    ) -> float:
        """The price of one invocation: the request plus its billed duration."""
        seconds = max(1, math.ceil(duration_ms)) / 1000
        rates = self.provisioned_duration if on_provisioned else self.duration
        rate = rates.get(architecture, rates["x86_64"])
        extra_storage = max(0, storage_mb - FREE_STORAGE_MB) / 1024 * seconds * self.storage
        return self.request + memory_mb / 1024 * seconds * rate + extra_storage

    def provisioned_time(self, seconds: float, memory_mb: int, architecture: str) -> float:
        """The price of one provisioned instance kept for `seconds`."""
        rate = self.provisioned.get(architecture, self.provisioned["x86_64"])
        return memory_mb / 1024 * seconds * rate

    def describe(self) -> dict[str, str]:
        return {"date": self.date, "source": self.source}


def load_prices(path: Path | None = None) -> PriceTable:
    """The price table at `path` (--price-file), else samrun's own."""
    where = path or DEFAULT_PRICES
    try:
        data: Any = json.loads(Path(where).read_text())
        return PriceTable(
            date=str(data["date"]),
            source=str(data["source"]),
            request=float(data["request"]),
            duration=_rates(data["duration_gb_second"]),
            provisioned=_rates(data["provisioned_concurrency_gb_second"]),
            provisioned_duration=_rates(data["provisioned_duration_gb_second"]),
            storage=float(data.get("ephemeral_storage_gb_second", 0.0)),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SamrunError(f"--price-file {where}: {exc!r}; see {DEFAULT_PRICES}") from None


def _rates(value: Any) -> dict[str, float]:
    rates = {str(k): float(v) for k, v in dict(value).items()}
    if "x86_64" not in rates:
        raise KeyError("x86_64")
    return rates
