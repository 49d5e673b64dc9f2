"""Rollup tables' layout, watermark and planning, shared by the local rollups and the cloud workflow.

Pure Python, no I/O: ``analytics.rollups`` (local, DuckDB) and ``rollup_workflow`` (the Lambda, boto3 only) can
both import it. The layout mirrors the archive's (``cryptostream_model.archive``)::

    <rollups>/rollup_1h/symbol=BTC/market=USD/month=2026-11/part-0.<parquet|json>
    <rollups>/rollup_1h/_watermark.json

A watermark is the newest archive object (by modification time) already rolled up, plus the objects sharing that
exact time: S3 times have one-second resolution, so an object landing in the same second as the mark must still be
taken by the next run. Objects are named by their storage path (``bucket/key`` on S3, as pyarrow names them).
A bucket lies in one UTC day, so recomputing a changed (pair, day) partition from all of its objects, and
keeping every other day as it is, always equals a full recompute.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

ROLLUP_TABLES = ("rollup_1h", "rollup_1d")
ROLLUPS_PREFIX = "rollups/"
WATERMARK_FILE = "_watermark.json"
# An archive object in the layout, relative to the quotes root; names starting with _ or . are hidden (Hive).
ARCHIVE_OBJECT = re.compile(r"symbol=([^/]+)/market=([^/]+)/dt=(\d{4}-\d{2}-\d{2})/[^/_.][^/]*")
_CODE = re.compile(r"[A-Z0-9]{1,12}")  # symbols and markets, as the record model allows them
MONTH_OBJECT = re.compile(r"symbol=([^/]+)/market=([^/]+)/month=(\d{4}-\d{2})/part-0\.[a-z]+")


@dataclass(frozen=True, order=True)
class Partition:
    """One archive partition: a pair's UTC day."""

    symbol: str
    market: str
    day: str  # YYYY-MM-DD

    @property
    def month_key(self) -> str:
        """``symbol=BTC/market=USD/month=2026-11``: the month object the day's rows live in."""
        return f"symbol={self.symbol}/market={self.market}/month={self.day[:7]}"

    def to_dict(self) -> dict[str, str]:
        return {"symbol": self.symbol, "market": self.market, "day": self.day}

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Partition:
        partition = cls(str(data["symbol"]), str(data["market"]), str(data["day"]))
        if not (_CODE.fullmatch(partition.symbol) and _CODE.fullmatch(partition.market)):
            raise ValueError(f"partition {dict(data)!r}: symbol and market must be codes like BTC, USD")
        datetime.strptime(partition.day, "%Y-%m-%d")  # ValueError when not a date
        return partition


@dataclass(frozen=True)
class ArchiveObject:
    path: str  # storage path: bucket/key on S3, a filesystem path locally
    mtime_ns: int
    partition: Partition


def archive_object(path: str, relative: str, mtime_ns: int) -> ArchiveObject | None:
    """The object at ``path`` (``relative`` to the quotes root) when it is in the archive layout, else None."""
    match = ARCHIVE_OBJECT.fullmatch(relative)
    return ArchiveObject(path, mtime_ns, Partition(*match.groups())) if match else None


@dataclass
class Watermark:
    """What a rollup table has taken from the archive: every object with a modification time after ``mtime_ns``,
    and, at or after it, the objects named in ``paths_at_mark``.

    With ``settle_ns`` 0 (the local rollups), the mark is the newest object's time and the paths are the objects of
    that second. The cloud workflow keeps a settle window: the mark stays ``settle_ns`` behind the newest object and
    every object listed inside the window is remembered by path, so an object that becomes visible late with an
    older time (an upload listed only once complete, whose time is its start) is still new for the next run, while
    objects already taken are not taken again. Both shapes read the same way (``is_new``)."""

    source_interval: str
    mtime_ns: int = -1
    paths_at_mark: list[str] = field(default_factory=list)

    @property
    def is_set(self) -> bool:
        return self.mtime_ns >= 0

    @cached_property
    def _at_mark(self) -> frozenset[str]:  # a set: on S3 thousands of objects can share one second
        return frozenset(self.paths_at_mark)

    def is_new(self, obj: ArchiveObject) -> bool:
        return obj.mtime_ns >= self.mtime_ns and obj.path not in self._at_mark

    def advanced(self, objects: Iterable[ArchiveObject], settle_ns: int = 0) -> Watermark:
        """The mark once ``objects`` are rolled up: the newest time minus ``settle_ns`` (never backwards), with the
        objects at or after it remembered. With a settle window, pass every object listed, not only the new ones
        (an object already taken inside the window must be remembered too)."""
        objects = list(objects)
        if not objects:
            return self
        newest = max(o.mtime_ns for o in objects)
        floor = max(self.mtime_ns, newest - settle_ns)
        at_mark = {o.path for o in objects if o.mtime_ns >= floor}
        if floor == self.mtime_ns:
            at_mark |= set(self.paths_at_mark)
        return Watermark(self.source_interval, floor, sorted(at_mark))

    def to_dict(self) -> dict[str, Any]:
        return {"source_interval": self.source_interval, "mtime_ns": self.mtime_ns,
                "paths_at_mark": self.paths_at_mark, "newest_object_time": iso(self.mtime_ns)}

    @classmethod
    def parse(cls, data: Any, source_interval: str) -> Watermark:
        """A stored watermark; an unusable one, or one of another source interval, is unset (rebuild)."""
        try:
            if data.get("source_interval") != source_interval:
                return cls(source_interval)
            return cls(source_interval, int(data["mtime_ns"]), [str(p) for p in data["paths_at_mark"]])
        except (AttributeError, KeyError, TypeError, ValueError):
            return cls(source_interval)


def iso(mtime_ns: int) -> str | None:
    return datetime.fromtimestamp(mtime_ns / 1e9, UTC).isoformat() if mtime_ns >= 0 else None


def encode_days(partitions: Iterable[Partition]) -> dict[str, list[str]]:
    """``{"BTC-USD": ["2026-11-21", ...]}``: a batch's partitions in ~13 bytes a day, so a plan of thousands of
    partitions (a year of ten pairs) stays far under Step Functions' 256 KB state limit."""
    days: dict[str, list[str]] = {}
    for partition in sorted(set(partitions)):
        days.setdefault(f"{partition.symbol}-{partition.market}", []).append(partition.day)
    return days


def decode_days(days: Mapping[str, Iterable[str]]) -> list[Partition]:
    found = []
    for pair, listed in days.items():
        symbol, _, market = str(pair).partition("-")
        found += [Partition.of({"symbol": symbol, "market": market, "day": day}) for day in listed]
    return sorted(set(found))


def batches(partitions: Iterable[Partition], max_partitions: int) -> list[list[Partition]]:
    """The partitions in batches of at most ``max_partitions``, each month object (pair and month) whole in one
    batch, so two batches never rewrite the same object; months in time order. A month holds at most 31 days, so a
    month group alone always fits when ``max_partitions`` >= 31."""
    if max_partitions < 31:
        raise ValueError(f"at most {max_partitions} partitions per batch: a month needs up to 31")
    months: dict[str, list[Partition]] = {}
    for partition in sorted(set(partitions)):
        months.setdefault(partition.month_key, []).append(partition)
    out: list[list[Partition]] = []
    current: list[Partition] = []
    for key in sorted(months, key=lambda k: (k.rsplit("=", 1)[1], k)):
        if current and len(current) + len(months[key]) > max_partitions:
            out.append(current)
            current = []
        current += months[key]
    return [*out, current] if current else out
