"""Public exchange market data through CCXT: Coinbase Exchange and Kraken, keyless.

- Pairs as users write them (``BTC-USD``) become CCXT's unified symbols (``BTC/USD``); CCXT maps those to
  each exchange's own ids (``BTC-USD`` on Coinbase, ``XXBTZUSD`` on Kraken) from the markets it loads on
  first use (``load_markets``: one or two requests per cold start, then cached with the exchange object).
- Bars: ``fetch_ohlcv`` pages forward from ``since`` (at most ``MAX_PAGES`` requests per pair and run);
  without ``since`` it takes the exchange's most recent window (Coinbase 300 bars, Kraken 720, which is
  also all Kraken serves whatever ``since`` says).
- Spot: ``fetch_ticker``'s last price, bid and ask; its time, or the fetch time when the exchange sends
  none (Kraken).
- Errors: CCXT's classes become the producer's (``errors.translate``): HTTP 429 and ``EAPI:Rate limit
  exceeded`` are ``RateLimited`` (the run's backoff), unknown pairs ``InvalidSymbol``, timeouts and 5xx
  ``UpstreamUnavailable`` after ``max_retries`` jittered retries here.
- ``<SOURCE>_BASE_URL`` (``COINBASE_BASE_URL``, ``KRAKEN_BASE_URL``) points CCXT at another host (the
  local market simulator) by overriding the exchange's ``urls['api']``.

``ccxt`` is imported here and nowhere at module level of the handler: it imports every exchange module
it ships (~0.5 s), which an Alpha Vantage run must not pay.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cryptostream_model.intervals import DAILY, interval_seconds
from cryptostream_model.record import PoisonRecord, format_ts, parse_ts, quote_from_dict
from cryptostream_model.sources import COINBASE, KRAKEN, check_serves
from cryptostream_runtime.retry import RetryPolicy
from producer.errors import InvalidRequest, UpstreamUnavailable
from producer.settings import Settings
from producer.sources.base import Attempt, BarQuery, Parsed
from producer.sources.errors import is_transport_error, translate

EXCHANGE_IDS = {COINBASE: "coinbaseexchange", KRAKEN: "kraken"}
TIMEFRAMES = {"1min": "1m", "5min": "5m", "15min": "15m", "30min": "30m", "60min": "1h", DAILY: "1d"}
PAGE_BARS = {COINBASE: 300, KRAKEN: 720}  # the most each exchange returns per request
MAX_PAGES = 50  # per pair and run: a week of 1-minute bars from Coinbase is 34 pages


def ccxt_symbol(pair: str) -> str:
    """``BTC-USD`` -> ``BTC/USD`` (CCXT's unified spot symbol)."""
    symbol, market = pair.split("-", 1)
    return f"{symbol}/{market}"


class ExchangeSource:
    """One CCXT exchange as a ``MarketSource``."""

    def __init__(self, name: str, exchange: Any, *, max_retries: int = 2, sleep: Callable[[float], None] | None = None):
        self.name = name
        self.exchange = exchange
        self._first_request = exchange.cryptostream_requests
        self._transport = RetryPolicy(max_attempts=max_retries + 1, base_seconds=0.25, cap_seconds=5.0, sleep=sleep)

    @property
    def requests_made(self) -> int:
        return self.exchange.cryptostream_requests - self._first_request

    def _call(self, what: str, call: Callable[[], Any]) -> Any:
        """One CCXT call, transport failures retried here, every failure as a SourceError."""
        retry = 0
        while True:
            try:
                return call()
            except Exception as exc:
                if not is_transport_error(exc):
                    raise translate(exc, self.name, what) from None
                retry += 1
                delay = self._transport.delay(retry)
                if delay is None:
                    raise translate(exc, self.name, what) from None
                self._transport.wait(delay)

    def fetch_bars(self, query: BarQuery, attempt: Attempt) -> Parsed:
        check_serves(self.name, query.interval)
        symbol, timeframe = ccxt_symbol(query.pair), TIMEFRAMES[query.interval]
        step_ms = interval_seconds(query.interval) * 1000
        page = PAGE_BARS[self.name]
        what = f"{query.pair} {query.interval} bars"

        def one_page(since_ms: int | None) -> list[list[Any]]:
            return attempt(
                lambda: self._call(what, lambda: self.exchange.fetch_ohlcv(symbol, timeframe, since_ms, page))
            )

        if query.since is None:
            rows = one_page(None)
        else:
            cursor = int(parse_ts(query.since).timestamp() * 1000)
            stop_ms = int(min(query.now, parse_ts(query.until).timestamp() if query.until else query.now) * 1000)
            rows = []
            for _ in range(MAX_PAGES):
                fresh = [row for row in one_page(cursor) if row and row[0] is not None and row[0] >= cursor]
                rows.extend(fresh)
                if not fresh:
                    break
                cursor = int(fresh[-1][0]) + step_ms
                if cursor > stop_ms:
                    break
        return self._bars(query, rows)

    def _bars(self, query: BarQuery, rows: list[list[Any]]) -> Parsed:
        symbol, market = query.pair.split("-", 1)
        parsed = Parsed()
        seen: set[str] = set()
        for row in rows:
            try:
                if not isinstance(row, list) or len(row) < 6:
                    raise PoisonRecord(f"bad_row: {str(row)[:40]}")
                try:
                    ts = format_ts(datetime.fromtimestamp(int(row[0]) / 1000, UTC))
                except (TypeError, ValueError, OverflowError):
                    raise PoisonRecord(f"bad_timestamp: {str(row[0])[:32]!r}") from None
                if ts in seen:
                    continue
                body = {
                    "v": 1, "source": self.name, "symbol": symbol, "market": market, "interval": query.interval,
                    "ts": ts, "open": row[1], "high": row[2], "low": row[3], "close": row[4], "volume": row[5],
                    "fetched_at": query.fetched_at,
                }  # fmt: skip
                parsed.quotes.append(quote_from_dict(body))
                seen.add(ts)
            except PoisonRecord as exc:
                parsed.invalid.append(f"{query.pair} {str(row)[:32]}: {exc.reason}")
        parsed.quotes.sort(key=lambda quote: quote.ts)
        return parsed

    def fetch_spot(self, pair: str, fetched_at: str, attempt: Attempt) -> Parsed:
        symbol, market = pair.split("-", 1)
        ticker = attempt(lambda: self._call(f"{pair} ticker", lambda: self.exchange.fetch_ticker(ccxt_symbol(pair))))
        if not isinstance(ticker, dict):
            raise InvalidRequest(f"{self.name} answered the {pair} ticker with {type(ticker).__name__}")
        parsed = Parsed()
        price = ticker.get("last") if ticker.get("last") is not None else ticker.get("close")
        stamp = ticker.get("timestamp")
        ts = format_ts(datetime.fromtimestamp(int(stamp) / 1000, UTC)) if stamp else fetched_at
        body = {
            "v": 1, "source": self.name, "symbol": symbol, "market": market, "interval": "spot", "ts": ts,
            "open": price, "high": price, "low": price, "close": price, "volume": "0", "fetched_at": fetched_at,
        }  # fmt: skip
        for side in ("bid", "ask"):
            if ticker.get(side) is not None:
                body[side] = ticker[side]
        try:
            parsed.quotes.append(quote_from_dict(body))
        except PoisonRecord as exc:
            parsed.invalid.append(f"{pair} spot: {exc.reason}")
        return parsed


_exchanges: dict[tuple[Any, ...], Any] = {}


def build_exchange(name: str, *, base_url: str | None, timeout_seconds: float, rate_limit_ms: float | None) -> Any:
    """A CCXT exchange object for ``name``, pointed at ``base_url`` when given, counting its HTTP requests."""
    import ccxt  # here, not at the top: ~0.5 s of imports only runs that use an exchange pay

    exchange = getattr(ccxt, EXCHANGE_IDS[name])({"enableRateLimit": True, "timeout": int(timeout_seconds * 1000)})
    if base_url:
        # CCXT builds every public URL from urls['api']['public'] (+ Kraken's '/0/public/...').
        exchange.urls["api"] = {**exchange.urls["api"], "public": base_url.rstrip("/")}
    if rate_limit_ms is not None:  # CCXT's own spacing of requests (Coinbase 100 ms, Kraken 1 s by default)
        exchange.rateLimit = rate_limit_ms
        exchange.enableRateLimit = rate_limit_ms > 0
    exchange.cryptostream_requests = 0
    http_fetch = exchange.fetch

    def counted_fetch(*args: Any, **kwargs: Any) -> Any:
        exchange.cryptostream_requests += 1
        return http_fetch(*args, **kwargs)

    exchange.fetch = counted_fetch
    return exchange


def open_exchange(name: str, settings: Settings, sleep: Callable[[float], None] | None = None) -> ExchangeSource:
    """The source for ``name``; the exchange object (its loaded markets, its HTTP session) is kept across
    warm invocations, so only a cold start loads markets."""
    base_url = settings.exchange_base_urls.get(name)
    key = (name, base_url, settings.timeout_seconds, settings.exchange_rate_limit_ms)
    exchange = _exchanges.get(key)
    if exchange is None:
        exchange = _exchanges[key] = build_exchange(
            name, base_url=base_url, timeout_seconds=settings.timeout_seconds,
            rate_limit_ms=settings.exchange_rate_limit_ms,
        )  # fmt: skip
    return ExchangeSource(name, exchange, max_retries=settings.max_retries, sleep=sleep)


__all__ = ["EXCHANGE_IDS", "ExchangeSource", "UpstreamUnavailable", "build_exchange", "ccxt_symbol", "open_exchange"]
