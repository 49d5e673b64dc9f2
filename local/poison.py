"""Poison for the local stack's stream: malformed records of every kind the pipeline must keep out.

The demo, the soak and the tests put these on the stream; each must end in quarantine (the consumer) and
under ``errors/`` (the archive transformation), never in the table or the archive.
"""

from __future__ import annotations

import json
from datetime import datetime

from cryptostream_model.record import format_ts


def poison_records(count: int, interval: str, when: datetime) -> list[bytes]:
    """Malformed records of every kind the consumer (and the archive transformation) must reject."""
    ts = format_ts(when)
    good = {
        "v": 1,
        "source": "demo",
        "symbol": "BTC",
        "market": "USD",
        "interval": interval,
        "ts": ts,
        "open": "100",
        "high": "110",
        "low": "90",
        "close": "105",
        "volume": "1",
        "fetched_at": ts,
    }
    kinds: list[bytes] = [
        b"{not json",
        json.dumps({**good, "high": "80"}).encode(),  # high < low
        json.dumps({**good, "close": "-5"}).encode(),  # non-positive price
        json.dumps({k: v for k, v in good.items() if k != "close"}).encode(),  # missing field
        json.dumps({**good, "interval": "7min"}).encode(),  # unknown interval
        json.dumps({**good, "ts": "yesterday"}).encode(),  # unparseable time
        json.dumps({**good, "open": "NaN"}).encode(),  # non-finite price
        json.dumps({**good, "source": "x" * 5000}).encode(),  # oversized
    ]
    return [kinds[i % len(kinds)] for i in range(count)]
