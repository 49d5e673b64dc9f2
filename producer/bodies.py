"""Alpha Vantage bodies -> typed errors or validated quotes (pure functions, no I/O).

Shapes handled (see ``tests/fixtures/alphavantage/``):

- CRYPTO_INTRADAY: ``"Time Series Crypto (5min)"``, rows ``"1. open"`` … ``"5. volume"``; volume is a
  JSON integer in current answers and a decimal string in older ones.
- DIGITAL_CURRENCY_DAILY: ``"Time Series (Digital Currency Daily)"`` with rows either ``"1. open"`` …
  (current) or ``"1a. open (EUR)"``, ``"1b. open (USD)"`` … (older; ``a`` is the market's currency).
- CURRENCY_EXCHANGE_RATE: ``"Realtime Currency Exchange Rate"`` with rate, bid and ask.

Timestamps are ``YYYY-MM-DD HH:MM:SS`` or ``YYYY-MM-DD`` in the meta data's time zone (UTC for
crypto) and become the contract's ``2026-11-22T09:05:00Z``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from cryptostream_model.intervals import DAILY, SPOT
from cryptostream_model.record import PoisonRecord, format_ts, quote_from_dict
from producer.errors import (
    AuthError,
    InvalidRequest,
    InvalidSymbol,
    PremiumEndpoint,
    RateLimited,
    UnexpectedBody,
)
from producer.redaction import redact
from producer.sources.base import Parsed

INTRADAY_FUNCTION = "CRYPTO_INTRADAY"
DAILY_FUNCTION = "DIGITAL_CURRENCY_DAILY"
SPOT_FUNCTION = "CURRENCY_EXCHANGE_RATE"
EXCHANGE_RATE_KEY = "Realtime Currency Exchange Rate"
DAILY_SERIES_KEY = "Time Series (Digital Currency Daily)"
_PRICE_NUMBERS = (("open", "1"), ("high", "2"), ("low", "3"), ("close", "4"))


def data_key(function: str, interval: str | None = None) -> str:
    """Key of the data object in a successful body of ``function``."""
    if function == INTRADAY_FUNCTION:
        return f"Time Series Crypto ({interval})"
    if function == DAILY_FUNCTION:
        return DAILY_SERIES_KEY
    if function == SPOT_FUNCTION:
        return EXCHANGE_RATE_KEY
    raise ValueError(f"unsupported Alpha Vantage function {function!r}")


def scrub(text: str) -> str:
    """A message fit for logs: one line, no echoed API key or URL carrying one, bounded length."""
    return redact(" ".join(str(text).split()))[:300]


def classify(body: object, function: str, expected_key: str | None = None) -> dict:
    """Return ``body`` when it carries data; raise the typed error Alpha Vantage's refusal stands for."""
    if not isinstance(body, dict) or not body:
        raise UnexpectedBody(f"{function} returned an empty or non-object body")
    if "Error Message" in body:
        message = scrub(body["Error Message"])
        lowered = message.lower()
        if "apikey" in lowered or "api key" in lowered:
            raise AuthError(f"Alpha Vantage rejected the API key: {message}")
        if "invalid api call" in lowered:
            raise InvalidSymbol(f"{function} refused the request (unknown symbol or market?): {message}")
        raise InvalidRequest(f"{function}: {message}")
    for notice_key in ("Information", "Note"):
        if notice_key in body and (expected_key is None or expected_key not in body):
            raise _classify_notice(scrub(body[notice_key]), function, notice_key)
    if expected_key is not None and expected_key not in body:
        raise UnexpectedBody(f"{function} body has no {expected_key!r} (keys: {', '.join(list(body)[:5])})")
    return body


def _classify_notice(message: str, function: str, notice_key: str) -> Exception:
    lowered = message.lower()
    if "premium endpoint" in lowered:
        return PremiumEndpoint(
            f"{function} is a premium Alpha Vantage endpoint and this key is not premium; use INTERVAL=spot "
            f"(CURRENCY_EXCHANGE_RATE, free tier) or INTERVAL=1d, or a premium key"
        )
    if "demo" in lowered and "key" in lowered:
        return AuthError(f"the 'demo' API key only serves Alpha Vantage's documentation examples: {message}")
    if "apikey" in lowered and "invalid" in lowered:
        return AuthError(f"Alpha Vantage rejected the API key: {message}")
    # The burst text also mentions "25 requests per day", so test for the short-window limits first.
    if any(word in lowered for word in ("per second", "per minute", "spreading out", "burst")):
        return RateLimited(f"{function} throttled: {message}", daily=False)
    if "per day" in lowered or "daily rate limit" in lowered:
        return RateLimited(f"{function} daily quota exhausted: {message}", daily=True)
    if notice_key == "Note" or "rate limit" in lowered or "call frequency" in lowered:
        return RateLimited(f"{function} throttled: {message}", daily=False)
    return InvalidRequest(f"{function} answered with a notice instead of data: {message}")


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo | None:
    return None if name.upper() in ("UTC", "GMT", "Z") else ZoneInfo(name)


def _time_zone(meta: dict | None) -> str:
    for key, value in (meta or {}).items():
        if key.endswith("Time Zone"):
            return str(value)
    return "UTC"


