"""The machine a bench ran on, printed with its table (CPU, cores, Python, date, load average)."""

from __future__ import annotations

import os
import platform
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
