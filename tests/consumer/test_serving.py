"""The three read paths of the serving table, on what the consumer wrote (moto)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from cryptostream_model.serving import get_latest, list_latest, query_bars
from tests.consumer.conftest import TABLE, Aws
from tests.consumer.events import kinesis_event, quote
from tests.consumer.helpers import consume


class CountingClient:
    """Counts the requests each read path makes."""

    def __init__(self, client: object) -> None:
        self.client, self.calls = client, []

    def __getattr__(self, name: str) -> object:
        def call(**kwargs: object) -> object:
            self.calls.append((name, kwargs))
            return getattr(self.client, name)(**kwargs)

        return call


@pytest.fixture
def loaded(aws: Aws) -> Aws:
    bodies = []
    for n in range(30):
        ts = f"2026-11-22T{n * 5 // 60:02d}:{n * 5 % 60:02d}:00Z"
        bodies.append(quote(ts=ts, close=str(66990.5 + n), high="67030", fetched_at=ts))
        bodies.append(quote(symbol="ETH", ts=ts, open="3000", high="3000.5", low="3000", close="3000.25"))
    bodies.append(quote(interval="1d", ts="2026-11-21T00:00:00Z"))
    consume(kinesis_event(bodies), aws)
    return aws


def test_get_latest_is_one_get_item_with_exact_decimals(loaded: Aws) -> None:
    client = CountingClient(loaded.dynamodb)
    latest = get_latest(client, TABLE, "btc-usd", "5min")
    assert [name for name, _ in client.calls] == ["get_item"]
    assert latest is not None
    assert (latest["ts"], latest["close"], latest["volume"]) == (
        "2026-11-22T02:25:00Z",
        Decimal("67019.5"),
        Decimal("12.5"),
    )
    assert get_latest(loaded.dynamodb, TABLE, "SOL-USD", "5min") is None


def test_query_bars_returns_the_range_in_order_and_never_latest(loaded: Aws) -> None:
    bars = query_bars(loaded.dynamodb, TABLE, "BTC-USD", "5min", "2026-11-22T00:10:00Z", "2026-11-22T00:30:00Z")
    assert [bar["ts"] for bar in bars] == [f"2026-11-22T00:{m:02d}:00Z" for m in (10, 15, 20, 25, 30)]
    everything = query_bars(
        loaded.dynamodb, TABLE, "BTC-USD", "5min", datetime(2026, 11, 1, tzinfo=UTC), "2026-12-31T23:59:59Z"
    )
    assert len(everything) == 30 and all(bar["sk"] != "LATEST" for bar in everything)


def test_query_bars_pages_and_honours_limit(loaded: Aws) -> None:
    client = CountingClient(loaded.dynamodb)
    bars = query_bars(client, TABLE, "ETH-USD", "5min", "2026-11-22T00:00:00Z", "2026-11-22T23:59:59Z", limit=7)
    assert len(bars) == 7 and bars[0]["ts"] == "2026-11-22T00:00:00Z"
    assert client.calls[0][1]["Limit"] == 7


def test_list_latest_queries_the_sparse_index_never_scans(loaded: Aws) -> None:
    client = CountingClient(loaded.dynamodb)
    latest = list_latest(client, TABLE, "5min")
    assert [name for name, _ in client.calls] == ["query"]
    assert client.calls[0][1]["IndexName"] == "latest-by-interval"
    assert [(item["pk"], item["ts"]) for item in latest] == [
        ("BTC-USD#5min", "2026-11-22T02:25:00Z"),
        ("ETH-USD#5min", "2026-11-22T02:25:00Z"),
    ]
    assert [item["pk"] for item in list_latest(loaded.dynamodb, TABLE, "1d")] == ["BTC-USD#1d"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: get_latest(c, TABLE, "BTCUSD", "5min"), "invalid pair 'BTCUSD'"),
        (lambda c: get_latest(c, TABLE, "BTC-USD", "2min"), "unknown interval '2min'"),
        (lambda c: query_bars(c, TABLE, "BTC-USD", "5min", "yesterday", "2026-11-22T00:00:00Z"), "invalid start"),
        (
            lambda c: query_bars(c, TABLE, "BTC-USD", "5min", "2026-11-23T00:00:00Z", "2026-11-22T00:00:00Z"),
            "start 2026-11-23T00:00:00Z is after end",
        ),
        (lambda c: list_latest(c, TABLE, "hourly"), "unknown interval 'hourly'"),
    ],
)
def test_bad_input_is_a_one_line_value_error(loaded: Aws, call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        call(loaded.dynamodb)
    assert "\n" not in str(caught.value)
