"""Archive compaction: a closed day's many small objects per pair become one object, with every row kept.

Firehose writes one object per partition (pair and UTC day) each time its buffer flushes: every 15 minutes, 96
objects a pair a day, a few kilobytes each. Reading an object costs about as much as reading its rows (a GET in
Athena, a footer and a reader in DuckDB), so raw-archive queries and full rollups slow down and cost more with every
day kept. ``compact`` rewrites each closed partition holding two or more objects as one ``compacted-<hash>.parquet``
object and deletes the objects it replaces. Nothing is deduplicated or dropped: the archive stays at-least-once
(duplicates and poison included; the queries rank copies themselves), rows are ordered by time.

Safe to stop at any point, and to run beside readers and writers:
- The new object is published whole (a local rename; S3 shows an object once its upload completes) and names its
  source objects in its Parquet metadata (``cryptostream.compacted_from``). Rows and a content fingerprint are
  checked against the sources before any source is deleted.
- Until the sources are deleted, a reader sees each row twice; every query that aggregates ranks the copies of a
  bar and keeps one (``ranked_quotes``), so results do not change (``data_quality`` counts the extra copies).
- A run stopped after publishing and before deleting leaves sources that a compacted object names: the next run
  deletes them (checking the fingerprint again while all of them remain) instead of compacting their rows twice.
- Only the objects listed are read and deleted: an object arriving meanwhile (a late or replayed bar) stays, and a
  later run compacts it with the compacted object.
- A rollup sees the compacted object as new and recomputes its partition from the same rows: the same result.
Only partitions of days before ``before`` (default: yesterday, UTC) are touched, so Firehose's open buffers never
race a compaction of the current day.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta

import duckdb
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from analytics.engine import connect
from analytics.location import ArchiveError, ArchiveLocation, delete_objects, resolve_archive
from analytics.rollups import ArchiveObject, list_archive_objects
from cryptostream_model.archive import ARCHIVE_COLUMNS

COMPACTED_PREFIX = "compacted-"
SOURCES_KEY = b"cryptostream.compacted_from"
# The archive's Parquet schema (local/archive_writer.py writes the same; tests check they agree): naive UTC
# microsecond timestamps, as the Glue table's ``timestamp``.
_ARROW_TYPES = {"int": pa.int32(), "string": pa.string(), "double": pa.float64(), "timestamp": pa.timestamp("us")}
ARCHIVE_ARROW_SCHEMA = pa.schema([pa.field(name, _ARROW_TYPES[kind]) for name, kind in ARCHIVE_COLUMNS])
_DUCKDB_TYPES = {"int": "INTEGER", "string": "VARCHAR", "double": "DOUBLE", "timestamp": "TIMESTAMP"}


class PartitionRefused(ArchiveError):
    """A partition compaction leaves as it is (the others go on): its rows would not survive the rewrite whole."""


@dataclass
class PartitionWork:
    """What compaction does in one partition: read ``sources`` into one object; delete ``leftovers``, objects a
    compacted object already holds (a run stopped before deleting them)."""

    partition: str  # symbol=BTC/market=USD/dt=2026-11-22
    directory: str  # filesystem path of the partition
    sources: list[ArchiveObject] = field(default_factory=list)
    leftovers: list[ArchiveObject] = field(default_factory=list)
    holder: str | None = None  # the compacted object naming the leftovers
    held: set[str] = field(default_factory=set)  # every name the holder records (read once, by the plan)

    @property
    def compacts(self) -> bool:
        return len(self.sources) >= 2


@dataclass
class CompactionReport:
    partitions: int = 0  # partitions compacted
    objects_read: int = 0
    objects_deleted: int = 0  # sources and leftovers
    leftovers_deleted: int = 0
    rows: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    dry_run: bool = False
    before: str = ""
    refused: list[str] = field(default_factory=list)  # PartitionRefused messages: left as they were

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @property
    def line(self) -> str:
        leftovers = f"; {self.leftovers_deleted} objects a stopped run left" if self.leftovers_deleted else ""
        if self.dry_run:
            return (f"would compact {self.partitions} partitions before {self.before}: {self.objects_read} objects "
                    f"({self.bytes_before:,} bytes) into {self.partitions}{leftovers and leftovers + ' to delete'}")
        refused = f"; {len(self.refused)} partitions refused" if self.refused else ""
        return (f"compacted {self.partitions} partitions before {self.before}: {self.objects_read} objects into "
                f"{self.partitions}, {self.rows:,} rows, {self.bytes_before:,} -> {self.bytes_after:,} bytes"
                f"{leftovers and leftovers + ' deleted'}{refused}")


def default_before(now: datetime | None = None) -> date:
    """Yesterday (UTC): a partition of an earlier day gets no new object from Firehose's buffers."""
    return ((now or datetime.now(UTC)).astimezone(UTC) - timedelta(days=1)).date()


