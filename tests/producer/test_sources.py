"""The producer with several sources: ownership of each (pair, interval), exchange runs end to end against the
simulator (real CCXT over HTTP) and moto, per-source leases and watermarks."""

from __future__ import annotations

import pytest

from producer import handler
from producer.errors import ConfigError
from producer.settings import Settings, plan_run
from producer.watermarks import RunLease
from tests.producer.conftest import TABLE, FakeContext, stream_quotes
from tests.producer.test_handler import settings_for

OWNERS = {("BTC-USD", "1min"): "coinbase", ("ETH-USD", "1min"): "kraken", ("SOL-USD", "1min"): "kraken"}


def owned(**overrides) -> Settings:
    values = dict(stream_name="s", table_name="t", pairs=("BTC-USD", "ETH-USD", "ADA-USD"), interval="5min",
                  api_key="k", secret_arn=None, source_owners=OWNERS)  # fmt: skip
    return Settings(**{**values, **overrides})


def test_a_source_without_pairs_runs_the_pairs_it_owns() -> None:
    plan = plan_run({"source": "kraken", "interval": "1min"}, owned())
    assert plan.source == "kraken" and plan.pairs == ("ETH-USD", "SOL-USD")  # SOL-USD: a schedule's own pair
    assert plan_run({"source": "coinbase", "interval": "1min"}, owned()).pairs == ("BTC-USD",)


