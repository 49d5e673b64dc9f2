"""DynamoDB items for a validated quote, as low-level attribute-value dicts built directly.

Built by hand rather than through boto3's TypeSerializer because this runs once per record on the
consumer's hot path. Numbers go over the wire as exact decimal strings, never through float.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache

from cryptostream_model.intervals import DAILY
from cryptostream_model.keys import LATEST_INDEX_PK, LATEST_SK, TTL_ATTRIBUTE, latest_index_pk
from cryptostream_model.record import Quote, check_representable

Item = dict[str, dict[str, str]]

_SECONDS_PER_DAY = 86_400
_LATEST = {"S": LATEST_SK}


def dynamodb_number(name: str, value: Decimal) -> str:
    """The exact decimal string DynamoDB stores; PoisonRecord if DynamoDB cannot hold it exactly
    (the model already refuses such records; this guards items built any other way)."""
    check_representable(name, value)
    text = str(value)
    return format(value, "f") if "E" in text else text


@lru_cache(maxsize=8192)
def epoch_seconds(ts: str) -> int:
    """``2026-11-22T09:05:00Z`` -> epoch seconds (cached: a batch has few distinct bar times)."""
    return int(datetime.fromisoformat(ts[:-1]).replace(tzinfo=UTC).timestamp())


@lru_cache(maxsize=4096)
def _iso_second(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def iso_millis(epoch: float) -> str:
    """Epoch seconds -> ``2026-11-22T09:10:02.123Z``."""
    millis = int(epoch * 1000)
    return f"{_iso_second(millis // 1000)}.{millis % 1000:03d}Z"


_shared_strings: dict[str, dict[str, str]] = {}


def _shared_string(value: str) -> dict[str, str]:
    """One ``{"S": value}`` per distinct value, shared by every item of a batch: keys, codes and times
    repeat across records, and allocating fewer retained dicts is measurably faster. Items are only
    ever read (by botocore's serializer), never mutated."""
    wrapped = _shared_strings.get(value)
    if wrapped is None:
        if len(_shared_strings) >= 16_384:  # bounded: bar and fetch times keep changing
            _shared_strings.clear()
        wrapped = _shared_strings[value] = {"S": value}
    return wrapped


@lru_cache(maxsize=8192)
def _expiry(ts: str, history_ttl_days: int) -> dict[str, str]:
    return {"N": str(epoch_seconds(ts) + history_ttl_days * _SECONDS_PER_DAY)}


_SCHEMA_VERSIONS = {1: {"N": "1"}}


def bar_item(quote: Quote, pk: str, ingested_at: str, history_ttl_days: int) -> Item:
    """The history item of one bar. ``ingested_at`` is the record's Kinesis arrival time, so
    replaying a record rewrites an identical item. Intraday and spot history expire after
    ``history_ttl_days`` (0 keeps them forever); daily bars never expire."""
    ts = _shared_string(quote.ts)
    item: Item = {
        "pk": _shared_string(pk),
        "sk": ts,
        "symbol": _shared_string(quote.symbol),
        "market": _shared_string(quote.market),
        "interval": _shared_string(quote.interval),
        "ts": ts,
        "open": {"N": dynamodb_number("open", quote.open)},
        "high": {"N": dynamodb_number("high", quote.high)},
        "low": {"N": dynamodb_number("low", quote.low)},
        "close": {"N": dynamodb_number("close", quote.close)},
        "volume": {"N": dynamodb_number("volume", quote.volume)},
        "source": _shared_string(quote.source),
        "fetched_at": _shared_string(quote.fetched_at),
        "v": _SCHEMA_VERSIONS.get(quote.v) or {"N": str(quote.v)},
        "ingested_at": {"S": ingested_at},
    }
    if quote.bid is not None:
        item["bid"] = {"N": dynamodb_number("bid", quote.bid)}
    if quote.ask is not None:
        item["ask"] = {"N": dynamodb_number("ask", quote.ask)}
    if history_ttl_days and quote.interval != DAILY:
        item[TTL_ATTRIBUTE] = _expiry(quote.ts, history_ttl_days)
    return item


def latest_item(bar: Item) -> Item:
    """The ``LATEST`` copy of a bar: same attributes, never expires, and carries the sparse
    ``latest-by-interval`` index key so all latest quotes are one Query away."""
    item = {**bar, "sk": _LATEST, LATEST_INDEX_PK: {"S": latest_index_pk(bar["interval"]["S"])}}
    item.pop(TTL_ATTRIBUTE, None)
    return item
