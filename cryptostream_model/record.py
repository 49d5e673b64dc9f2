"""The stream record (public contract, schema version 1) and its validation.

One UTF-8 JSON object per Kinesis record::

    {"v": 1, "source": "alphavantage", "symbol": "BTC", "market": "USD", "interval": "5min",
     "ts": "2026-11-22T09:05:00Z", "open": "67000.1", "high": "67010", "low": "66990.5",
     "close": "67001", "volume": "12.5", "bid": "67000.9", "ask": "67001.1",
     "fetched_at": "2026-11-22T09:10:02Z"}

Prices and volume are decimal strings (numbers are accepted); ``bid``/``ask`` are optional.
The Kinesis partition key is ``SYMBOL-MARKET`` so each pair keeps its order on one shard.
Validation is hand-written rather than a pydantic model because the consumer runs it on every
record and must stay well above 50,000 records/s on one core.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from cryptostream_model.intervals import INTERVALS, SPOT
from cryptostream_model.keys import table_pk

SCHEMA_VERSION = 1
SOURCE_ALPHA_VANTAGE = "alphavantage"
MAX_RECORD_BYTES = 4096  # a quote is ~300 bytes; anything this large is not a quote
REQUIRED_FIELDS = ("v", "source", "symbol", "market", "interval", "ts", "open", "high", "low", "close", "volume")
PRICE_FIELDS = ("open", "high", "low", "close")
_CODE = re.compile(r"[A-Z0-9]{1,12}")
_is_code = _CODE.fullmatch  # fullmatch, not match with ``$``: "BTC\n" is not a symbol
_INTERVAL_SET = frozenset(INTERVALS)
_decode_json = json.JSONDecoder().decode
_ZERO = Decimal(0)  # Decimal-to-Decimal comparisons skip an int conversion


class PoisonRecord(ValueError):
    """A record that can never be valid; ``reason`` is a short machine-readable code plus detail."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_pair(pair: str) -> tuple[str, str]:
    """``"btc-usd"`` -> ``("BTC", "USD")``; raises ValueError with a one-line message."""
    symbol, sep, market = pair.strip().upper().partition("-")
    if not sep or not _is_code(symbol) or not _is_code(market):
        raise ValueError(f"invalid pair {pair!r}: expected SYMBOL-MARKET, e.g. BTC-USD")
    return symbol, market


def format_ts(moment: datetime) -> str:
    """A datetime as the contract's timestamp: ISO-8601 UTC, seconds, ``Z``."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_ts(value: str) -> datetime:
    """The contract's timestamp as an aware UTC datetime; raises ValueError."""
    # Exact shape only (it is a sort key): "2026-11-22T09:05+01Z" is also 20 characters long.
    if (
        not isinstance(value, str)
        or len(value) != 20
        or value[-1] != "Z"
        or value[10] != "T"
        or value[13] != ":"
        or value[16] != ":"
    ):
        raise ValueError(f"not an ISO-8601 UTC timestamp like 2026-11-22T09:05:00Z: {value!r}")
    moment = datetime.fromisoformat(value[:-1])
    if moment.tzinfo is not None:
        raise ValueError(f"not an ISO-8601 UTC timestamp like 2026-11-22T09:05:00Z: {value!r}")
    return moment.replace(tzinfo=UTC)


# DynamoDB numbers (the serving store keeps prices exact): up to 38 significant digits,
# magnitude 1E-130 .. 9.99E+125. A number outside that is poison here, not a surprise at write time.
_MAX_DIGITS = 38
_MIN_ADJUSTED_EXPONENT, _MAX_ADJUSTED_EXPONENT = -130, 125


def check_representable(name: str, value: Decimal) -> None:
    """PoisonRecord unless DynamoDB can store ``value`` exactly."""
    text = str(value)
    if len(text) <= _MAX_DIGITS and "E" not in text:
        return  # short plain notation is always representable
    digits = "".join(map(str, value.as_tuple().digits)).strip("0")
    if len(digits) > _MAX_DIGITS:
        raise PoisonRecord(f"unrepresentable_number: {name} has {len(digits)} significant digits, DynamoDB keeps 38")
    if value and not _MIN_ADJUSTED_EXPONENT <= value.adjusted() <= _MAX_ADJUSTED_EXPONENT:
        raise PoisonRecord(f"unrepresentable_number: {name}={text} is outside DynamoDB's range")


def _plain_and_short(raw: str) -> bool:
    return len(raw) <= _MAX_DIGITS and "e" not in raw and "E" not in raw


