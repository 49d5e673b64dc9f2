"""Every recorded Alpha Vantage body shape: parsed to valid quotes, or classified to a typed error."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from cryptostream_model.record import quote_from_dict
from producer.bodies import (
    DAILY_FUNCTION,
    INTRADAY_FUNCTION,
    SPOT_FUNCTION,
    classify,
    data_key,
    parse_body,
    parse_series,
    upstream_ts,
)
from producer.errors import (
    AuthError,
    InvalidRequest,
    InvalidSymbol,
    PremiumEndpoint,
    RateLimited,
    UnexpectedBody,
)
from tests.producer.conftest import body

FETCHED = "2026-11-22T09:11:00Z"


def intraday(name: str, symbol: str, **kwargs):
    return parse_body(
        body(name),
        function=INTRADAY_FUNCTION,
        symbol=symbol,
        market="USD",
        interval="5min",
        fetched_at=FETCHED,
        **kwargs,
    )


def test_intraday_with_integer_volume():
    parsed = intraday("intraday_5min_int_volume", "ETH")
    assert parsed.invalid == []
    assert [q.ts for q in parsed.quotes] == ["2026-11-22T09:00:00Z", "2026-11-22T09:05:00Z", "2026-11-22T09:10:00Z"]
    newest = parsed.quotes[-1]
    assert (newest.open, newest.high, newest.low, newest.close) == (
        Decimal("3121.44000"),
        Decimal("3123.02000"),
        Decimal("3120.10000"),
        Decimal("3122.87000"),
    )
    assert newest.volume == Decimal(187)
    assert parsed.quotes[1].volume == 0  # a zero-volume bar is a valid bar
    assert (newest.symbol, newest.market, newest.interval, newest.fetched_at) == ("ETH", "USD", "5min", FETCHED)


def test_intraday_with_string_volume():
    parsed = intraday("intraday_5min_string_volume", "BTC")
    assert parsed.invalid == []
    assert [q.volume for q in parsed.quotes] == [Decimal("9.51230000"), Decimal("12.84000000")]


def test_every_parsed_quote_round_trips_through_the_contract():
    for quote in intraday("intraday_5min_int_volume", "ETH").quotes:
        assert quote_from_dict(quote.to_dict()) == quote
        assert quote.partition_key == "ETH-USD"


def test_daily_current_form():
    parsed = parse_body(
        body("daily_current"), function=DAILY_FUNCTION, symbol="BTC", market="EUR", interval="1d", fetched_at=FETCHED
    )
    assert [q.ts for q in parsed.quotes] == ["2026-11-20T00:00:00Z", "2026-11-21T00:00:00Z"]
    assert parsed.quotes[-1].close == Decimal("84990.07000000")
    assert parsed.quotes[-1].volume == Decimal("152.48731000")


def test_daily_legacy_form_usd():
    parsed = parse_body(
        body("daily_legacy_usd"), function=DAILY_FUNCTION, symbol="BTC", market="USD", interval="1d", fetched_at=FETCHED
    )
    assert parsed.invalid == []
    assert [q.ts for q in parsed.quotes] == ["2026-11-20T00:00:00Z", "2026-11-21T00:00:00Z"]
    assert parsed.quotes[-1].open == Decimal("91500.12000000")
    assert parsed.quotes[-1].volume == Decimal("18734.20551000")


def test_daily_legacy_form_takes_the_market_currency_not_usd():
    parsed = parse_body(
        body("daily_legacy_eur"), function=DAILY_FUNCTION, symbol="ETH", market="EUR", interval="1d", fetched_at=FETCHED
    )
    (quote,) = parsed.quotes
    assert quote.open == Decimal("2870.41020000")  # "1a. open (EUR)", not "1b. open (USD)" 3120.01
    assert quote.close == Decimal("2890.12000000")


def test_exchange_rate_is_one_spot_quote_with_bid_and_ask():
    parsed = parse_body(
        body("exchange_rate"), function=SPOT_FUNCTION, symbol="BTC", market="USD", interval="spot", fetched_at=FETCHED
    )
    (quote,) = parsed.quotes
    assert quote.interval == "spot"
    assert quote.ts == "2026-11-22T09:07:43Z"
    assert quote.open == quote.high == quote.low == quote.close == Decimal("91320.01000000")
    assert (quote.bid, quote.ask, quote.volume) == (Decimal("91317.30000000"), Decimal("91321.81000000"), 0)


def test_exchange_rate_without_bid_or_ask_keeps_the_price_and_leaves_them_absent():
    """Alpha Vantage's placeholder "-" for a missing bid/ask used to reject the whole snapshot, every run."""
    parsed = parse_body(
        body("exchange_rate_no_bid_ask"), function=SPOT_FUNCTION, symbol="SOL", market="EUR", interval="spot",
        fetched_at=FETCHED,
    )  # fmt: skip
    assert parsed.invalid == []
    (quote,) = parsed.quotes
    assert quote.close == Decimal("121.44000000")
    assert (quote.bid, quote.ask) == (None, None)
    assert "bid" not in quote.to_dict() and "ask" not in quote.to_dict()


