"""Incremental rollups: ``rollup_1h`` and ``rollup_1d`` kept as Parquet tables beside the archive.

Each rollup table holds one object per pair and UTC month (``<rollups>/rollup_1h/symbol=/market=/month=/
part-0.parquet``) and carries a watermark (``<rollups>/rollup_1h/_watermark.json``): the newest archive object
(by modification time) already rolled up, plus the objects sharing that exact time, since S3 times have one-second
resolution. A run lists the archive once, takes the objects past the watermark, and recomputes only the archive
partitions (pair and day) they fall in, each from all of that partition's objects with the same named query as
Athena runs (``rollup_1h.sql``). A bucket lies in exactly one day, so the result always equals a full recompute; with
nothing new, nothing is written.

Why this shape (it was one object per pair and day, written partition by partition, 8.96 s for a million bars):
- The archive is read once for both tables: the changed partitions' objects go into one DuckDB temporary table,
  holding only the columns the rollup queries use, and both rendered queries run on it as one statement (their
  texts unchanged, joined by UNION ALL), so DuckDB validates and deduplicates the rows once for both (its common
  subplan optimizer shares their identical ``ranked`` CTE): 25-30% less CPU than two statements.
- Month objects, not day objects: a day held 24 hourly rows or a single daily row, so a full rebuild wrote
  thousands of tiny files. A month object is rewritten whole: its rows for the recomputed days are replaced,
  the other days' rows are kept as they were.
- The rendered statements are cached on disk keyed by the SQL files' text (``analytics.rendered``): rendering
  them with sqlglot (0.1 s of CPU, mostly loading its dialects) was half of an incremental day's budget.
- A chunk's month objects are written on a second thread while DuckDB reads and rolls up the next chunk.
- Objects are published whole: written beside their final name and renamed locally (S3 publishes an object
  only when its upload completes), so a crash leaves each month either old or new, never torn.
The watermark is saved after the data, so a crash in between only repeats work. Without a usable watermark
(first run, ``--full``, another source interval) the table is cleared and rebuilt from every partition.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import asdict, dataclass

import duckdb
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from analytics.engine import QUOTES_COLUMNS, connect, quotes_select
from analytics.location import ArchiveError, ArchiveLocation, resolve_archive
from analytics.rendered import rendered_sql
from cryptostream_model.archive import ARCHIVE_COLUMNS
from cryptostream_model.intervals import INTRADAY_INTERVALS, interval_seconds
from cryptostream_model.rollups import ROLLUP_TABLES, WATERMARK_FILE, Watermark, iso

ROLLUP_OBJECT = "part-0.parquet"
_INPUT_TABLE = "rollup_input"  # the changed partitions' archive rows, read once for every table
_CHUNK_ROWS = 300_000  # archive rows read at a time (about 40 MiB in DuckDB)
_PARTITION = re.compile(r"(symbol=[^/]+/market=[^/]+/dt=[^/]+)/[^/_.][^/]*")  # as ArchiveLocation.quotes_glob
_DAY = re.compile(r"symbol=([^/]+)/market=([^/]+)/dt=([^/]+)")
_STRING_LITERAL = re.compile(r"'(?:[^']|'')*'")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class ArchiveObject:
    path: str  # filesystem path
    mtime_ns: int
    partition: str  # symbol=BTC/market=USD/dt=2026-11-22
    size: int = 0  # bytes


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


@dataclass(frozen=True)
class _Plan:
    """What one table's run does: recompute ``partitions`` (all of them when ``rebuild`` is set)."""

    table: str
    table_root: str  # filesystem path
    mark: Watermark
    rebuild: bool
    new: list[ArchiveObject]
    partitions: frozenset[str]


@dataclass(frozen=True)
class _Rows:
    """Rollup rows for some month objects: the columns stored in the objects (symbol, market and month are in
    the path, as Hive partition columns), and each object's table root and key with its number of rows, in the
    rows' order."""

    data: pa.Table
    objects: list[tuple[str, str, int]]


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
            objects.append(ArchiveObject(info.path, info.mtime_ns or 0, match.group(1), info.size or 0))
    return objects


def _load_watermark(fs: pafs.FileSystem, path: str, source_interval: str) -> Watermark:
    """The table's watermark; none, an unreadable one or another source interval's means a rebuild."""
    try:
        with fs.open_input_stream(path) as stream:
            data = json.loads(stream.read())
    except (FileNotFoundError, OSError, ValueError):
        return Watermark(source_interval)
    return Watermark.parse(data, source_interval)


def _save_watermark(fs: pafs.FileSystem, path: str, mark: Watermark) -> None:
    with fs.open_output_stream(path) as stream:
        stream.write(json.dumps(mark.to_dict(), indent=1).encode())


