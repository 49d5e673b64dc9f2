"""Incremental rollups: ``rollup_1h`` and ``rollup_1d`` kept as Parquet tables beside the archive.

Each rollup table is Hive-partitioned like the archive (``<rollups>/rollup_1h/symbol=/market=/dt=/part-0.parquet``)
and carries a watermark (``<rollups>/rollup_1h/_watermark.json``): the newest archive object (by modification
time) already rolled up, plus the objects sharing that exact time, since S3 times have one-second resolution.
A run lists the archive, takes the objects past the watermark, and rebuilds only the partitions they fall in,
each from all of that partition's objects with the same named query as Athena runs (``rollup_1h.sql``). A bucket
lies in exactly one partition, so the result always equals a full recompute; with nothing new, nothing is written.
The watermark is saved after the data, so a crash in between only repeats work.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import pyarrow.dataset as pads
import pyarrow.fs as pafs

from analytics.engine import connect, register_quotes
from analytics.location import ArchiveError, ArchiveLocation, resolve_archive
from analytics.named_queries import load_query

ROLLUP_TABLES = ("rollup_1h", "rollup_1d")
WATERMARK_FILE = "_watermark.json"
_PARTITION = re.compile(r"(symbol=[^/]+/market=[^/]+/dt=[^/]+)/[^/_.][^/]*")  # as ArchiveLocation.quotes_glob


@dataclass(frozen=True)
class ArchiveObject:
    path: str  # filesystem path
    mtime_ns: int
    partition: str  # symbol=BTC/market=USD/dt=2026-11-22


@dataclass
class Watermark:
    source_interval: str
    mtime_ns: int = -1
    paths_at_mark: list[str] = field(default_factory=list)

    def is_new(self, obj: ArchiveObject) -> bool:
        return obj.mtime_ns > self.mtime_ns or (obj.mtime_ns == self.mtime_ns and obj.path not in self.paths_at_mark)

    def advanced(self, objects: list[ArchiveObject]) -> Watermark:
        if not objects:
            return self
        newest = max(o.mtime_ns for o in objects)
        if newest < self.mtime_ns:
            return self
        at_mark = {o.path for o in objects if o.mtime_ns == newest}
        if newest == self.mtime_ns:
            at_mark |= set(self.paths_at_mark)
        return Watermark(self.source_interval, newest, sorted(at_mark))


@dataclass
class RollupReport:
    table: str
    mode: str  # incremental | full
    new_objects: int
    partitions_rebuilt: int
    rows_written: int
    watermark: str | None  # ISO time of the newest object rolled up

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def list_archive_objects(location: ArchiveLocation) -> list[ArchiveObject]:
    """Every Parquet object of the archive with its modification time (one recursive listing)."""
    fs = location.filesystem
    root = location.fs_path(location.quotes_root)
    try:
        infos = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
    except OSError as exc:
        raise ArchiveError(f"cannot list the archive at {location.quotes_root}: {str(exc).splitlines()[0]}") from None
    objects = []
    for info in infos:
        relative = info.path[len(root) :].lstrip("/")
        match = _PARTITION.fullmatch(relative) if info.type == pafs.FileType.File else None
        if match:  # only objects in the archive layout (rollups kept inside the root are skipped)
            objects.append(ArchiveObject(info.path, info.mtime_ns or 0, match.group(1)))
    return objects


def _load_watermark(fs: pafs.FileSystem, path: str, source_interval: str) -> Watermark:
    try:
        with fs.open_input_stream(path) as stream:
            data = json.loads(stream.read())
    except (FileNotFoundError, OSError, ValueError):
        return Watermark(source_interval)
    if data.get("source_interval") != source_interval:
        return Watermark(source_interval)  # another source interval: everything must be rebuilt
    return Watermark(source_interval, int(data["mtime_ns"]), list(data["paths_at_mark"]))


def _save_watermark(fs: pafs.FileSystem, path: str, mark: Watermark) -> None:
    body = asdict(mark) | {"newest_object_time": _iso(mark.mtime_ns)}
    with fs.open_output_stream(path) as stream:
        stream.write(json.dumps(body, indent=1).encode())


def _iso(mtime_ns: int) -> str | None:
    return datetime.fromtimestamp(mtime_ns / 1e9, UTC).isoformat() if mtime_ns >= 0 else None


def _rebuild(location: ArchiveLocation, table: str, partitions: list[str], objects: list[ArchiveObject],
             source_interval: str) -> int:
    """Recompute ``partitions`` of ``table`` from all their archive ``objects``; returns rows written."""
    fs = location.filesystem
    table_root = location.fs_path(f"{location.rollups_root}/{table}")
    sql = load_query(table).render({"source_interval": source_interval}, dialect="duckdb")
    con = connect(location.s3)
    try:
        # The listed objects, not a glob: an object landing after the listing waits for the next run.
        register_quotes(con, location, [location.uri(o.path) for o in objects])
        result = con.execute(f"SELECT *, strftime(bucket, '%Y-%m-%d') AS dt FROM ({sql})").arrow()
    finally:
        con.close()
    if hasattr(result, "read_all"):
        result = result.read_all()
    produced = {f"symbol={s}/market={m}/dt={d}" for s, m, d in zip(
        result["symbol"].to_pylist(), result["market"].to_pylist(), result["dt"].to_pylist(), strict=True)}
    for partition in set(partitions) - produced:  # nothing of source_interval left there: drop stale output
        if fs.get_file_info(f"{table_root}/{partition}").type == pafs.FileType.Directory:
            fs.delete_dir(f"{table_root}/{partition}")
    if result.num_rows:
        pads.write_dataset(
            result, table_root, filesystem=fs, format="parquet",
            partitioning=pads.partitioning(result.select(["symbol", "market", "dt"]).schema, flavor="hive"),
            existing_data_behavior="delete_matching", basename_template="part-{i}.parquet",
            max_partitions=max(1024, len(produced)),  # rows arrive sorted by partition: one file each
        )
    return result.num_rows


def run_rollups(archive: str | None = None, *, full: bool = False, rollups: str | None = None,
                endpoint: str | None = None, source_interval: str = "5min") -> list[RollupReport]:
    """Bring every rollup table up to date; ``full`` rebuilds from scratch. One report per table."""
    location = resolve_archive(archive, endpoint, rollups)
    objects = list_archive_objects(location)
    if not objects:
        raise ArchiveError(f"no archive files under {location.quotes_root}")
    fs = location.filesystem
    reports = []
    for table in ROLLUP_TABLES:
        table_root = location.fs_path(f"{location.rollups_root}/{table}")
        mark_path = f"{table_root}/{WATERMARK_FILE}"
        if full:
            fs.delete_dir_contents(table_root, missing_dir_ok=True)
            mark = Watermark(source_interval)
        else:
            mark = _load_watermark(fs, mark_path, source_interval)
        new = [o for o in objects if mark.is_new(o)]
        partitions = sorted({o.partition for o in new})
        rows = 0
        if partitions:
            fs.create_dir(table_root, recursive=True)
            touched = set(partitions)
            rows = _rebuild(location, table, partitions, [o for o in objects if o.partition in touched],
                            source_interval)
            mark = mark.advanced(new)
            _save_watermark(fs, mark_path, mark)
        reports.append(RollupReport(table, "full" if full else "incremental", len(new), len(partitions), rows,
                                    _iso(mark.mtime_ns)))
    return reports
