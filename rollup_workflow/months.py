"""Month objects: one JSON-lines object per table, pair and UTC month, rewritten whole.

Each line holds the columns in order: symbol, market, bucket (``YYYY-MM-DD HH:MM:SS.fff``, what Athena's OpenX
JSON SerDe reads as a timestamp), open, high, low, close, volume (doubles, written by ``repr`` so they read
back to the same bits) and bars. A rewrite keeps the lines of the days not recomputed exactly as they were and
replaces the recomputed days' lines with the query's rows; the lines stay sorted by bucket.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

COLUMNS = ("symbol", "market", "bucket", "open", "high", "low", "close", "volume", "bars")
OBJECT_NAME = "part-0.json"


def bucket_text(value: Any) -> str:
    """Athena's ``2026-11-22 09:00:00.000`` (or the emulator's ``2026-11-22 09:00:00``) as the stored text."""
    text = str(value).strip().removesuffix(" UTC")  # Trino's zoned text ends in " UTC"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is not None:  # a zoned timestamp is only accepted in UTC: buckets are UTC hours and days
        if moment.utcoffset() != timedelta(0):
            raise ValueError(f"bucket {value!r} is not in UTC; rollup buckets are UTC hours and days")
        moment = moment.replace(tzinfo=None)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def row_of(result: dict[str, Any]) -> dict[str, Any]:
    """A query result row as a stored line's fields."""
    missing = [name for name in COLUMNS if name not in result]
    if missing:
        raise ValueError(f"the rollup query returned no {', '.join(missing)} column")
    return {
        "symbol": str(result["symbol"]), "market": str(result["market"]), "bucket": bucket_text(result["bucket"]),
        **{name: float(result[name]) for name in ("open", "high", "low", "close", "volume")},
        "bars": int(result["bars"]),
    }


def month_key(row: dict[str, Any]) -> str:
    return f"symbol={row['symbol']}/market={row['market']}/month={row['bucket'][:7]}"


def parse(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in body.decode("utf-8").splitlines() if line.strip()]


def render(rows: Iterable[dict[str, Any]]) -> bytes:
    lines = [json.dumps({name: row[name] for name in COLUMNS}, separators=(",", ":"), allow_nan=False)
             for row in sorted(rows, key=lambda r: r["bucket"])]
    return "".join(line + "\n" for line in lines).encode("utf-8")


def merged(existing: list[dict[str, Any]], fresh: list[dict[str, Any]], days: set[str]) -> list[dict[str, Any]]:
    """The month's rows: ``existing`` ones outside ``days`` (recomputed days), plus ``fresh`` (all inside ``days``)."""
    outside = [row for row in fresh if row["bucket"][:10] not in days]
    if outside:
        raise ValueError(f"the query returned a row outside the batch's days: {outside[0]}")
    return [row for row in existing if row["bucket"][:10] not in days] + fresh
