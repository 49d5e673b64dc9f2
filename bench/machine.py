"""The machine a benchmark ran on: figures mean little without it."""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class Machine:
    cpus: int
    cpu_model: str
    python: str
    platform: str
    load_average: tuple[float, float, float]
    started_at: str

    def describe(self) -> str:
        load = " / ".join(f"{value:.2f}" for value in self.load_average)
        return (
            f"{self.cpus} CPUs ({self.cpu_model}), Python {self.python}, {self.platform}; "
            f"load average at start (1/5/15 min): {load}; run at {self.started_at}"
        )


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def this_machine() -> Machine:
    return Machine(
        cpus=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1,
        cpu_model=_cpu_model(),
        python=sys.version.split()[0],
        platform=platform.platform(terse=True),
        load_average=os.getloadavg(),
        started_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
