"""The cost model's metric series are the ones the handlers publish (each is $0.30 a month)."""

from __future__ import annotations

import re
from pathlib import Path

from tools.cost.workload import Assumptions

ROOT = Path(__file__).resolve().parents[2]


def _series(path: str) -> list[str]:
    return re.findall(r'add_metric\(name="(\w+)"', (ROOT / path).read_text())


def test_each_handler_publishes_the_series_the_model_prices() -> None:
    a = Assumptions()
    assert _series("producer/handler.py") == ["FailedPairs"] and a.producer_metrics == 1
    assert _series("consumer/handler.py") == [] and a.consumer_metrics == 0
    assert _series("archive_transform/handler.py") == [] and a.transform_metrics == 0
