"""The machine a bench ran on, printed with its table (CPU, cores, Python, date, load average), and
the percentile rule every bench prints."""

from __future__ import annotations

import os
import platform
import statistics
from datetime import UTC, datetime
from pathlib import Path


def load_average() -> float:
    """The 1-minute load average: a bench prints it at its start and end (this machine is shared)."""
    return round(os.getloadavg()[0], 2)


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "?")  # fmt: skip
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "date": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC", "load_1min": load_average()}  # fmt: skip


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (q in (0, 100), tenths allowed: 99.9), interpolated between observed
    values (never beyond the largest); NaN for no values. One rule for every bench's p50 / p99."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[round(q * 10) - 1]