@pytest.mark.parametrize(
    ("name", "error", "daily"),
    [
        ("throttle_note_per_minute", RateLimited, False),
        ("throttle_burst", RateLimited, False),
        ("throttle_daily_quota", RateLimited, True),
        ("throttle_daily_quota_detected_key", RateLimited, True),
        ("premium_endpoint", PremiumEndpoint, None),
        ("invalid_symbol_intraday", InvalidSymbol, None),
        ("invalid_api_key", AuthError, None),
        ("demo_key", AuthError, None),
    ],
)
def test_refusals_are_classified(name, error, daily):
    with pytest.raises(error) as raised:
        classify(body(name), INTRADAY_FUNCTION, data_key(INTRADAY_FUNCTION, "5min"))
    if daily is not None:
        assert raised.value.daily is daily
        assert raised.value.fails_whole_run is daily
    assert "\n" not in str(raised.value)


def test_premium_error_names_the_endpoint_and_the_free_alternative():
    with pytest.raises(PremiumEndpoint) as raised:
        classify(body("premium_endpoint"), INTRADAY_FUNCTION)
    assert "CRYPTO_INTRADAY" in str(raised.value)
    assert "INTERVAL=spot" in str(raised.value)


def test_an_echoed_api_key_is_scrubbed():
    with pytest.raises(RateLimited) as raised:
        classify(body("throttle_daily_quota_detected_key"), INTRADAY_FUNCTION)
    assert "ABCDEFGH12345678" not in str(raised.value)


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({}, UnexpectedBody),
        ([], UnexpectedBody),
        ({"Meta Data": {}}, UnexpectedBody),  # data key missing
        ({"Information": "Something we have never seen."}, InvalidRequest),
        ({"Note": "A note of an unknown kind."}, RateLimited),  # Note has only ever meant throttling
        ({"Error Message": "Something else went wrong."}, InvalidRequest),
    ],
)
def test_odd_bodies(payload, error):
    with pytest.raises(error):
        classify(payload, INTRADAY_FUNCTION, data_key(INTRADAY_FUNCTION, "5min"))


def test_an_information_beside_the_data_is_not_an_error():
    payload = copy.deepcopy(body("intraday_5min_int_volume"))
    payload["Information"] = "Some advisory text."
    assert classify(payload, INTRADAY_FUNCTION, data_key(INTRADAY_FUNCTION, "5min")) is payload


def test_an_invalid_bar_is_reported_and_skipped_not_published():
    payload = copy.deepcopy(body("intraday_5min_int_volume"))
    series = payload["Time Series Crypto (5min)"]
    series["2026-11-22 09:05:00"]["2. high"] = "3000.00000"  # below the low
    series["2026-11-22 09:00:00"]["4. close"] = "not a number"
    series["2026-11-22 9:15"] = dict(series["2026-11-22 09:10:00"])  # unparseable time
    parsed = parse_body(
        payload, function=INTRADAY_FUNCTION, symbol="ETH", market="USD", interval="5min", fetched_at=FETCHED
    )
    assert [q.ts for q in parsed.quotes] == ["2026-11-22T09:10:00Z"]
    assert len(parsed.invalid) == 3
    joined = " ".join(parsed.invalid)
    assert "high_below_low" in joined and "bad_number" in joined and "bad_timestamp" in joined


def test_a_row_without_prices_is_invalid():
    series = {"2026-11-22 09:00:00": {"5. volume": 3}}
    parsed = parse_series(series, None, symbol="BTC", market="USD", interval="5min", fetched_at=FETCHED)
    assert parsed.quotes == [] and "missing_field" in parsed.invalid[0]


def test_timestamps_become_contract_utc():
    assert upstream_ts("2026-11-22 09:05:00") == "2026-11-22T09:05:00Z"
    assert upstream_ts("2026-11-22") == "2026-11-22T00:00:00Z"
    assert upstream_ts("2026-11-22 04:05:00", "US/Eastern") == "2026-11-22T09:05:00Z"  # EST is UTC-5 in November


def test_a_non_utc_time_zone_in_meta_is_honoured():
    payload = copy.deepcopy(body("intraday_5min_string_volume"))
    payload["Meta Data"]["9. Time Zone"] = "US/Eastern"
    parsed = parse_body(
        payload, function=INTRADAY_FUNCTION, symbol="BTC", market="USD", interval="5min", fetched_at=FETCHED
    )
    assert parsed.quotes[-1].ts == "2026-11-22T14:05:00Z"
