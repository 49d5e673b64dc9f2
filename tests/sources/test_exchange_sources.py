"""Each exchange source through real CCXT against recorded bodies (tests/fixtures/coinbase, kraken), errors included."""

from __future__ import annotations

from decimal import Decimal

import pytest

from producer.errors import InvalidRequest, InvalidSymbol, RateLimited, UpstreamUnavailable
from producer.fetching import call_with_rate_limit_retries, rate_limit_policy
from producer.sources import BarQuery, direct
from producer.sources.exchange import ExchangeSource, build_exchange
from tests.sources.replay import replay

FETCHED_AT = "2026-11-22T09:10:00Z"
COINBASE = {"/products": (200, "products.json"), "/currencies": (200, "currencies.json")}
KRAKEN = {"/0/public/Assets": (200, "assets.json"), "/0/public/AssetPairs": (200, "asset_pairs.json")}


def source(name: str, url: str, sleeps: list[float] | None = None) -> ExchangeSource:
    exchange = build_exchange(name, base_url=url, timeout_seconds=5, rate_limit_ms=0)
    return ExchangeSource(name, exchange, max_retries=2, sleep=(sleeps if sleeps is not None else []).append)


def query(pair: str, interval: str, since: str | None = None, now: float = 1.8e9) -> BarQuery:
    return BarQuery(pair, interval, since, None, backfill=False, now=now, fetched_at=FETCHED_AT)


def test_coinbase_candles_become_quotes() -> None:
    routes = COINBASE | {"/products/BTC-USD/candles": (200, "candles_1m.json")}
    with replay("coinbase", routes) as server:
        parsed = source("coinbase", server.url).fetch_bars(query("BTC-USD", "1min"), direct)
    assert parsed.invalid == []
    assert [q.ts for q in parsed.quotes] == ["2020-06-07T07:14:00Z", "2020-06-07T07:15:00Z", "2020-06-07T07:16:00Z"]
    first = parsed.quotes[0]  # [1591514040, low 0.02505, high 0.02507, open 0.02505, close 0.02507, 0.19918178]
    assert (first.open, first.high, first.low, first.close) == (
        Decimal("0.02505"), Decimal("0.02507"), Decimal("0.02505"), Decimal("0.02507")
    )  # fmt: skip
    assert first.volume == Decimal("0.19918178") and first.source == "coinbase" and first.interval == "1min"
    candles = [r for r in server.requests if "candles" in r]
    assert candles == ["/products/BTC-USD/candles?granularity=60"]  # the newest window: no start/end


def test_coinbase_pages_forward_from_since() -> None:
    routes = COINBASE | {"/products/BTC-USD/candles": (200, "candles_1h.json")}
    with replay("coinbase", routes) as server:
        since = "2024-03-13T11:00:00Z"
        parsed = source("coinbase", server.url).fetch_bars(query("BTC-USD", "60min", since), direct)
    assert [(q.ts, q.open, q.close) for q in parsed.quotes] == [
        ("2024-03-13T11:00:00Z", Decimal("73243.33"), Decimal("73370.65"))
    ]
    candles = [r for r in server.requests if "candles" in r]
    assert "granularity=3600&start=2024-03-13T11%3A00%3A00.000Z" in candles[0]
    assert len(candles) == 2  # the second page (after the last bar) came back with nothing new: stop


def test_coinbase_ticker_is_a_spot_quote() -> None:
    with replay("coinbase", COINBASE | {"/products/BTC-USD/ticker": (200, "ticker.json")}) as server:
        parsed = source("coinbase", server.url).fetch_spot("BTC-USD", FETCHED_AT, direct)
    (quote,) = parsed.quotes
    assert quote.ts == "2024-03-13T11:10:41Z" and quote.interval == "spot"
    assert (quote.close, quote.bid, quote.ask, quote.volume) == (
        Decimal("73367.8"), Decimal("73360.34"), Decimal("73369.19"), Decimal("0")
    )  # fmt: skip


def test_coinbase_429_is_rate_limited_and_retried_by_the_run_policy() -> None:
    routes = COINBASE | {"/products/BTC-USD/candles": (429, "rate_limited_429.json")}
    with replay("coinbase", routes) as server:
        exchange = source("coinbase", server.url)
        with pytest.raises(RateLimited, match="coinbase throttled") as limited:
            exchange.fetch_bars(query("BTC-USD", "1min"), direct)
        assert not limited.value.daily and "Public rate limit exceeded" in str(limited.value)
        sleeps: list[float] = []
        policy = rate_limit_policy(0.2, deadline=float("inf"), sleep=sleeps.append)
        policy.max_attempts = 3

        def attempt(call):  # the handler's wiring: each request through the run's rate-limit policy
            return call_with_rate_limit_retries(call, policy)

        with pytest.raises(RateLimited):
            exchange.fetch_bars(query("BTC-USD", "1min"), attempt)
    assert len(sleeps) == 2  # waited twice, then gave the pair up


