"""The alpha_vantage package through our seam: base URL, timeout, retries, typed errors, no key in messages."""

from __future__ import annotations

import socket

import pytest

from producer.alpha_client import AlphaVantageClient, redact
from producer.errors import AuthError, InvalidSymbol, PremiumEndpoint, RateLimited, UpstreamUnavailable
from tests.producer.conftest import API_KEY


def client_for(url: str, **kwargs) -> AlphaVantageClient:
    kwargs.setdefault("sleep", lambda _: None)
    return AlphaVantageClient(API_KEY, base_url=url, **kwargs)


def test_calls_go_to_the_configured_base_url(simulator):
    client = client_for(simulator.base_url)
    series, meta = client.intraday("BTC", "USD", "5min", "compact")
    assert meta["7. Interval"] == "5min" and len(series) == 100
    rate = client.exchange_rate("ETH", "EUR")
    assert rate["3. To_Currency Code"] == "EUR"
    series, _ = client.daily("SOL", "USD")
    assert next(iter(series)) == "2026-11-21"
    assert simulator.stats["CRYPTO_INTRADAY"] == 1
    assert simulator.stats["CURRENCY_EXCHANGE_RATE"] == 1
    assert simulator.stats["DIGITAL_CURRENCY_DAILY"] == 1
    assert client.requests_made == 3


def test_5xx_is_retried_then_succeeds(simulator):
    simulator.faults.update(http_error_every_n=2)  # the 2nd request fails, the 3rd succeeds
    client = client_for(simulator.base_url, max_retries=2)
    client.exchange_rate("BTC", "USD")
    client.exchange_rate("BTC", "USD")
    assert simulator.stats["http_errors"] == 1
    assert client.requests_made == 3


def test_5xx_retries_are_bounded(simulator):
    simulator.faults.update(http_error_every_n=1)
    client = client_for(simulator.base_url, max_retries=2)
    with pytest.raises(UpstreamUnavailable, match="after 3 attempts"):
        client.exchange_rate("BTC", "USD")
    assert simulator.stats["requests"] == 3


def test_every_request_has_a_timeout(simulator):
    simulator.faults.update(latency_ms=400)
    client = client_for(simulator.base_url, timeout=0.1, max_retries=1)
    with pytest.raises(UpstreamUnavailable) as raised:
        client.exchange_rate("BTC", "USD")
    assert "Timeout" in str(raised.value)
    assert API_KEY not in str(raised.value)


def test_connection_errors_never_carry_the_key():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = client_for(f"http://127.0.0.1:{port}/query", max_retries=1, timeout=1)
    with pytest.raises(UpstreamUnavailable) as raised:
        client.exchange_rate("BTC", "USD")
    assert API_KEY not in str(raised.value)
    assert "ConnectionError" in str(raised.value)


@pytest.mark.parametrize(
    ("faults", "error"),
    [
        ({"premium_intraday": True}, PremiumEndpoint),
        ({"invalid_key": True}, AuthError),
        ({"throttle_every_n": 1, "throttle_kind": "burst"}, RateLimited),
        ({"daily_quota": 0, "throttle_every_n": 1, "throttle_kind": "daily"}, RateLimited),
    ],
)
def test_simulated_refusals_arrive_as_typed_errors(simulator, faults, error):
    simulator.faults.update(faults)
    with pytest.raises(error):
        client_for(simulator.base_url).intraday("BTC", "USD", "5min", "compact")


def test_unknown_symbol_is_invalid_symbol(simulator):
    with pytest.raises(InvalidSymbol, match="CRYPTO_INTRADAY"):
        client_for(simulator.base_url).intraday("NOPE", "USD", "5min", "compact")


def test_demo_key_is_an_auth_error(simulator):
    simulator.faults.update(reject_demo_key=True)
    client = AlphaVantageClient("demo", base_url=simulator.base_url)
    with pytest.raises(AuthError, match="demo"):
        client.exchange_rate("BTC", "USD")


def test_redact():
    url = "https://www.alphavantage.co/query?function=X&apikey=SECRET123&datatype=json"
    assert redact(url) == "https://www.alphavantage.co/query?function=X&apikey=***&datatype=json"