def _decimal(name: str, raw: object) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float, Decimal)):
        raise PoisonRecord(f"bad_number: {name} is {type(raw).__name__}")
    try:
        value = raw if isinstance(raw, Decimal) else Decimal(str(raw) if isinstance(raw, float) else raw)
    except InvalidOperation:
        raise PoisonRecord(f"bad_number: {name}={str(raw)[:32]!r}") from None
    if not value.is_finite():
        raise PoisonRecord(f"non_finite: {name}={raw!r}")
    check_representable(name, value)
    return value


def _prices(raw_prices: list[object], raw_volume: object) -> tuple[Decimal, ...]:
    """open, high, low, close, volume as finite Decimals; the first bad one raises PoisonRecord."""
    raw_open, raw_high, raw_low, raw_close = raw_prices
    if (
        type(raw_open) is type(raw_high) is type(raw_low) is type(raw_close) is type(raw_volume) is str
        and _plain_and_short(raw_open)
        and _plain_and_short(raw_high)
        and _plain_and_short(raw_low)
        and _plain_and_short(raw_close)
        and _plain_and_short(raw_volume)
    ):
        # Fast path for the contract's decimal strings; any problem falls through to the field-by-field
        # checks below, which name the first bad field exactly as they always have.
        try:
            values = (Decimal(raw_open), Decimal(raw_high), Decimal(raw_low), Decimal(raw_close), Decimal(raw_volume))
        except InvalidOperation:
            pass
        else:
            open_, high, low, close, volume = values
            if open_.is_finite() and high.is_finite() and low.is_finite() and close.is_finite() and volume.is_finite():
                return values
    prices = (_decimal(name, raw) for name, raw in zip(PRICE_FIELDS, raw_prices, strict=True))
    return (*prices, _decimal("volume", raw_volume))


@lru_cache(maxsize=8192)
def _is_contract_ts(value: str) -> bool:
    """Cached: a batch carries few distinct bar times and fetch times, so most checks are lookups."""
    try:
        parse_ts(value)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Quote:
    """One bar (or spot snapshot) of one pair at one interval."""

    symbol: str
    market: str
    interval: str
    ts: str
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    fetched_at: str
    source: str = SOURCE_ALPHA_VANTAGE
    bid: Decimal | None = None
    ask: Decimal | None = None
    v: int = SCHEMA_VERSION

    @property
    def pair(self) -> str:
        return f"{self.symbol}-{self.market}"

    @property
    def partition_key(self) -> str:
        """Kinesis partition key: one pair, one shard, one order."""
        return self.pair

    @property
    def pk(self) -> str:
        return table_pk(self.pair, self.interval)

    def to_dict(self) -> dict[str, object]:
        body: dict[str, object] = {
            "v": self.v,
            "source": self.source,
            "symbol": self.symbol,
            "market": self.market,
            "interval": self.interval,
            "ts": self.ts,
            "open": str(self.open),
            "high": str(self.high),
            "low": str(self.low),
            "close": str(self.close),
            "volume": str(self.volume),
        }
        if self.bid is not None:
            body["bid"] = str(self.bid)
        if self.ask is not None:
            body["ask"] = str(self.ask)
        body["fetched_at"] = self.fetched_at
        return body

    def to_json(self) -> bytes:
        """The Kinesis record payload (compact UTF-8 JSON)."""
        return json.dumps(self.to_dict(), separators=(",", ":")).encode()


# Quote's slot descriptors (see _new_quote).
_set_symbol = Quote.symbol.__set__
_set_market = Quote.market.__set__
_set_interval = Quote.interval.__set__
_set_ts = Quote.ts.__set__
_set_open = Quote.open.__set__
_set_high = Quote.high.__set__
_set_low = Quote.low.__set__
_set_close = Quote.close.__set__
_set_volume = Quote.volume.__set__
_set_fetched_at = Quote.fetched_at.__set__
_set_source = Quote.source.__set__
_set_bid = Quote.bid.__set__
_set_ask = Quote.ask.__set__
_set_v = Quote.v.__set__
if len(fields(Quote)) != 14:  # _new_quote must set every field
    raise RuntimeError("Quote gained a field: teach _new_quote to set it")


def _new_quote(
    symbol: str, market: str, interval: str, ts: str, open_: Decimal, high: Decimal, low: Decimal, close: Decimal,
    volume: Decimal, fetched_at: str, source: str, bid: Decimal | None, ask: Decimal | None,
) -> Quote:  # fmt: skip
    """The Quote the dataclass ``__init__`` would build from already-validated values, in a third of the
    time: the frozen ``__init__`` pays an ``object.__setattr__`` lookup per field, this writes the slots
    directly (the consumer builds one per record)."""
    quote = object.__new__(Quote)
    _set_symbol(quote, symbol)
    _set_market(quote, market)
    _set_interval(quote, interval)
    _set_ts(quote, ts)
    _set_open(quote, open_)
    _set_high(quote, high)
    _set_low(quote, low)
    _set_close(quote, close)
    _set_volume(quote, volume)
    _set_fetched_at(quote, fetched_at)
    _set_source(quote, source)
    _set_bid(quote, bid)
    _set_ask(quote, ask)
    _set_v(quote, SCHEMA_VERSION)
    return quote


