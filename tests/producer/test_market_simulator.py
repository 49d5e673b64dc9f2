"""The market simulator: Alpha Vantage's shapes, determinism, the simulated clock, the fault knobs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import requests

from local.market import DEFAULT_MARKETS, DEFAULT_SYMBOLS, MarketSimulator
from producer.bodies import DAILY_FUNCTION, INTRADAY_FUNCTION, SPOT_FUNCTION, parse_body
from tests.producer.conftest import body

NOW = "2026-11-22T09:07:30Z"


def ask(sim: MarketSimulator, **params: str) -> dict:
    status, answer = sim.answer({"apikey": "k", **params})
    assert status == 200
    return answer


def intraday(sim: MarketSimulator, symbol="BTC", market="USD", interval="5min", outputsize="compact") -> dict:
    return ask(sim, function="CRYPTO_INTRADAY", symbol=symbol, market=market, interval=interval, outputsize=outputsize)


def make(seed=11, **kwargs) -> MarketSimulator:
    sim = MarketSimulator(seed=seed, **kwargs)
    sim.clock.set(NOW)
    return sim


def test_bodies_have_the_recorded_shapes():
    sim = make()
    for answer, recorded, function in (
        (intraday(sim), body("intraday_5min_int_volume"), INTRADAY_FUNCTION),
        (
            ask(sim, function="DIGITAL_CURRENCY_DAILY", symbol="BTC", market="EUR"),
            body("daily_current"),
            DAILY_FUNCTION,
        ),
        (
            ask(sim, function="CURRENCY_EXCHANGE_RATE", from_currency="BTC", to_currency="USD"),
            body("exchange_rate"),
            SPOT_FUNCTION,
        ),
    ):
        assert answer.keys() == recorded.keys(), function
        if "Meta Data" in answer:
            assert answer["Meta Data"].keys() == recorded["Meta Data"].keys()
            data_key = next(key for key in answer if key != "Meta Data")
            row, recorded_row = next(iter(answer[data_key].values())), next(iter(recorded[data_key].values()))
            assert row.keys() == recorded_row.keys()
            assert [type(v) for v in row.values()] == [type(v) for v in recorded_row.values()]
        else:
            assert answer[SPOT_KEY].keys() == recorded[SPOT_KEY].keys()


SPOT_KEY = "Realtime Currency Exchange Rate"


def test_intraday_serves_only_closed_bars_newest_first():
    series = intraday(make())["Time Series Crypto (5min)"]
    labels = list(series)
    assert len(labels) == 100
    assert labels[0] == "2026-11-22 09:00:00"  # closes 09:05 <= 09:07:30; 09:05's bar is still open
    assert labels == sorted(labels, reverse=True)
    assert intraday(make(), interval="1min")["Meta Data"]["6. Last Refreshed"] == "2026-11-22 09:06:00"


def test_full_output_size_is_configurable():
    sim = make(full_bars=750)
    answer = intraday(sim, outputsize="full")
    assert len(answer["Time Series Crypto (5min)"]) == 750
    assert answer["Meta Data"]["8. Output Size"] == "Full size"


@pytest.mark.parametrize("interval", ["1min", "5min", "15min", "30min", "60min", "1d", "spot"])
def test_every_pair_and_interval_parses_to_valid_quotes(interval):
    sim = make(full_bars=300, daily_bars=300)
    for symbol in DEFAULT_SYMBOLS:
        for market in DEFAULT_MARKETS:
            if interval == "spot":
                answer, function = (
                    ask(sim, function="CURRENCY_EXCHANGE_RATE", from_currency=symbol, to_currency=market),
                    SPOT_FUNCTION,
                )
            elif interval == "1d":
                answer = ask(sim, function="DIGITAL_CURRENCY_DAILY", symbol=symbol, market=market)
                function = DAILY_FUNCTION
            else:
                answer, function = intraday(sim, symbol, market, interval, "full"), INTRADAY_FUNCTION
            parsed = parse_body(
                answer, function=function, symbol=symbol, market=market, interval=interval, fetched_at=NOW
            )
            assert parsed.invalid == [], (symbol, market, parsed.invalid[:3])
            assert len(parsed.quotes) == (1 if interval == "spot" else 300)


def test_same_seed_same_market_different_seed_different_market():
    assert intraday(make(seed=1)) == intraday(make(seed=1))
    assert intraday(make(seed=1)) != intraday(make(seed=2))


def test_a_bar_is_the_same_whenever_it_is_requested():
    early, late = make(), make(full_bars=2000)
    late.clock.set("2026-11-23T15:00:00Z")
    a = intraday(early)["Time Series Crypto (5min)"]
    b = intraday(late, outputsize="full")["Time Series Crypto (5min)"]
    shared = set(a) & set(b)
    assert len(shared) == 100
    assert all(a[label] == b[label] for label in shared)


def test_intervals_agree_where_their_bars_meet():
    sim = make()
    five = intraday(sim, interval="5min")["Time Series Crypto (5min)"]
    one = intraday(sim, interval="1min")["Time Series Crypto (1min)"]
    for label in ("2026-11-22 08:00:00", "2026-11-22 08:30:00"):
        assert five[label]["1. open"] == one[label]["1. open"]
    close_of_five = five["2026-11-22 08:55:00"]["4. close"]
    assert close_of_five == one["2026-11-22 08:59:00"]["4. close"] == five["2026-11-22 09:00:00"]["1. open"]


def test_prices_wander_like_a_market_but_stay_near_their_level():
    sim = make(full_bars=2000)
    closes = [
        Decimal(row["4. close"])
        for row in intraday(sim, interval="60min", outputsize="full")["Time Series Crypto (60min)"].values()
    ]
    low, high = min(closes), max(closes)
    assert high / low > Decimal("1.05")  # it moves
    assert Decimal(20000) < low and high < Decimal(400000)  # BTC stays BTC-like over ~3 months


def test_the_clock_can_be_set_advanced_and_released():
    sim = make()
    sim.clock.advance(300)
    assert sim.clock.now() == datetime(2026, 11, 22, 9, 12, 30, tzinfo=UTC)
    assert intraday(sim)["Meta Data"]["6. Last Refreshed"] == "2026-11-22 09:05:00"
    sim.clock.set(datetime(2026, 1, 1))  # naive means UTC
    assert sim.clock.timestamp() == datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    sim.clock.set(None)
    assert sim.clock.follows_wall_clock
    assert abs(sim.clock.now().timestamp() - datetime.now(UTC).timestamp()) < 5


def test_spot_moves_with_the_clock_and_keeps_bid_below_ask():
    sim = make()
    first = ask(sim, function="CURRENCY_EXCHANGE_RATE", from_currency="ETH", to_currency="EUR")[SPOT_KEY]
    sim.clock.advance(3600)
    second = ask(sim, function="CURRENCY_EXCHANGE_RATE", from_currency="ETH", to_currency="EUR")[SPOT_KEY]
    assert first["6. Last Refreshed"] == "2026-11-22 09:07:30"
    assert first["5. Exchange Rate"] != second["5. Exchange Rate"]
    for rate in (first, second):
        assert Decimal(rate["8. Bid Price"]) <= Decimal(rate["5. Exchange Rate"]) <= Decimal(rate["9. Ask Price"])


@pytest.mark.parametrize(
    "params",
    [
        {"function": "CRYPTO_INTRADAY", "symbol": "NOPE", "market": "USD", "interval": "5min"},
        {"function": "CRYPTO_INTRADAY", "symbol": "BTC", "market": "XYZ", "interval": "5min"},
        {"function": "CRYPTO_INTRADAY", "symbol": "BTC", "market": "USD", "interval": "2min"},
    ],
)
def test_unknown_symbols_get_the_real_error_message(params):
    assert ask(make(), **params) == body("invalid_symbol_intraday")


def test_any_symbol_can_be_allowed_for_benchmarks():
    sim = make(accept_any_symbol=True)
    assert len(intraday(sim, symbol="COIN42")["Time Series Crypto (5min)"]) == 100


def test_throttle_every_n_and_daily_quota():
    sim = make()
    sim.faults.update(throttle_every_n=3, throttle_kind="note")
    answers = [intraday(sim) for _ in range(6)]
    assert [("Note" in a) for a in answers] == [False, False, True, False, False, True]
    assert answers[2] == body("throttle_note_per_minute")
    sim.faults.reset()
    sim.faults.update(daily_quota=6)
    assert intraday(sim) == body("throttle_daily_quota")  # requests 7+ exceed the day's quota
    assert sim.stats["throttled"] == 3 and sim.stats["CRYPTO_INTRADAY"] == 7


def test_throttle_probability_is_seeded():
    def pattern(seed: int) -> list[bool]:
        sim = make(seed=seed)
        sim.faults.update(throttle_probability=0.5, throttle_kind="burst")
        return [
            "Information" in ask(sim, function="CURRENCY_EXCHANGE_RATE", from_currency="BTC", to_currency="USD")
            for _ in range(40)
        ]

    assert pattern(5) == pattern(5)
    assert 5 < sum(pattern(5)) < 35


def test_premium_invalid_key_and_demo_key_bodies():
    sim = make()
    sim.faults.update(premium_intraday=True)
    assert intraday(sim) == body("premium_endpoint")
    sim.faults.update(premium_intraday=False, invalid_key=True)
    assert intraday(sim) == body("invalid_api_key")
    sim.faults.update(invalid_key=False, reject_demo_key=True)
    assert sim.answer(
        {"function": "CURRENCY_EXCHANGE_RATE", "from_currency": "BTC", "to_currency": "USD", "apikey": "demo"}
    )[1] == body("demo_key")


def test_unknown_fault_names_and_bad_values_are_refused():
    sim = make()
    with pytest.raises(ValueError, match="unknown simulator fault"):
        sim.faults.update(throttle_evry_n=2)
    with pytest.raises(ValueError, match="takes a int"):
        sim.faults.update(throttle_every_n="2")
    with pytest.raises(ValueError, match="throttle_kind"):
        sim.faults.update(throttle_kind="hourly")


def test_http_control_plane(simulator):
    root = simulator.base_url.rsplit("/query", 1)[0]
    response = requests.post(f"{root}/_simulator/faults", json={"premium_intraday": True}, timeout=5)
    assert response.json()["premium_intraday"] is True and simulator.faults["premium_intraday"] is True
    assert requests.post(f"{root}/_simulator/faults", json={"bogus": 1}, timeout=5).status_code == 400
    clock = requests.post(
        f"{root}/_simulator/clock", json={"now": "2026-11-23T00:00:00Z", "advance": 60}, timeout=5
    ).json()
    assert clock["now"] == "2026-11-23T00:01:00+00:00"
    query = requests.get(
        simulator.base_url,
        params={"function": "CURRENCY_EXCHANGE_RATE", "from_currency": "BTC", "to_currency": "USD", "apikey": "k"},
        timeout=5,
    )
    assert json.loads(query.text)[SPOT_KEY]["6. Last Refreshed"] == "2026-11-23 00:01:00"
    stats = requests.get(f"{root}/_simulator/stats", timeout=5).json()
    assert stats["CURRENCY_EXCHANGE_RATE"] == 1 and stats["requests"] == 1


def test_http_errors_on_request():
    with make() as sim:
        sim.faults.update(http_error_every_n=2)
        params = {"function": "CURRENCY_EXCHANGE_RATE", "from_currency": "BTC", "to_currency": "USD", "apikey": "k"}
        statuses = [requests.get(sim.base_url, params=params, timeout=5).status_code for _ in range(4)]
    assert statuses == [200, 503, 200, 503]
