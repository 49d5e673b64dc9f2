"""Watermarks only move forward; the run lease keeps overlapping runs apart."""

from __future__ import annotations

import pytest

from producer.watermarks import LeaseHeld, RunLease, WatermarkStore
from tests.producer.conftest import TABLE


def stored(moto, pk: str, sk: str) -> dict:
    return moto.client("dynamodb").get_item(TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}}).get("Item", {})


def test_watermark_advances_and_never_regresses(moto):
    store = WatermarkStore(moto.client("dynamodb"), TABLE)
    assert store.get_many(["BTC-USD"], "5min") == {}
    assert store.advance("BTC-USD", "5min", "2026-11-22T09:00:00Z") is True
    assert store.advance("BTC-USD", "5min", "2026-11-22T09:05:00Z") is True
    assert store.advance("BTC-USD", "5min", "2026-11-22T08:55:00Z") is False  # older: refused
    assert store.advance("BTC-USD", "5min", "2026-11-22T09:05:00Z") is False  # equal: nothing to do
    assert store.get_many(["BTC-USD"], "5min") == {"BTC-USD": "2026-11-22T09:05:00Z"}
    item = stored(moto, "BTC-USD#5min", "WATERMARK")
    assert item["ts"]["S"] == "2026-11-22T09:05:00Z"


def test_watermarks_are_per_pair_and_interval(moto):
    store = WatermarkStore(moto.client("dynamodb"), TABLE)
    store.advance("BTC-USD", "5min", "2026-11-22T09:05:00Z")
    store.advance("BTC-USD", "1min", "2026-11-22T09:08:00Z")
    store.advance("ETH-USD", "5min", "2026-11-22T08:00:00Z")
    assert store.get_many(["BTC-USD", "ETH-USD", "SOL-USD"], "5min") == {
        "BTC-USD": "2026-11-22T09:05:00Z",
        "ETH-USD": "2026-11-22T08:00:00Z",
    }


def test_get_many_reads_more_than_one_batch(moto):
    store = WatermarkStore(moto.client("dynamodb"), TABLE)
    pairs = [f"C{i}-USD" for i in range(150)]
    for pair in pairs:
        store.advance(pair, "spot", "2026-11-22T09:00:00Z")
    assert len(store.get_many(pairs, "spot")) == 150


def test_lease_excludes_a_second_run_and_names_the_holder(moto):
    now = [1_800_000_000.0]
    leases = RunLease(moto.client("dynamodb"), TABLE, clock=lambda: now[0])
    first = leases.acquire("5min", 300, owner="run-a")
    with pytest.raises(LeaseHeld) as held:
        leases.acquire("5min", 300, owner="run-b")
    assert held.value.owner == "run-a"
    assert str(held.value) == "lease held by run-a"
    other_interval = leases.acquire("spot", 300, owner="run-c")  # intervals have their own leases
    leases.release(first)
    leases.acquire("5min", 300, owner="run-b")
    leases.release(other_interval)


def test_an_expired_lease_can_be_taken_over(moto):
    now = [1_800_000_000.0]
    leases = RunLease(moto.client("dynamodb"), TABLE, clock=lambda: now[0])
    crashed = leases.acquire("5min", 60, owner="run-crashed")
    now[0] += 61
    leases.acquire("5min", 60, owner="run-next")
    leases.release(crashed)  # the crashed run's late release must not free the new owner's lease
    item = stored(moto, "PRODUCER#alphavantage#5min", "LEASE")
    assert item["owner"]["S"] == "run-next"
    assert int(item["expires_at"]["N"]) > now[0]