def test_coinbase_unknown_product() -> None:
    with replay("coinbase", COINBASE) as server, pytest.raises(InvalidSymbol, match="coinbase does not list DOGE-JPY"):
        source("coinbase", server.url).fetch_bars(query("DOGE-JPY", "1min"), direct)


def test_coinbase_404_body_on_a_listed_product() -> None:
    routes = COINBASE | {"/products/BTC-USD/candles": (404, "not_found_404.json")}
    with replay("coinbase", routes) as server, pytest.raises(InvalidRequest, match="NotFound"):
        source("coinbase", server.url).fetch_bars(query("BTC-USD", "1min"), direct)


def test_a_5xx_is_retried_then_upstream_unavailable() -> None:
    with replay("coinbase", COINBASE | {"/products/BTC-USD/candles": (503, "not_found_404.json")}) as server:
        sleeps: list[float] = []
        with pytest.raises(UpstreamUnavailable):
            source("coinbase", server.url, sleeps).fetch_bars(query("BTC-USD", "1min"), direct)
    assert len([r for r in server.requests if "candles" in r]) == 3 and len(sleeps) == 2  # max_retries=2


def test_kraken_ohlc_becomes_quotes_and_maps_the_pair_id() -> None:
    with replay("kraken", KRAKEN | {"/0/public/OHLC": (200, "ohlc_1h.json")}) as server:
        exchange = source("kraken", server.url)
        parsed = exchange.fetch_bars(query("BTC-USDT", "60min"), direct)
    assert "/0/public/OHLC?pair=XBTUSDT&interval=60" in server.requests
    assert len(parsed.quotes) == 6 and parsed.quotes[0].ts == "2024-01-30T15:00:00Z"
    first = parsed.quotes[0]
    assert (first.open, first.high, first.low, first.close, first.volume) == (
        Decimal("43437.5"), Decimal("43593.7"), Decimal("43355.5"), Decimal("43361.1"), Decimal("18.7543011")
    )  # fmt: skip
    assert exchange.requests_made == 3  # Assets and AssetPairs (load_markets) once, then OHLC


def test_kraken_ticker_has_no_time_so_the_fetch_time_is_used() -> None:
    with replay("kraken", KRAKEN | {"/0/public/Ticker": (200, "ticker.json")}) as server:
        (quote,) = source("kraken", server.url).fetch_spot("BTC-USDT", FETCHED_AT, direct).quotes
    assert quote.ts == FETCHED_AT and quote.source == "kraken"
    assert (quote.close, quote.bid, quote.ask) == (Decimal("73380.6"), Decimal("73380.6"), Decimal("73380.7"))


@pytest.mark.parametrize(
    ("fixture", "error", "text"),
    [
        ("too_many_requests.json", RateLimited, "EGeneral:Too many requests"),
        ("rate_limit_exceeded.json", RateLimited, "EAPI:Rate limit exceeded"),
        ("unknown_asset_pair.json", InvalidRequest, "EQuery:Unknown asset pair"),
        ("service_unavailable.json", UpstreamUnavailable, "EService:Unavailable"),
    ],
)
def test_kraken_error_bodies_with_http_200(fixture: str, error: type, text: str) -> None:
    with (
        replay("kraken", KRAKEN | {"/0/public/OHLC": (200, fixture)}) as server,
        pytest.raises(error, match=text) as raised,
    ):
        source("kraken", server.url).fetch_bars(query("BTC-USDT", "60min"), direct)
    assert "\n" not in str(raised.value)


def test_kraken_pair_it_does_not_list() -> None:
    with replay("kraken", KRAKEN) as server, pytest.raises(InvalidSymbol, match="kraken does not list SOL-EUR"):
        source("kraken", server.url).fetch_spot("SOL-EUR", FETCHED_AT, direct)


def test_an_interval_the_exchange_lacks_is_refused_before_any_request() -> None:
    with replay("coinbase", COINBASE) as server, pytest.raises(ValueError, match="coinbase has no 30min data"):
        source("coinbase", server.url).fetch_bars(query("BTC-USD", "30min"), direct)
    assert server.requests == []
