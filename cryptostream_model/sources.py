"""Market data sources and which one owns each (pair, interval): the rule that keeps one bar per key.

The serving table and the archive key a bar by (pair, interval, ts) without the source, so two sources
publishing the same (pair, interval) would overwrite each other's bars. Configuration therefore gives
every (pair, interval) exactly one owner: the schedules name their source (a schedule without one has
the default source), and everything no schedule names belongs to the default source. Two schedules of
different sources on the same (pair, interval) are refused (``SourceOverlap``), and the producer
refuses an event whose source does not own what it asks for (docs/architecture.md, "Sources").

``encode_owners``/``decode_owners`` carry the owners to the producer in one environment variable
(``SOURCE_OWNERS``), listing only what differs from the default source.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cryptostream_model.intervals import DAILY, INTERVALS, SPOT

ALPHA_VANTAGE = "alphavantage"
COINBASE = "coinbase"
KRAKEN = "kraken"
DEFAULT_SOURCE = ALPHA_VANTAGE

# Intervals each source serves. Coinbase Exchange has no 30-minute candles (granularity 60, 300, 900,
# 3600, 21600, 86400); Kraken has 1, 5, 15, 30, 60 minutes and a day. Spot is a ticker snapshot.
SOURCE_INTERVALS: Mapping[str, tuple[str, ...]] = {
    ALPHA_VANTAGE: INTERVALS,
    COINBASE: ("1min", "5min", "15min", "60min", SPOT, DAILY),
    KRAKEN: ("1min", "5min", "15min", "30min", "60min", SPOT, DAILY),
}
SOURCES: tuple[str, ...] = tuple(SOURCE_INTERVALS)
KEYLESS_SOURCES = frozenset({COINBASE, KRAKEN})  # public market data: no API key, no subscription

Series = tuple[str, str]  # (pair, interval), e.g. ("BTC-USD", "1min")


class SourceOverlap(ValueError):
    """Two sources claim the same (pair, interval)."""


def check_source(source: object, where: str = "source") -> str:
    """``source`` if it is a known source name; ValueError (one line) otherwise."""
    if source not in SOURCE_INTERVALS:
        raise ValueError(f"{where} must be one of {', '.join(SOURCES)}, got {source!r}")
    return str(source)


def check_serves(source: str, interval: str, where: str = "") -> None:
    """ValueError unless ``source`` serves ``interval``."""
    served = SOURCE_INTERVALS[source]
    if interval not in served:
        prefix = f"{where}: " if where else ""
        raise ValueError(f"{prefix}{source} has no {interval} data; it serves {', '.join(served)}")


@dataclass(frozen=True)
class Claim:
    """One configured producer job: ``source`` publishes ``interval`` for ``pairs``; ``where`` names it."""

    source: str
    interval: str
    pairs: tuple[str, ...]
    where: str


def owners_of(claims: Iterable[Claim]) -> dict[Series, Claim]:
    """Each (pair, interval) the claims cover -> the claim that owns it; SourceOverlap names both claimants."""
    owners: dict[Series, Claim] = {}
    for claim in claims:
        for pair in claim.pairs:
            series = (pair, claim.interval)
            held = owners.get(series)
            if held is not None and held.source != claim.source:
                raise SourceOverlap(
                    f"{pair} {claim.interval} is claimed by two sources: {held.where} ({held.source}) and "
                    f"{claim.where} ({claim.source}); a pair and interval has one source (the table keeps one bar "
                    "per pair, interval and time): give one of them other pairs or another interval"
                )
            owners.setdefault(series, claim)
    return owners


def encode_owners(owners: Mapping[Series, str], default_source: str) -> str:
    """``{("BTC-USD", "1min"): "coinbase"}`` -> ``coinbase:1min=BTC-USD``; the default source's are left out."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for (pair, interval), source in owners.items():
        if source != default_source:
            grouped.setdefault((source, interval), []).append(pair)
    return ";".join(f"{source}:{interval}={','.join(pairs)}" for (source, interval), pairs in grouped.items())


def decode_owners(text: str) -> dict[Series, str]:
    """The inverse of ``encode_owners``; ValueError (one line) on a malformed value."""
    owners: dict[Series, str] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        head, sep, pairs = part.partition("=")
        source, colon, interval = head.partition(":")
        if not sep or not colon or not pairs:
            raise ValueError(f"SOURCE_OWNERS part {part!r} is not source:interval=PAIR,PAIR")
        check_source(source, "SOURCE_OWNERS source")
        if interval not in INTERVALS:
            raise ValueError(f"SOURCE_OWNERS interval {interval!r} is not one of {', '.join(INTERVALS)}")
        for pair in filter(None, (p.strip().upper() for p in pairs.split(","))):
            held = owners.get((pair, interval))
            if held is not None and held != source:
                raise SourceOverlap(f"SOURCE_OWNERS gives {pair} {interval} to both {held} and {source}")
            owners[(pair, interval)] = source
    return owners
