"""The stream-mode break-even agrees with the model's own Kinesis line items on either side of it."""

from __future__ import annotations

import pytest

from tools.cost.break_even import break_even
from tools.cost.model import estimate
from tools.cost.prices import load_price_book
from tools.cost.workload import Assumptions, Workload


@pytest.fixture(scope="module")
def book():
    return load_price_book()


def kinesis(book, pairs: int, shards: int) -> float:
    report = estimate(Workload(pairs=pairs, interval="1min", shards=shards), book)
    return next(s.monthly_usd for s in report.services if s.service == "Kinesis Data Streams")


def test_two_shards_always_cost_less_than_on_demand(book):
    point = break_even(book, "us-east-1", Assumptions())
    assert point.min_shards_where_on_demand_can_pay == 3
    assert point.shards_on_demand_hour_buys == pytest.approx(0.04 / 0.015)
    assert kinesis(book, 1, 2) < kinesis(book, 1, 0)


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_on_demand_beats_three_shards_only_below_the_break_even(book, region):
    point = break_even(book, region, Assumptions())
    runs = 730 * 60  # 1min runs a month: each run publishes one record per pair
    below, above = int(point.records_per_month * 0.9 / runs), int(point.records_per_month * 1.1 / runs) + 1
    assert below * runs < point.records_per_month < above * runs

    def cost(pairs: int, shards: int) -> float:
        report = estimate(Workload(pairs=pairs, interval="1min", shards=shards, region=region), book)
        return next(s.monthly_usd for s in report.services if s.service == "Kinesis Data Streams")

    assert cost(below, 0) < cost(below, 3)
    assert cost(above, 3) < cost(above, 0)
