"""Settings and events: one-line errors for bad input."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from producer.errors import ConfigError
from producer.settings import Settings, parse_pairs, plan_run

ENV = {"STREAM_NAME": "s", "TABLE_NAME": "t", "PAIRS": "btc-usd, ETH-USD,BTC-USD", "INTERVAL": "spot"}


def test_settings_from_env():
    settings = Settings.from_env({**ENV, "ALPHAVANTAGE_TIMEOUT_SECONDS": "3.5", "ALPHAVANTAGE_MAX_RETRIES": "4"})
    assert settings.pairs == ("BTC-USD", "ETH-USD")
    assert settings.interval == "spot"
    assert settings.base_url == "https://www.alphavantage.co/query"
    assert (settings.timeout_seconds, settings.max_retries) == (3.5, 4)


def test_watermark_writes_default_to_per_pair():
    assert Settings.from_env(ENV).watermark_writes == "per_pair"
    assert Settings.from_env({**ENV, "WATERMARK_WRITES": " Transaction "}).watermark_writes == "transaction"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TABLE_NAME": "t"}, "missing setting STREAM_NAME"),
        ({**ENV, "PAIRS": "BTCUSD"}, "PAIRS='BTCUSD' is not allowed: expected comma-separated SYMBOL-MARKET"),
        ({**ENV, "PAIRS": " , "}, "PAIRS=',' is not allowed: expected at least one SYMBOL-MARKET pair"),
        ({**ENV, "INTERVAL": "2min"}, "INTERVAL='2min' is not allowed: expected one of 1min, 5min"),
        (
            {**ENV, "ALPHAVANTAGE_TIMEOUT_SECONDS": "soon"},
            "ALPHAVANTAGE_TIMEOUT_SECONDS='soon' .* a number of seconds > 0",
        ),
        ({**ENV, "ALPHAVANTAGE_TIMEOUT_SECONDS": "0"}, "ALPHAVANTAGE_TIMEOUT_SECONDS='0' .* > 0"),
        ({**ENV, "ALPHAVANTAGE_MAX_RETRIES": "2.5"}, "ALPHAVANTAGE_MAX_RETRIES='2.5' .* a whole number from 0 to 10"),
        ({**ENV, "ALPHAVANTAGE_RATE_LIMIT_BACKOFF_SECONDS": "nan"}, "BACKOFF_SECONDS='nan' is not allowed"),
        ({**ENV, "ALPHAVANTAGE_BASE_URL": "localhost:8000"}, "ALPHAVANTAGE_BASE_URL='localhost:8000' .* http"),
        ({**ENV, "PRODUCER_LEASE_SECONDS": "0"}, "PRODUCER_LEASE_SECONDS='0' .* from 1 to 86400"),
        ({**ENV, "KINESIS_MAX_ATTEMPTS": "-3"}, "KINESIS_MAX_ATTEMPTS='-3' .* from 1 to 20"),
        ({**ENV, "HISTORY_TTL_DAYS": "-5"}, "HISTORY_TTL_DAYS='-5' is not allowed: expected a whole number of days"),
        ({**ENV, "HISTORY_TTL_DAYS": "abc"}, "HISTORY_TTL_DAYS='abc' is not allowed"),
        ({**ENV, "WATERMARK_WRITES": "batch"}, "WATERMARK_WRITES='batch' .* one of per_pair, transaction"),
    ],
)
def test_bad_settings(env, message):
    with pytest.raises(ConfigError, match=message) as raised:
        Settings.from_env(env)
    assert "\n" not in str(raised.value)


def test_event_overrides_pairs_and_interval():
    settings = Settings.from_env(ENV)
    plan = plan_run({"pairs": ["sol-eur"], "interval": "1d"}, settings)
    assert (plan.pairs, plan.interval, plan.mode) == (("SOL-EUR",), "1d", "incremental")
    assert plan_run({"pairs": "XRP-USD,ADA-USD"}, settings).pairs == ("XRP-USD", "ADA-USD")
    assert plan_run(None, settings).pairs == settings.pairs


def test_full_mode_range():
    plan = plan_run({"mode": "full", "start": "2026-11-01", "end": "2026-11-22T09:00:00Z"}, Settings.from_env(ENV))
    assert plan.start == datetime(2026, 11, 1, tzinfo=UTC)
    assert plan.end == datetime(2026, 11, 22, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"mode": "sometimes"}, "unknown mode"),
        ({"mode": "full", "start": "yesterday"}, "start is not an ISO-8601"),
        ({"mode": "full", "start": "2026-11-22", "end": "2026-11-01"}, "is after end"),
        ({"start": "2026-11-22"}, "mode 'full' only"),
        ({"interval": "weekly"}, "unknown interval"),
        ({"pairs": 3}, "pairs must be a list"),
        ([], "event must be a JSON object"),
    ],
)
def test_bad_events(event, message):
    with pytest.raises(ConfigError, match=message):
        plan_run(event, Settings.from_env(ENV))


def test_parse_pairs_deduplicates_in_order():
    assert parse_pairs(["eth-usd", "BTC-USD", "ETH-USD"]) == ("ETH-USD", "BTC-USD")