def upstream_ts(raw: str, zone_name: str = "UTC") -> str:
    """``2026-11-22 09:05:00`` or ``2026-11-22`` in ``zone_name`` -> ``2026-11-22T09:05:00Z``."""
    zone = _zone(zone_name)
    if zone is None and len(raw) == 19 and raw[10] == " ":
        return f"{raw[:10]}T{raw[11:]}Z"  # the common case, without a datetime round trip
    moment = datetime.fromisoformat(raw)
    moment = moment.replace(tzinfo=zone or UTC) if moment.tzinfo is None else moment
    return format_ts(moment.astimezone(UTC))


@lru_cache(maxsize=64)
def _price_columns(row_keys: frozenset[str], market: str) -> dict[str, str]:
    """Which key holds each price: ``1. open`` (current) or ``1a. open (EUR)`` / ``1b. open (USD)`` (older)."""
    columns = {}
    for name, number in _PRICE_NUMBERS:
        for candidate in (f"{number}. {name}", f"{number}a. {name} ({market})", f"{number}b. {name} ({market})"):
            if candidate in row_keys:
                columns[name] = candidate
                break
    return columns


def parse_series(
    series: dict,
    meta: dict | None,
    *,
    symbol: str,
    market: str,
    interval: str,
    fetched_at: str,
) -> Parsed:
    """Bars of an intraday or daily series, validated through the shared model."""
    if not isinstance(series, dict):
        raise UnexpectedBody(f"time series is a {type(series).__name__}, not an object")
    zone_name = _time_zone(meta)
    parsed = Parsed()
    for raw_ts, row in series.items():
        try:
            if not isinstance(row, dict):
                raise PoisonRecord(f"bad_row: {type(row).__name__}")
            columns = _price_columns(frozenset(row), market)
            missing = [name for name, _ in _PRICE_NUMBERS if name not in columns]
            if missing:
                raise PoisonRecord(f"missing_field: {','.join(missing)}")
            try:
                ts = upstream_ts(raw_ts, zone_name) if interval != DAILY else upstream_ts(raw_ts[:10], zone_name)
            except (ValueError, TypeError):
                raise PoisonRecord(f"bad_timestamp: {str(raw_ts)[:32]!r}") from None
            body = {
                "v": 1,
                "source": "alphavantage",
                "symbol": symbol,
                "market": market,
                "interval": interval,
                "ts": ts,
                **{name: row[key] for name, key in columns.items()},
                "volume": row.get("5. volume"),
                "fetched_at": fetched_at,
            }
            parsed.quotes.append(quote_from_dict(body))
        except PoisonRecord as exc:
            parsed.invalid.append(f"{symbol}-{market} {str(raw_ts)[:32]}: {exc.reason}")
    parsed.quotes.sort(key=lambda quote: quote.ts)
    return parsed


NO_QUOTE_PLACEHOLDERS = frozenset({"", "-", "None", "N/A"})


def parse_exchange_rate(rate: dict, *, symbol: str, market: str, fetched_at: str) -> Parsed:
    """A CURRENCY_EXCHANGE_RATE snapshot as one spot quote: one price, volume 0, bid and ask."""
    if not isinstance(rate, dict):
        raise UnexpectedBody(f"exchange rate is a {type(rate).__name__}, not an object")
    parsed = Parsed()
    try:
        raw_ts = rate.get("6. Last Refreshed")
        try:
            ts = upstream_ts(str(raw_ts), str(rate.get("7. Time Zone", "UTC")))
        except (ValueError, TypeError):
            raise PoisonRecord(f"bad_timestamp: {str(raw_ts)[:32]!r}") from None
        price = rate.get("5. Exchange Rate")
        body = {
            "v": 1,
            "source": "alphavantage",
            "symbol": symbol,
            "market": market,
            "interval": SPOT,
            "ts": ts,
            "open": price,
            "high": price,
            "low": price,
            "close": price,
            "volume": "0",
            "fetched_at": fetched_at,
        }
        # Alpha Vantage writes a placeholder ("-") where it has no bid or ask: the record's bid/ask are
        # optional, so a placeholder is published as absent and the price is kept.
        for field, label in (("bid", "8. Bid Price"), ("ask", "9. Ask Price")):
            value = rate.get(label)
            if value is not None and str(value).strip() not in NO_QUOTE_PLACEHOLDERS:
                body[field] = value
        parsed.quotes.append(quote_from_dict(body))
    except PoisonRecord as exc:
        parsed.invalid.append(f"{symbol}-{market} spot: {exc.reason}")
    return parsed


def parse_body(body: dict, *, function: str, symbol: str, market: str, interval: str, fetched_at: str) -> Parsed:
    """Classify and parse a whole body (what the recorded fixtures hold)."""
    key = data_key(function, interval)
    classify(body, function, key)
    if function == SPOT_FUNCTION:
        return parse_exchange_rate(body[key], symbol=symbol, market=market, fetched_at=fetched_at)
    return parse_series(
        body[key], body.get("Meta Data"), symbol=symbol, market=market, interval=interval, fetched_at=fetched_at
    )