def _plan(location: ArchiveLocation, table: str, objects: list[ArchiveObject], full: bool,
          source_interval: str) -> _Plan:
    table_root = location.fs_path(f"{location.rollups_root}/{table}")
    mark = Watermark(source_interval) if full else _load_watermark(
        location.filesystem, f"{table_root}/{WATERMARK_FILE}", source_interval)
    new = [o for o in objects if mark.is_new(o)]
    return _Plan(table, table_root, mark, not mark.is_set, new, frozenset(o.partition for o in new))


def _month_key(partition: str) -> str:
    """``symbol=BTC/market=USD/dt=2026-11-22`` -> ``symbol=BTC/market=USD/month=2026-11``: the object it lands in."""
    symbol, market, day = _DAY.fullmatch(partition).groups()  # type: ignore[union-attr]
    return f"symbol={symbol}/market={market}/month={day[:7]}"


def _rendered(table: str, source_interval: str) -> str:
    """The named query in DuckDB's dialect over the input table (cached on disk by ``analytics.rendered``)."""
    return rendered_sql(table, {"source_interval": source_interval}, dialect="duckdb",
                        table_names={"quotes": _INPUT_TABLE})


def _input_columns(sqls: Iterable[str]) -> list[str]:
    """The archive columns the rollup statements name, so the temporary table holds nothing else (fewer columns
    read from every object). Names are the statements' words outside string literals (the rendered text has no
    comments; a quoted identifier is still a word): a column is only read where it is named (``q.*`` passes columns
    on, and the rollup's output names each column it keeps), so this can only keep a column too many, never drop
    one a statement reads. A regular expression, not sqlglot's tokenizer: that would load a dialect (0.04 s)."""
    named = {word.lower() for sql in sqls for word in _WORD.findall(_STRING_LITERAL.sub(" ", sql))}
    return [name for name in QUOTES_COLUMNS if name in named] or list(QUOTES_COLUMNS)


def _read_input(con: duckdb.DuckDBPyConnection, location: ArchiveLocation, objects: list[ArchiveObject],
                columns: list[str]) -> None:
    """The listed objects (not a glob: an object landing after the listing waits for the next run) as one table,
    read in one statement (a view over them would read every object's footer again at each use).

    Without ``union_by_name`` when the first object holds the read columns in the archive's own types: reading every
    footer up front to unify schemas is 15% of the read. DuckDB then takes the first object's types and casts the
    others' to them: an object lacking a column refuses the scan (a binder or "schema mismatch" error), text where a
    number belongs refuses it (a conversion error), and integers become doubles exactly. Anything else, or any
    refusal, reads again unifying the schemas (the first object's types decide alone, so an integer first would
    truncate later doubles: hence the check)."""
    uris = [location.uri(o.path) for o in objects]
    names = ", ".join(f'"{name}"' for name in columns)
    if _archive_types(con, uris[0], columns):
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {_INPUT_TABLE} AS SELECT {names} FROM "
                        f"({quotes_select(location, uris, union_by_name=False)})")
            return
        except (duckdb.BinderException, duckdb.InvalidInputException, duckdb.ConversionException):
            pass
    con.execute(f"CREATE OR REPLACE TEMP TABLE {_INPUT_TABLE} AS SELECT {names} FROM ({quotes_select(location, uris)})")


_DUCKDB_TYPES = {"double": {"DOUBLE"}, "string": {"VARCHAR"}, "int": {"INTEGER", "BIGINT"},
                 "timestamp": {"TIMESTAMP", "TIMESTAMP WITH TIME ZONE"}}


def _archive_types(con: duckdb.DuckDBPyConnection, uri: str, columns: list[str]) -> bool:
    """Whether the object holds each of ``columns`` that is a file column in the archive contract's type."""
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM read_parquet({_literal(uri)})").fetchall()
        found = {row[0]: row[1] for row in described}
    except duckdb.Error:
        return False
    return all(found.get(name) in _DUCKDB_TYPES[kind] for name, kind in ARCHIVE_COLUMNS if name in columns)


def _same_columns(con: duckdb.DuckDBPyConnection, sqls: list[str]) -> bool:
    """Whether the statements give the same columns (names and types, in order): only then can they run as one."""
    shapes = [con.execute(f"DESCRIBE {sql}").fetchall() for sql in sqls]
    return all(shape == shapes[0] for shape in shapes)