def quote_from_dict(body: object) -> Quote:
    """Validate a decoded record; raises PoisonRecord naming the first problem found.

    Checks run in a fixed order so a record with several problems always gets the same reason.
    The common path is kept cheap (no per-field helper calls for string prices, cached timestamp
    checks) because the consumer runs it on every record.
    """
    if type(body) is not dict and not isinstance(body, dict):
        raise PoisonRecord(f"not_an_object: {type(body).__name__}")
    get = body.get
    required = (
        *(get("v"), get("source"), get("symbol"), get("market"), get("interval"), get("ts")),
        *(get("open"), get("high"), get("low"), get("close"), get("volume")),
    )
    if None in required:  # JSON values only: none of them compares equal to None but None itself
        missing = [name for name in REQUIRED_FIELDS if get(name) is None]
        raise PoisonRecord(f"missing_field: {','.join(missing)}")
    v, source, symbol, market, interval, ts, *raw_prices, raw_volume = required
    if v != SCHEMA_VERSION:
        raise PoisonRecord(f"unsupported_version: {v!r}")
    if not isinstance(interval, str) or interval not in _INTERVAL_SET:
        raise PoisonRecord(f"unknown_interval: {str(interval)[:16]!r}")
    if not isinstance(symbol, str) or not _is_code(symbol):
        raise PoisonRecord(f"bad_symbol: {str(symbol)[:16]!r}")
    if not isinstance(market, str) or not _is_code(market):
        raise PoisonRecord(f"bad_market: {str(market)[:16]!r}")
    if not isinstance(source, str) or not source:
        raise PoisonRecord("bad_source")
    if not isinstance(ts, str) or not _is_contract_ts(ts):
        raise PoisonRecord(f"bad_timestamp: ts={str(ts)[:32]!r}")
    fetched_at = get("fetched_at") or ts
    if not isinstance(fetched_at, str) or not _is_contract_ts(fetched_at):
        raise PoisonRecord(f"bad_timestamp: fetched_at={str(fetched_at)[:32]!r}")

    open_, high, low, close, volume = _prices(raw_prices, raw_volume)
    if open_ <= _ZERO or high <= _ZERO or low <= _ZERO or close <= _ZERO:
        for name, value in (("open", open_), ("high", high), ("low", low), ("close", close)):
            if value <= 0:
                raise PoisonRecord(f"non_positive: {name}={value}")
    if volume < _ZERO:
        raise PoisonRecord(f"negative_volume: {volume}")
    if high < low:
        raise PoisonRecord(f"high_below_low: high={high} low={low}")
    if not low <= open_ <= high:
        raise PoisonRecord(f"open_outside_range: open={open_} not in [{low}, {high}]")
    if not low <= close <= high:
        raise PoisonRecord(f"close_outside_range: close={close} not in [{low}, {high}]")
    raw_bid, raw_ask = get("bid"), get("ask")
    bid = None if raw_bid is None else _decimal("bid", raw_bid)
    ask = None if raw_ask is None else _decimal("ask", raw_ask)
    if bid is not None and bid <= 0 or ask is not None and ask <= 0:
        raise PoisonRecord("non_positive: bid/ask")
    if bid is not None and ask is not None and bid > ask:
        raise PoisonRecord(f"crossed_quote: bid={bid} > ask={ask}")
    if interval == SPOT and not (open_ == high == low == close):
        raise PoisonRecord("bad_spot: a spot snapshot has one price")
    return _new_quote(symbol, market, interval, ts, open_, high, low, close, volume, fetched_at, source, bid, ask)


def parse_record(data: bytes | str) -> Quote:
    """Decode and validate one Kinesis record payload; raises PoisonRecord."""
    if len(data) > MAX_RECORD_BYTES:
        raise PoisonRecord(f"oversized: {len(data)} bytes > {MAX_RECORD_BYTES}")
    try:
        # Fast path for the contract's UTF-8; json.loads below keeps its exact behaviour for the rest
        # (BOMs, UTF-16/32) and its error messages.
        body = _decode_json(data.decode() if type(data) is bytes else data)
    except ValueError:  # includes UnicodeDecodeError
        try:
            body = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise PoisonRecord(f"not_json: {str(exc)[:60]}") from None
    return quote_from_dict(body)
