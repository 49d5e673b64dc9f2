"""One record in, one verdict out: the archive keeps exactly what the serving table keeps.

Firehose archives the raw stream, so without this step a record the consumer quarantined (a high
below its low, a negative price) would sit in the archive and skew every analysis. The same model
validation the consumer runs decides; valid quotes are re-serialised in canonical form and carry
their partition keys (``symbol``, ``market``, ``dt``) for dynamic partitioning.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptostream_model.record import PoisonRecord, Quote, parse_record


@dataclass(frozen=True, slots=True)
class Verdict:
    quote: Quote | None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.quote is not None

    def partition_keys(self) -> dict[str, str]:
        assert self.quote is not None
        return {"symbol": self.quote.symbol, "market": self.quote.market, "dt": self.quote.ts[:10]}

    def canonical_json(self) -> bytes:
        """Newline-delimited, as Firehose's JSON-to-Parquet conversion reads it."""
        assert self.quote is not None
        return self.quote.to_json() + b"\n"


def judge(data: bytes) -> Verdict:
    try:
        return Verdict(parse_record(data))
    except PoisonRecord as exc:
        return Verdict(None, exc.reason)
