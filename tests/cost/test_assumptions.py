"""The cost model's metric series are the ones the handlers publish (each is $0.30 a month)."""

from __future__ import annotations

from consumer import handler as consumer
from tools.cost.workload import Assumptions


def test_consumer_series_are_its_counts_and_the_max_lag() -> None:
    assert Assumptions().consumer_metrics == len(consumer._COUNTS) + 1