def test_without_a_source_the_pairs_owner_runs() -> None:
    assert plan_run({"interval": "1min", "pairs": ["btc-usd"]}, owned()).source == "coinbase"
    default = plan_run({"interval": "1min"}, owned())  # the default source's share of PAIRS
    assert (default.source, default.pairs) == ("alphavantage", ("ADA-USD",))
    assert plan_run({}, owned()).source == "alphavantage"


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (
            {"source": "kraken", "interval": "1min", "pairs": ["BTC-USD"]},
            "source kraken does not publish BTC-USD 1min: coinbase does",
        ),
        (
            {"source": "alphavantage", "interval": "1min", "pairs": "ETH-USD"},
            "source alphavantage does not publish ETH-USD 1min: kraken does",
        ),
        ({"interval": "1min", "pairs": ["BTC-USD", "ETH-USD"]}, "does not publish BTC-USD 1min: coinbase does"),
        ({"source": "coinbase", "interval": "5min"}, "source coinbase owns no 5min pair"),
        ({"source": "coinbase", "interval": "30min", "pairs": ["BTC-USD"]}, "alphavantage does"),
        ({"source": "binance"}, "event source must be one of alphavantage, coinbase, kraken"),
    ],
)
def test_an_event_whose_source_does_not_own_its_pairs_is_refused(event: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as refused:
        plan_run(event, owned())
    assert "\n" not in str(refused.value)


def test_an_interval_the_source_lacks_is_refused() -> None:
    settings = owned(source="coinbase", source_owners={})
    with pytest.raises(ConfigError, match="coinbase has no 30min data"):
        plan_run({"interval": "30min"}, settings)


def test_settings_read_sources_from_the_environment() -> None:
    env = {"STREAM_NAME": "s", "TABLE_NAME": "t", "SOURCE": "kraken", "SOURCE_OWNERS": "coinbase:1min=BTC-USD",
           "COINBASE_BASE_URL": "http://127.0.0.1:1/coinbase", "EXCHANGE_RATE_LIMIT_MS": "0"}  # fmt: skip
    settings = Settings.from_env(env)
    assert settings.source == "kraken" and settings.owner("BTC-USD", "1min") == "coinbase"
    assert settings.owner("BTC-USD", "5min") == "kraken"
    assert settings.exchange_base_urls == {"coinbase": "http://127.0.0.1:1/coinbase"}
    assert settings.exchange_rate_limit_ms == 0
    with pytest.raises(ConfigError, match="SOURCE must be one of"):
        Settings.from_env({**env, "SOURCE": "gdax"})
    with pytest.raises(ConfigError, match="gives BTC-USD 1min to both coinbase and kraken"):
        Settings.from_env({**env, "SOURCE_OWNERS": "coinbase:1min=BTC-USD;kraken:1min=BTC-USD"})


def exchange_settings(simulator, **overrides) -> Settings:
    root = simulator.base_url.removesuffix("/query")
    urls = {"coinbase": f"{root}/coinbase", "kraken": f"{root}/kraken"}
    return settings_for(simulator, exchange_base_urls=urls, exchange_rate_limit_ms=0.0, api_key=None, **overrides)


def run(moto, simulator, event: dict, settings: Settings) -> dict:
    return handler.run(
        plan_run(event, settings), settings, FakeContext(), clients=moto, now=simulator.clock.timestamp,
        sleep=lambda _: None,
    ).as_event_result()  # fmt: skip


@pytest.mark.parametrize("source", ["coinbase", "kraken"])
def test_an_exchange_run_publishes_closed_bars_once(moto, simulator, source: str) -> None:
    simulator.faults.update(exchange_open_bar="always")  # as a real exchange: the bar in progress is served
    settings = exchange_settings(simulator, source=source)  # no API key: exchange data is keyless
    first = run(moto, simulator, {"interval": "5min"}, settings)
    assert first["source"] == source and first["failed_pairs"] == {}
    assert first["published"] > 0 and first["skipped_open"] == 2  # the bar in progress, per pair
    assert first["alphavantage_requests"] == 0 and first["source_requests"] >= 3  # markets loaded, then bars
    quotes = stream_quotes(moto.client("kinesis"))
    assert {q.source for q in quotes} == {source} and len(quotes) == first["published"]
    newest = max(q.ts for q in quotes if q.pair == "BTC-USD")
    assert newest == "2026-11-22T09:00:00Z"  # 09:05 is still open at 09:07:30
    item = moto.client("dynamodb").get_item(
        TableName=TABLE, Key={"pk": {"S": "BTC-USD#5min"}, "sk": {"S": "WATERMARK"}}
    )
    assert item["Item"]["source"]["S"] == source and item["Item"]["ts"]["S"] == newest
    simulator.clock.advance(600)
    second = run(moto, simulator, {"interval": "5min"}, settings)
    assert second["published"] == 4 and second["failed_pairs"] == {}  # 09:05 and 09:10 for each pair, nothing again
    assert len(stream_quotes(moto.client("kinesis"))) == first["published"] + 4


def test_exchange_spot_and_daily(moto, simulator) -> None:
    settings = exchange_settings(simulator, source="coinbase")
    spot = run(moto, simulator, {"interval": "spot"}, settings)
    assert spot["published"] == 2 and spot["failed_pairs"] == {}
    daily = run(moto, simulator, {"interval": "1d"}, settings)
    assert daily["published"] > 0 and daily["failed_pairs"] == {}


def test_exchange_throttling_is_retried_by_the_run(moto, simulator) -> None:
    simulator.faults.update(throttle_every_n=3)
    summary = run(moto, simulator, {"interval": "5min"}, exchange_settings(simulator, source="coinbase"))
    assert summary["failed_pairs"] == {} and summary["rate_limit_retries"] >= 1
    assert simulator.stats["throttled"] >= 1


def test_an_unknown_pair_costs_only_that_pair(moto, simulator) -> None:
    settings = exchange_settings(simulator, source="kraken", pairs=("BTC-USD", "BTC-XYZ"))
    summary = run(moto, simulator, {"interval": "5min"}, settings)
    assert summary["failed_pairs"].keys() == {"BTC-XYZ"}
    assert summary["failed_pairs"]["BTC-XYZ"].startswith("invalid_symbol: kraken does not list BTC-XYZ")
    assert summary["published"] > 0


def test_two_sources_of_one_interval_hold_their_own_leases(moto, simulator) -> None:
    settings = exchange_settings(
        simulator, source_owners={("BTC-USD", "5min"): "coinbase", ("ETH-USD", "5min"): "kraken"}
    )
    RunLease(moto.client("dynamodb"), TABLE).acquire("5min", 600, owner="run-elsewhere", source="coinbase")
    held = run(moto, simulator, {"source": "coinbase", "interval": "5min"}, settings)
    assert held["skipped"] == "lease held by run-elsewhere" and held["source"] == "coinbase"
    other = run(moto, simulator, {"source": "kraken", "interval": "5min"}, settings)
    assert other["pairs"] == ["ETH-USD"] and other["published"] > 0
