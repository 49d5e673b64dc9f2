"""The ``alpha_vantage`` package, with a timeout, a configurable base URL, bounded retries and typed errors.

``alpha_vantage`` builds every URL from ``AlphaVantage._ALPHA_VANTAGE_API_URL`` (named through the
base class, so a subclass attribute does nothing) and calls ``requests.get`` without a timeout.
``_handle_api_call(url)`` is the one seam every call goes through: rewrite the URL there, fetch with a
pooled session and a timeout, retry connection errors and 5xx, and classify the 200-with-an-error
bodies. The API key travels in the query string, so every URL that reaches a message is redacted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import requests
from alpha_vantage.cryptocurrencies import CryptoCurrencies

from cryptostream_runtime.retry import RetryPolicy
from producer.bodies import INTRADAY_FUNCTION, classify, data_key
from producer.errors import UnexpectedBody, UpstreamUnavailable
from producer.redaction import redact, register_secret
from producer.settings import DEFAULT_BASE_URL

_LIBRARY_BASE = "https://www.alphavantage.co/query?"
_log = logging.getLogger(__name__)


class AlphaVantageClient(CryptoCurrencies):
    """``CryptoCurrencies`` whose every call has a timeout, retries and typed errors.

    Counts requests in ``requests_made`` (the free tier has 25 a day, so they are worth reporting).
    """

    def __init__(
        self,
        key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
        max_retries: int = 2,
        backoff_seconds: float = 0.5,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] | None = None,
        before_request: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(key=key, output_format="json", treat_info_as_error=True)
        # Called before every HTTP attempt, retries included; raising stops the call unsent (the daily budget).
        self.before_request = before_request
        register_secret(key)  # whatever echoes it (a library's debug log, an error body) shows *** instead
        self.base_url = base_url.rstrip("?")
        self.timeout = timeout
        self.session = session or requests.Session()
        # Retry n waits up to backoff_seconds * 2**(n-1), full jitter, uncapped (max_retries is small).
        self.retry = RetryPolicy(
            max_attempts=max_retries + 1, base_seconds=backoff_seconds / 2, cap_seconds=float("inf"), sleep=sleep
        )
        self.requests_made = 0

    def _target(self, url: str) -> str:
        if url.startswith(_LIBRARY_BASE):
            return f"{self.base_url}?{url[len(_LIBRARY_BASE) :]}"
        return url

    def _handle_api_call(self, url: str) -> dict:
        target = self._target(url)
        query = parse_qs(urlsplit(target).query)
        function = query.get("function", ["?"])[0]
        interval = query.get("interval", [None])[0]
        expected = data_key(function, interval) if function != "?" else None
        response = self._get(target, function)
        try:
            body = response.json()
        except ValueError:
            raise UnexpectedBody(f"{function} answered HTTP {response.status_code} with a non-JSON body") from None
        return classify(body, function, expected)

    def _get(self, target: str, function: str) -> requests.Response:
        attempt = 0
        while True:
            attempt += 1
            if self.before_request is not None:
                self.before_request()
            self.requests_made += 1
            try:
                response = self.session.get(target, timeout=self.timeout, headers=self.headers)
            except requests.RequestException as exc:
                problem = f"{type(exc).__name__}: {redact(str(exc))}"
            else:
                if response.status_code < 500 and response.status_code != 429:
                    if response.status_code >= 400:
                        raise UpstreamUnavailable(f"{function} answered HTTP {response.status_code}")
                    return response
                problem = f"HTTP {response.status_code}"
            delay = self.retry.delay(attempt)
            if delay is None:
                raise UpstreamUnavailable(f"{function} failed after {attempt} attempts: {problem}")
            _log.warning(
                "alpha vantage %s attempt %d failed (%s); retrying in %.2fs", function, attempt, problem, delay
            )
            self.retry.wait(delay)

    # Convenience wrappers with the argument names the handler uses.
    def intraday(self, symbol: str, market: str, interval: str, outputsize: str) -> tuple[dict, dict]:
        return self.get_crypto_intraday(symbol=symbol, market=market, interval=interval, outputsize=outputsize)

    def daily(self, symbol: str, market: str) -> tuple[dict, dict]:
        return self.get_digital_currency_daily(symbol=symbol, market=market)

    def exchange_rate(self, symbol: str, market: str) -> dict:
        data, _ = self.get_digital_currency_exchange_rate(from_currency=symbol, to_currency=market)
        return data


__all__ = ["INTRADAY_FUNCTION", "AlphaVantageClient", "redact"]