def _fresh_rows(con: duckdb.DuckDBPyConnection, sqls: list[str], together: bool) -> None:
    """``rollup_fresh``: every statement's rows tagged with its index (``rollup_table``) and month. Run as one
    statement (``together``), DuckDB computes their common part once (both rollups validate and deduplicate the
    same rows: the ``ranked`` CTE, identical in both); the text of each statement is unchanged."""
    parts = [f"SELECT {index} AS rollup_table, *, strftime(bucket, '%Y-%m') AS month FROM ({sql})"
             for index, sql in enumerate(sqls)]
    if together:
        con.execute(f"CREATE OR REPLACE TEMP TABLE rollup_fresh AS {' UNION ALL '.join(parts)}")
        return
    con.execute(f"CREATE OR REPLACE TEMP TABLE rollup_fresh AS {parts[0]}")
    for part in parts[1:]:
        con.execute(f"INSERT INTO rollup_fresh BY NAME {part}")


def _recompute(con: duckdb.DuckDBPyConnection, location: ArchiveLocation, group: list[_Plan],
               partitions: frozenset[str], sqls: list[str], together: bool) -> tuple[_Rows, list[int]]:
    """The group's tables' rows for every month object ``partitions`` touch, sorted by table, object and bucket, and
    how many of each table's were recomputed. Rows of days not recomputed come from the month objects as they are."""
    _fresh_rows(con, sqls, together)
    counted = dict(con.execute("SELECT rollup_table, count(*) FROM rollup_fresh GROUP BY ALL").fetchall())
    recomputed = [counted.get(index, 0) for index in range(len(group))]
    rows = "SELECT * FROM rollup_fresh"
    days_listed = False
    for index, plan in enumerate(group):
        if plan.rebuild:
            continue
        months = sorted({_month_key(p) for p in partitions})
        paths = [f"{plan.table_root}/{m}/{ROLLUP_OBJECT}" for m in months]
        existing = [location.uri(i.path) for i in location.filesystem.get_file_info(paths)
                    if i.type == pafs.FileType.File]
        if not existing:
            continue
        if not days_listed:
            days = [_DAY.fullmatch(p).groups() for p in sorted(partitions)]  # type: ignore[union-attr]
            # Literals, not parameters or an Arrow table: binding either makes DuckDB import pandas (seconds).
            values = ", ".join(f"({_literal(a)}, {_literal(b)}, {_literal(c)})" for a, b, c in days)
            con.execute(f"CREATE OR REPLACE TEMP TABLE rollup_recomputed_days (symbol, market, dt) AS VALUES {values}")
            days_listed = True
        listed = "[" + ", ".join(_literal(uri) for uri in existing) + "]"
        rows += (
            f" UNION ALL BY NAME SELECT {index} AS rollup_table, kept.* FROM read_parquet("
            f"{listed}, hive_partitioning = true, hive_types_autocast = false) AS kept"
            " ANTI JOIN rollup_recomputed_days AS d ON kept.symbol = d.symbol AND kept.market = d.market"
            " AND strftime(kept.bucket, '%Y-%m-%d') = d.dt"
        )
    con.execute(f"CREATE OR REPLACE TEMP TABLE rollup_out AS {rows}")
    # Counts per object in the rows' order (month follows bucket), so the Arrow rows can be sliced without
    # pyarrow's group_by, which imports pandas.
    counts = con.execute(
        "SELECT rollup_table, symbol, market, month, count(*) FROM rollup_out GROUP BY ALL ORDER BY ALL").fetchall()
    result = con.execute(
        "SELECT * EXCLUDE (rollup_table, symbol, market, month) FROM rollup_out"
        " ORDER BY rollup_table, symbol, market, bucket")
    data = result.arrow()
    data = data.read_all() if hasattr(data, "read_all") else data
    objects = [(group[t].table_root, f"symbol={s}/market={m}/month={mo}", n) for t, s, m, mo, n in counts]
    return _Rows(data, objects), recomputed


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _write_months(location: ArchiveLocation, table_roots: Iterable[str], rows: _Rows, months: Iterable[str]) -> None:
    """Write one object per (table, month key) in ``rows``; delete the objects of ``months`` in ``table_roots`` left
    without rows (nothing of the source interval there any more)."""
    fs = location.filesystem
    start = 0
    written = set()
    for table_root, key, count in rows.objects:
        _publish(fs, f"{table_root}/{key}", rows.data.slice(start, count), local=not location.is_s3)
        written.add((table_root, key))
        start += count
    for table_root in table_roots:
        for key in sorted(set(months)):
            emptied = f"{table_root}/{key}"
            if (table_root, key) not in written and fs.get_file_info(emptied).type == pafs.FileType.Directory:
                fs.delete_dir(emptied)


