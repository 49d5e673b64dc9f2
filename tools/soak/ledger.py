"""What the soak put into the pipeline, the reference the verifier checks the outputs against.

Valid quotes are what Kinesis accepted from the producer (recorded by its Kinesis wrapper, so a
republished bar counts once by key); poison records and their expected quarantine reasons are what
the soak injected; watermarks are read after every producer run to prove they never move back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal

from cryptostream_model.record import parse_ts

# The consumer's reason code for each kind ``local.poison.poison_records`` makes, in its order.
POISON_REASON_CODES = (
    "not_json",
    "high_below_low",
    "non_positive",
    "missing_field",
    "unknown_interval",
    "bad_timestamp",
    "non_finite",
    "oversized",
)
VALUE_FIELDS = ("open", "high", "low", "close", "volume")

BarKey = tuple[str, int]  # (pair, epoch seconds of ts)
Values = tuple[Decimal, ...]


def bar_key(pair: str, ts: str) -> BarKey:
    return pair, int(parse_ts(ts).timestamp())


def bar_values(body: dict) -> Values:
    return tuple(Decimal(str(body[name])) for name in VALUE_FIELDS)


@dataclass
class PoisonSent:
    shard_id: str
    sequence_number: str  # per shard (moto numbers each shard from 1)
    reason_code: str


@dataclass
class Ledger:
    interval: str
    expected: set[BarKey] = field(default_factory=set)  # every bar of the simulated span
    published: dict[BarKey, set[Values]] = field(default_factory=dict)  # accepted by Kinesis, by key
    published_records: int = 0  # including republished copies
    poison: list[PoisonSent] = field(default_factory=list)
    replayed: int = 0
    watermarks: dict[str, str] = field(default_factory=dict)
    watermark_regressions: list[str] = field(default_factory=list)

    def add_published(self, data: bytes) -> None:
        body = json.loads(data)
        key = bar_key(f"{body['symbol']}-{body['market']}", body["ts"])
        self.published.setdefault(key, set()).add(bar_values(body))
        self.published_records += 1

    def observe_watermarks(self, current: dict[str, str], run: int) -> None:
        for pair, ts in current.items():
            before = self.watermarks.get(pair)
            if before is not None and ts < before:
                self.watermark_regressions.append(f"run {run}: {pair} {before} -> {ts}")
        for pair, before in self.watermarks.items():
            if pair not in current:
                self.watermark_regressions.append(f"run {run}: {pair} {before} -> (deleted)")
        self.watermarks = {**self.watermarks, **current}

    def newest_per_pair(self) -> dict[str, BarKey]:
        newest: dict[str, BarKey] = {}
        for key in self.published:
            if key[1] > newest.get(key[0], ("", -1))[1]:
                newest[key[0]] = key
        return newest
