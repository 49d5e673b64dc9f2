"""Fault-injection soak of the whole pipeline on the embedded stack (``make soak``, ``make soak-short``).

``run_soak(SoakConfig(quotes=...))`` streams simulated market hours through the real producer and
consumer while injecting every fault kind (``faults``), then accounts for every record (``verify``).
"""

from tools.soak.faults import FaultRates
from tools.soak.run import SoakConfig, SoakReport, run_soak

__all__ = ["FaultRates", "SoakConfig", "SoakReport", "run_soak"]