def _publish(fs: pafs.FileSystem, directory: str, rows: pa.Table, local: bool) -> None:
    fs.create_dir(directory, recursive=True)
    final = f"{directory}/{ROLLUP_OBJECT}"
    if not local:  # an S3 object appears only once its upload completes
        pq.write_table(rows, final, filesystem=fs)
        return
    staged = f"{directory}/.{ROLLUP_OBJECT}.tmp"  # hidden from readers (Hive skips . names)
    pq.write_table(rows, staged, filesystem=fs)
    fs.move(staged, final)  # a rename: readers see the old object or the new one


def _chunks(partitions: frozenset[str], source_interval: str) -> list[frozenset[str]]:
    """The partitions in chunks of whole month objects (pair and month) of about ``_CHUNK_ROWS`` bars, in order:
    memory stays one chunk's rows, and each chunk still spans a few of DuckDB's row groups, so both cores work."""
    per_day = 86_400 // interval_seconds(source_interval) if source_interval in INTRADAY_INTERVALS else 288
    objects: dict[str, set[str]] = {}
    for partition in sorted(partitions):
        objects.setdefault(_month_key(partition), set()).add(partition)
    chunks: list[frozenset[str]] = []
    current: set[str] = set()
    for key in sorted(objects, key=lambda k: (k.rsplit("=", 1)[1], k)):  # month first: chunks follow time
        current |= objects[key]
        if len(current) * per_day >= _CHUNK_ROWS:
            chunks.append(frozenset(current))
            current = set()
    return [*chunks, frozenset(current)] if current else chunks


def _connect(location: ArchiveLocation) -> duckdb.DuckDBPyConnection:
    con = connect(location.s3)
    con.execute("SET preserve_insertion_order = false")  # every result is ordered explicitly
    con.execute("SET enable_external_file_cache = false")  # it kept every archive object read: 256 MiB per 1M bars
    return con


def run_rollups(archive: str | None = None, *, full: bool = False, rollups: str | None = None,
                endpoint: str | None = None, source_interval: str = "5min") -> list[RollupReport]:
    """Bring every rollup table up to date; ``full`` rebuilds from scratch. One report per table."""
    location = resolve_archive(archive, endpoint, rollups)
    objects = list_archive_objects(location)
    if not objects:
        raise ArchiveError(f"no archive files under {location.quotes_root}")
    fs = location.filesystem
    plans = [_plan(location, table, objects, full, source_interval) for table in ROLLUP_TABLES]
    results: dict[str, tuple[int, Watermark]] = {}
    con = None
    try:
        # Tables needing the same partitions (the usual case: they move together) share each read of the archive.
        for partitions in dict.fromkeys(p.partitions for p in plans if p.partitions):
            group = [p for p in plans if p.partitions == partitions]
            sqls = [_rendered(p.table, source_interval) for p in group]
            con = con or _connect(location)
            for plan in group:
                if plan.rebuild:
                    fs.delete_dir_contents(plan.table_root, missing_dir_ok=True)
            recomputed = dict.fromkeys((p.table for p in group), 0)
            columns = _input_columns(sqls)
            together = None
            chunks = _chunks(partitions, source_interval)
            # A chunk's objects are written while DuckDB reads and rolls up the next one (pyarrow's writer and
            # DuckDB both release the GIL); one write in flight, so memory stays about one chunk's rows.
            with ThreadPoolExecutor(max_workers=1) if len(chunks) > 1 else nullcontext() as writer:
                writing: Future[None] | None = None
                for chunk in chunks:
                    _read_input(con, location, [o for o in objects if o.partition in chunk], columns)
                    if together is None:
                        together = len(sqls) > 1 and _same_columns(con, sqls)
                    rows, counts = _recompute(con, location, group, chunk, sqls, together)
                    for plan, count in zip(group, counts, strict=True):
                        recomputed[plan.table] += count
                    if writing is not None:
                        writing.result()
                    write = (location, [p.table_root for p in group], rows, {_month_key(p) for p in chunk})
                    if writer is None:
                        _write_months(*write)
                    else:
                        writing = writer.submit(_write_months, *write)
                if writing is not None:
                    writing.result()
            for plan in group:
                mark = plan.mark.advanced(plan.new)
                fs.create_dir(plan.table_root, recursive=True)
                _save_watermark(fs, f"{plan.table_root}/{WATERMARK_FILE}", mark)
                results[plan.table] = (recomputed[plan.table], mark)
    except duckdb.IOException as exc:
        raise ArchiveError(f"cannot read the archive: {str(exc).splitlines()[0]}") from None
    finally:
        if con is not None:
            con.close()
    reports = []
    for plan in plans:
        rows_written, mark = results.get(plan.table, (0, plan.mark))
        reports.append(RollupReport(plan.table, "full" if plan.rebuild else "incremental", len(plan.new),
                                    len(plan.partitions), rows_written, iso(mark.mtime_ns)))
    return reports
