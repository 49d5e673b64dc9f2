"""The validation as it was before it was optimised (commit a1218ec), kept as the oracle that proves the
fast implementation in cryptostream_model.record decides exactly the same. One deliberate change: symbols
and markets must match fully (the original pattern ended in `$`, which also accepted a trailing newline)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from cryptostream_model.intervals import INTERVALS, SPOT
from cryptostream_model.record import PoisonRecord, Quote

SCHEMA_VERSION = 1
SOURCE_ALPHA_VANTAGE = "alphavantage"
MAX_RECORD_BYTES = 4096  # a quote is ~300 bytes; anything this large is not a quote
REQUIRED_FIELDS = ("v", "source", "symbol", "market", "interval", "ts", "open", "high", "low", "close", "volume")
PRICE_FIELDS = ("open", "high", "low", "close")
_CODE = re.compile(r"^[A-Z0-9]{1,12}\Z")


def parse_pair(pair: str) -> tuple[str, str]:
    """``"btc-usd"`` -> ``("BTC", "USD")``; raises ValueError with a one-line message."""
    symbol, sep, market = pair.strip().upper().partition("-")
    if not sep or not _CODE.match(symbol) or not _CODE.match(market):
        raise ValueError(f"invalid pair {pair!r}: expected SYMBOL-MARKET, e.g. BTC-USD")
    return symbol, market


def format_ts(moment: datetime) -> str:
    """A datetime as the contract's timestamp: ISO-8601 UTC, seconds, ``Z``."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_ts(value: str) -> datetime:
    """Strict contract shape (the oracle spells it as a regular expression)."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", value):
        raise ValueError(f"not an ISO-8601 UTC timestamp: {value!r}")
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _decimal(name: str, raw: object) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float, Decimal)):
        raise PoisonRecord(f"bad_number: {name} is {type(raw).__name__}")
    try:
        value = raw if isinstance(raw, Decimal) else Decimal(str(raw) if isinstance(raw, float) else raw)
    except InvalidOperation:
        raise PoisonRecord(f"bad_number: {name}={str(raw)[:32]!r}") from None
    if not value.is_finite():
        raise PoisonRecord(f"non_finite: {name}={raw!r}")
    # DynamoDB's number limits, spelled out independently: 38 significant digits, 1E-130 .. 9.99E+125
    significant = "".join(str(d) for d in value.as_tuple().digits).strip("0")  # no context rounding
    if len(significant) > 38:
        raise PoisonRecord(
            f"unrepresentable_number: {name} has {len(significant)} significant digits, DynamoDB keeps 38"
        )
    if value and not Decimal("1E-130") <= abs(value) < Decimal("1E+126"):
        raise PoisonRecord(f"unrepresentable_number: {name}={value} is outside DynamoDB's range")
    return value


def quote_from_dict(body: object) -> Quote:
    """Validate a decoded record; raises PoisonRecord naming the first problem found."""
    if not isinstance(body, dict):
        raise PoisonRecord(f"not_an_object: {type(body).__name__}")
    missing = [name for name in REQUIRED_FIELDS if body.get(name) is None]
    if missing:
        raise PoisonRecord(f"missing_field: {','.join(missing)}")
    if body["v"] != SCHEMA_VERSION:
        raise PoisonRecord(f"unsupported_version: {body['v']!r}")
    interval = body["interval"]
    if interval not in INTERVALS:
        raise PoisonRecord(f"unknown_interval: {str(interval)[:16]!r}")
    symbol, market, source = body["symbol"], body["market"], body["source"]
    if not isinstance(symbol, str) or not _CODE.match(symbol):
        raise PoisonRecord(f"bad_symbol: {str(symbol)[:16]!r}")
    if not isinstance(market, str) or not _CODE.match(market):
        raise PoisonRecord(f"bad_market: {str(market)[:16]!r}")
    if not isinstance(source, str) or not source:
        raise PoisonRecord("bad_source")
    ts = body["ts"]
    try:
        parse_ts(ts)
    except (ValueError, TypeError):
        raise PoisonRecord(f"bad_timestamp: ts={str(ts)[:32]!r}") from None
    fetched_at = body.get("fetched_at") or ts
    try:
        parse_ts(fetched_at)
    except (ValueError, TypeError):
        raise PoisonRecord(f"bad_timestamp: fetched_at={str(fetched_at)[:32]!r}") from None

    open_, high, low, close = (_decimal(name, body[name]) for name in PRICE_FIELDS)
    volume = _decimal("volume", body["volume"])
    for name, value in (("open", open_), ("high", high), ("low", low), ("close", close)):
        if value <= 0:
            raise PoisonRecord(f"non_positive: {name}={value}")
    if volume < 0:
        raise PoisonRecord(f"negative_volume: {volume}")
    if high < low:
        raise PoisonRecord(f"high_below_low: high={high} low={low}")
    if not low <= open_ <= high:
        raise PoisonRecord(f"open_outside_range: open={open_} not in [{low}, {high}]")
    if not low <= close <= high:
        raise PoisonRecord(f"close_outside_range: close={close} not in [{low}, {high}]")
    bid = _decimal("bid", body["bid"]) if body.get("bid") is not None else None
    ask = _decimal("ask", body["ask"]) if body.get("ask") is not None else None
    if bid is not None and bid <= 0 or ask is not None and ask <= 0:
        raise PoisonRecord("non_positive: bid/ask")
    if bid is not None and ask is not None and bid > ask:
        raise PoisonRecord(f"crossed_quote: bid={bid} > ask={ask}")
    if interval == SPOT and not (open_ == high == low == close):
        raise PoisonRecord("bad_spot: a spot snapshot has one price")
    return Quote(
        symbol=symbol,
        market=market,
        interval=interval,
        ts=ts,
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=volume,
        fetched_at=fetched_at,
        source=source,
        bid=bid,
        ask=ask,
    )


def parse_record(data: bytes | str) -> Quote:
    """Decode and validate one Kinesis record payload; raises PoisonRecord."""
    if len(data) > MAX_RECORD_BYTES:
        raise PoisonRecord(f"oversized: {len(data)} bytes > {MAX_RECORD_BYTES}")
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PoisonRecord(f"not_json: {str(exc)[:60]}") from None
    return quote_from_dict(body)
