"""Per-record stage: decode and validate one Kinesis record into an item to write or a poison verdict.

Runs once per record inside Powertools' BatchProcessor; it never raises for bad data (poison is a
result, not a failure, so it is never retried) and does no I/O.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass

from consumer.items import Item, bar_item, iso_millis
from cryptostream_model.keys import table_pk
from cryptostream_model.record import MAX_RECORD_BYTES, PoisonRecord, parse_record


@dataclass(slots=True)
class Accepted:
    """A valid record and its history item."""

    pk: str
    ts: str
    fetched_at: str
    item: Item


@dataclass(slots=True)
class Rejected:
    """A poison record: ``reason`` is ``code: detail``; ``payload`` the decoded bytes (or the raw
    base64 text when it did not decode)."""

    reason: str
    payload: bytes | str

    @property
    def code(self) -> str:
        return self.reason.partition(":")[0]


def decode_record(kinesis: dict, history_ttl_days: int) -> Accepted | Rejected:
    """``kinesis`` is the ``kinesis`` member of one record of Lambda's Kinesis event."""
    data = kinesis.get("data")
    if not isinstance(data, str):
        return Rejected(f"bad_base64: data is {type(data).__name__}", "" if data is None else str(data))
    try:
        raw = binascii.a2b_base64(data, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        return Rejected(f"bad_base64: {str(exc)[:60]}", data)
    try:
        try:
            # parse_record reports oversize itself, before any decoding
            text = raw.decode() if len(raw) <= MAX_RECORD_BYTES else raw
        except UnicodeDecodeError as exc:
            raise PoisonRecord(f"not_utf8: {str(exc)[:60]}") from None
        quote = parse_record(text)
        pk = table_pk(f"{quote.symbol}-{quote.market}", quote.interval)
        ingested_at = iso_millis(float(kinesis["approximateArrivalTimestamp"]))
        item = bar_item(quote, pk, ingested_at, history_ttl_days)
    except PoisonRecord as poison:
        return Rejected(poison.reason, raw)
    return Accepted(pk, quote.ts, quote.fetched_at, item)