def _basename(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _sources_of(fs: pafs.FileSystem, path: str) -> set[str]:
    """The source object names a compacted object records. One that cannot be read stops the run: taken for an
    ordinary object, it would be compacted again with the sources it already holds (their rows twice)."""
    try:
        with fs.open_input_file(path) as handle:
            metadata = pq.read_schema(handle).metadata or {}
        return set(json.loads(metadata.get(SOURCES_KEY, b"[]")))
    except (OSError, pa.ArrowInvalid, ValueError) as exc:
        raise ArchiveError(f"cannot read which objects {path} holds ({str(exc).splitlines()[0]}); nothing done in "
                           "its partition, run again") from None


def plan(location: ArchiveLocation, before: date, pair: str | None = None) -> list[PartitionWork]:
    """The partitions of days before ``before`` (of ``pair`` only, if given) with something to do."""
    wanted = None
    if pair:
        symbol, _, market = pair.upper().partition("-")
        wanted = f"symbol={symbol}/market={market}/"
    by_partition: dict[str, list[ArchiveObject]] = {}
    for found in list_archive_objects(location):
        day = found.partition.rsplit("dt=", 1)[-1]
        if day < before.isoformat() and (wanted is None or found.partition.startswith(wanted)):
            by_partition.setdefault(found.partition, []).append(found)
    work = []
    fs = location.filesystem
    for partition, objects in sorted(by_partition.items()):
        directory = objects[0].path.rsplit("/", 1)[0]
        item = PartitionWork(partition, directory)
        names = {_basename(o.path) for o in objects}
        for found in objects:
            if _basename(found.path).startswith(COMPACTED_PREFIX):
                named = _sources_of(fs, found.path)
                if named & names:
                    item.held |= named
                    item.holder = found.path
        for found in sorted(objects, key=lambda o: o.path):
            (item.leftovers if _basename(found.path) in item.held else item.sources).append(found)
        if item.compacts or item.leftovers:
            work.append(item)
    return work


# The objects' types that become the archive's own without losing anything; any other type (a newer record's
# nanosecond timestamps, a wider integer, text where a number belongs) stops the partition.
_LOSSLESS = {
    "int": {"TINYINT", "SMALLINT", "INTEGER", "UTINYINT", "USMALLINT"},
    "string": {"VARCHAR"},
    "double": {"DOUBLE", "FLOAT", "TINYINT", "SMALLINT", "INTEGER", "UTINYINT", "USMALLINT", "UINTEGER"},
    "timestamp": {"TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_S", "TIMESTAMP_MS", "DATE"},
}


def _select(location: ArchiveLocation, con: duckdb.DuckDBPyConnection, paths: list[str]) -> str:
    """The objects' rows in the archive's columns and types; a column no object has is NULL (an older record).
    ArchiveError when the objects hold a column the contract does not, or one in a type that would not convert
    without loss: the compacted object would lose it, and the sources would be deleted."""
    listed = "[" + ", ".join("'" + location.uri(p).replace("'", "''") + "'" for p in paths) + "]"
    source = f"read_parquet({listed}, union_by_name = true, hive_partitioning = false)"
    described = {row[0]: row[1] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
    kinds = dict(ARCHIVE_COLUMNS)
    unknown = sorted(set(described) - set(kinds))
    lossy = sorted(f"{name} {kind}" for name, kind in described.items()
                   if name in kinds and kind not in _LOSSLESS[kinds[name]])  # fmt: skip
    if unknown or lossy:
        where = paths[0].rsplit("/", 1)[0]
        parts = []
        if unknown:
            parts.append(f"columns the contract does not have: {', '.join(unknown)}")
        if lossy:
            parts.append(f"types that would lose values: {', '.join(lossy)}")
        detail = "; ".join(parts)
        raise PartitionRefused(f"{where} not compacted, nothing deleted: its objects hold {detail} (a newer "
                               "record version? compact with the version that wrote them)")
    present = set(described)
    columns = ", ".join(
        (f'CAST("{name}" AS {_DUCKDB_TYPES[kind]})' if name in present else f"CAST(NULL AS {_DUCKDB_TYPES[kind]})")
        + f' AS "{name}"' for name, kind in ARCHIVE_COLUMNS)
    return f"SELECT {columns} FROM {source}"


def _fingerprint(con: duckdb.DuckDBPyConnection, select: str) -> tuple[int, int]:
    """Rows and an order-free hash of their contents: equal for the same multiset of rows."""
    names = ", ".join(f'"{name}"' for name, _ in ARCHIVE_COLUMNS)
    rows, digest = con.execute(f"SELECT count(*), coalesce(sum(hash({names})), 0) FROM ({select})").fetchone()
    return int(rows), int(digest)


def _name(sources: list[ArchiveObject]) -> str:
    digest = hashlib.sha256("\n".join(sorted(_basename(o.path) for o in sources)).encode()).hexdigest()[:20]
    return f"{COMPACTED_PREFIX}{digest}.parquet"


def _publish(location: ArchiveLocation, directory: str, name: str, table: pa.Table) -> str:
    fs = location.filesystem
    final = f"{directory}/{name}"
    if location.is_s3:  # an S3 object appears only once its upload completes
        pq.write_table(table, final, filesystem=fs, compression="snappy")
        return final
    staged = f"{directory}/.{name}.tmp"  # hidden from readers (Hive skips . names)
    pq.write_table(table, staged, filesystem=fs, compression="snappy")
    fs.move(staged, final)
    return final


def _delete(location: ArchiveLocation, paths: list[str]) -> None:
    delete_objects(location, paths)


def _compact_partition(location: ArchiveLocation, con: duckdb.DuckDBPyConnection, work: PartitionWork,
                       report: CompactionReport) -> None:
    fs = location.filesystem
    if work.leftovers and work.holder:
        if work.held == {_basename(o.path) for o in work.leftovers}:  # every source still there: check, then delete
            held = _fingerprint(con, _select(location, con, [work.holder]))
            if held != _fingerprint(con, _select(location, con, [o.path for o in work.leftovers])):
                raise ArchiveError(f"{work.holder} does not hold the rows of the objects it names; nothing deleted")
        _delete(location, [o.path for o in work.leftovers])  # some were deleted: a checked run was deleting them
        report.leftovers_deleted += len(work.leftovers)
        report.objects_deleted += len(work.leftovers)
    if not work.compacts:
        return
    paths = [o.path for o in work.sources]
    con.execute(f"CREATE OR REPLACE TEMP TABLE compaction_rows AS {_select(location, con, paths)}")  # read once
    expected = _fingerprint(con, "SELECT * FROM compaction_rows")
    table = con.execute("SELECT * FROM compaction_rows ORDER BY ts, fetched_at").arrow()
    table = table.read_all() if hasattr(table, "read_all") else table
    metadata = {SOURCES_KEY: json.dumps(sorted(_basename(p) for p in paths)).encode()}
    table = table.cast(ARCHIVE_ARROW_SCHEMA).replace_schema_metadata(metadata)
    written = _publish(location, work.directory, _name(work.sources), table)
    if _fingerprint(con, _select(location, con, [written])) != expected:
        fs.delete_file(written)
        raise ArchiveError(f"the compacted object for {work.partition} did not read back as its sources; "
                           "nothing deleted")
    _delete(location, paths)
    report.partitions += 1
    report.objects_read += len(paths)
    report.objects_deleted += len(paths)
    report.rows += expected[0]
    report.bytes_after += fs.get_file_info(written).size or 0


def compact(archive: str | None = None, *, endpoint: str | None = None, before: date | None = None,
            pair: str | None = None, dry_run: bool = False,
            progress: Callable[[int, int], None] | None = None) -> CompactionReport:
    """Compact every closed partition with two or more objects; ``progress(done, total)`` after each partition."""
    location = resolve_archive(archive, endpoint)
    before = before or default_before()
    work = plan(location, before, pair)
    report = CompactionReport(dry_run=dry_run, before=before.isoformat())
    if dry_run:
        for item in work:
            report.partitions += item.compacts
            report.objects_read += len(item.sources) if item.compacts else 0
            report.leftovers_deleted += len(item.leftovers)
            report.bytes_before += sum(o.size for o in item.sources) if item.compacts else 0
        return report
    con = connect(location.s3)
    try:
        for done, item in enumerate(work, 1):
            try:
                _compact_partition(location, con, item, report)
            except PartitionRefused as refusal:
                report.refused.append(str(refusal))
            else:
                if item.compacts:
                    report.bytes_before += sum(o.size for o in item.sources)
            if progress:
                progress(done, len(work))
    except duckdb.IOException as exc:
        raise ArchiveError(f"cannot read the archive: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()
    return report
