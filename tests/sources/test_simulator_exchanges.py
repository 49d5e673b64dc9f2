"""The simulator's Coinbase and Kraken answers have the recorded bodies' shapes, are deterministic under a seed,
and refuse the way the exchanges do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local.market import MarketSimulator

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CLOCK = "2026-11-22T09:07:30Z"


def recorded(source: str, name: str) -> object:
    return json.loads((FIXTURES / source / name).read_text())


@pytest.fixture
def sim() -> MarketSimulator:
    simulator = MarketSimulator(seed=3)
    simulator.clock.set(CLOCK)
    return simulator


def kinds(row: list) -> list[type]:
    return [type(value) for value in row]


def test_coinbase_shapes_match_the_recorded_bodies(sim: MarketSimulator) -> None:
    status, products = sim.answer_exchange("coinbase", "products", {})
    assert status == 200 and set(recorded("coinbase", "products.json")[1]) - set(products[0]) == {
        "base_min_size",
        "base_max_size",
        "max_market_funds",
    }
    status, candles = sim.answer_exchange("coinbase", "products/BTC-USD/candles", {"granularity": "3600"})
    assert status == 200 and len(candles) == 300
    assert [t is int or t is float for t in kinds(candles[0])] == [True] * 6
    assert candles[0][0] > candles[1][0]  # newest first, as recorded
    _, ticker = sim.answer_exchange("coinbase", "products/BTC-USD/ticker", {})
    assert set(ticker) == set(recorded("coinbase", "ticker.json"))
    _, currencies = sim.answer_exchange("coinbase", "currencies", {})
    assert set(recorded("coinbase", "currencies.json")[0]) <= set(currencies[0])


def test_kraken_shapes_match_the_recorded_bodies(sim: MarketSimulator) -> None:
    _, ohlc = sim.answer_exchange("kraken", "0/public/OHLC", {"pair": "XXBTZUSD", "interval": "60"})
    rows = ohlc["result"]["XXBTZUSD"]
    assert ohlc["error"] == [] and len(rows) == 720 and rows[0][0] < rows[1][0]  # oldest first, at most 720
    assert kinds(rows[0]) == kinds(recorded("kraken", "ohlc_1h.json")["result"]["XBTUSDT"][0])
    _, ticker = sim.answer_exchange("kraken", "0/public/Ticker", {"pair": "XXBTZUSD"})
    assert set(ticker["result"]["XXBTZUSD"]) == set(recorded("kraken", "ticker.json")["result"]["XBTUSDT"])
    _, pairs = sim.answer_exchange("kraken", "0/public/AssetPairs", {})
    assert set(recorded("kraken", "asset_pairs.json")["result"]["ADAETH"]) <= set(pairs["result"]["XXBTZUSD"])
    _, assets = sim.answer_exchange("kraken", "0/public/Assets", {})
    assert assets["result"]["XXBT"]["altname"] == "XBT" and assets["result"]["XXDG"]["altname"] == "XDG"


def test_same_seed_same_market_other_seed_other_market(sim: MarketSimulator) -> None:
    twin = MarketSimulator(seed=3)
    twin.clock.set(CLOCK)
    other = MarketSimulator(seed=4)
    other.clock.set(CLOCK)
    ask = ("coinbase", "products/ETH-EUR/candles", {"granularity": "60"})
    assert sim.answer_exchange(*ask) == twin.answer_exchange(*ask) != other.answer_exchange(*ask)


def test_one_market_whichever_source_serves_it(sim: MarketSimulator) -> None:
    _, candles = sim.answer_exchange("coinbase", "products/BTC-USD/candles", {"granularity": "300"})
    _, ohlc = sim.answer_exchange("kraken", "0/public/OHLC", {"pair": "XXBTZUSD", "interval": "5"})
    _, av = sim.answer(
        {"function": "CRYPTO_INTRADAY", "symbol": "BTC", "market": "USD", "interval": "5min", "apikey": "k"}
    )
    newest_cb, newest_kraken = candles[0], ohlc["result"]["XXBTZUSD"][-1]
    assert newest_cb[0] == newest_kraken[0] == 1795338000  # 09:00, the newest closed bar at 09:07:30
    assert (
        f"{newest_cb[3]:.5f}" == newest_kraken[1] == av["Time Series Crypto (5min)"]["2026-11-22 09:00:00"]["1. open"]
    )


@pytest.mark.parametrize(("source", "path", "status", "fixture"), [
    ("coinbase", "products/BTC-USD/candles", 429, "rate_limited_429.json"),
    ("kraken", "0/public/OHLC", 200, "too_many_requests.json"),
])  # fmt: skip
def test_throttling_answers_as_the_exchange_does(sim, source, path, status, fixture) -> None:
    sim.faults.update(throttle_every_n=1)
    assert sim.answer_exchange(source, path, {"pair": "XXBTZUSD"}) == (status, recorded(source, fixture))
    assert sim.stats["throttled"] == 1


def test_unknown_pairs_and_bad_ranges(sim: MarketSimulator) -> None:
    assert sim.answer_exchange("coinbase", "products/BTC-XYZ/candles", {}) == (
        404,
        recorded("coinbase", "not_found_404.json"),
    )
    assert sim.answer_exchange("kraken", "0/public/OHLC", {"pair": "NOPE"}) == (
        200,
        recorded("kraken", "unknown_asset_pair.json"),
    )
    day = {"granularity": "60", "start": "2026-11-20T00:00:00Z", "end": "2026-11-21T00:00:00Z"}
    status, body = sim.answer_exchange("coinbase", "products/BTC-USD/candles", day)
    assert status == 400 and "exceeds 300" in body["message"]


def test_the_bar_in_progress(sim: MarketSimulator) -> None:
    _, closed = sim.answer_exchange("coinbase", "products/BTC-USD/candles", {"granularity": "300"})
    sim.faults.update(exchange_open_bar="always")
    _, with_open = sim.answer_exchange("coinbase", "products/BTC-USD/candles", {"granularity": "300"})
    assert with_open[0][0] == closed[0][0] + 300  # 09:05, still open at 09:07:30
