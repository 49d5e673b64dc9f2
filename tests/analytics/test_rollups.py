"""Incremental rollups: only partitions with new objects are rebuilt, reruns change nothing, and the result
always equals a full recompute and the plain-Python answer."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analytics import rollups
from analytics.engine import QUOTES_COLUMNS
from analytics.location import resolve_archive
from analytics.named_queries import QueryError
from analytics.rollups import run_rollups
from local.archive_writer import write_archive_objects
from tests.analytics import reference
from tests.analytics.test_queries import assert_rows_equal
from tests.fixtures.archive.builder import FixtureArchive, iso


def read_rollup(rollups: Path, table: str) -> list[dict]:
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    cursor = con.execute(
        f"SELECT symbol, market, bucket, open, high, low, close, volume, bars FROM read_parquet("
        f"'{rollups}/{table}/symbol=*/market=*/month=*/*.parquet', hive_partitioning=true, hive_types_autocast=false)"
        " ORDER BY symbol, market, bucket")
    names = [c[0] for c in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def snapshot(rollups: Path) -> dict[str, tuple[int, bytes]]:
    return {str(p): (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(rollups.rglob("*")) if p.is_file()}


def new_bars(day: datetime, symbol: str = "BTC", count: int = 24) -> list[dict]:
    rows = []
    for i in range(count):
        ts = day + timedelta(minutes=5 * i)
        price = 68000.0 + i
        rows.append({"v": 1, "source": "alphavantage", "symbol": symbol, "market": "USD", "interval": "5min",
                     "ts": iso(ts), "open": price, "high": price + 5, "low": price - 5, "close": price + 1,
                     "volume": 1.0 + i, "fetched_at": iso(ts + timedelta(minutes=6))})
    return rows


def bump_mtimes(root: Path, seconds: int) -> None:
    """Objects written now must look newer than everything before (filesystem clocks are coarse)."""
    for path in root.rglob("*.parquet"):
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + seconds * 1_000_000_000))


@pytest.mark.parametrize("table, unit", [("rollup_1h", "hour"), ("rollup_1d", "day")])
def test_first_run_equals_python(fresh_archive: FixtureArchive, table: str, unit: str) -> None:
    reports = {r.table: r for r in run_rollups(str(fresh_archive.root))}
    assert reports[table].partitions_rebuilt == 6  # every archive partition: 3 pairs x 2 days
    expected = reference.rollup(fresh_archive.rows, unit, misfiled=fresh_archive.misfiled)
    assert_rows_equal(read_rollup(fresh_archive.root / "rollups", table), expected)


def test_rerun_without_new_data_changes_nothing(fresh_archive: FixtureArchive) -> None:
    run_rollups(str(fresh_archive.root))
    before = snapshot(fresh_archive.root / "rollups")
    reports = run_rollups(str(fresh_archive.root))
    assert [(r.new_objects, r.partitions_rebuilt, r.rows_written) for r in reports] == [(0, 0, 0), (0, 0, 0)]
    assert snapshot(fresh_archive.root / "rollups") == before


def test_new_objects_rebuild_only_their_partitions_and_equal_full_recompute(fresh_archive: FixtureArchive,
                                                                            tmp_path: Path) -> None:
    root = fresh_archive.root
    run_rollups(str(root))
    untouched = root / "rollups" / "rollup_1h" / "symbol=ETH" / "market=USD" / "month=2026-11" / "part-0.parquet"
    untouched_mtime = untouched.stat().st_mtime_ns
    bump_mtimes(root / "quotes", -10)
    # A late redelivery with a revised close into an old partition, and a new day for BTC.
    late = dict(next(r for r in fresh_archive.rows if r["symbol"] == "BTC" and r["ts"] == "2026-11-21T21:55:00Z"))
    late.update(close=late["low"], fetched_at="2026-11-22T09:00:00Z")
    added = [late, *new_bars(datetime(2026, 11, 23, tzinfo=UTC))]
    write_archive_objects(added, str(root), object_name="quotes-late")
    reports = {r.table: r for r in run_rollups(str(root))}
    assert reports["rollup_1h"].new_objects == 2 and reports["rollup_1h"].partitions_rebuilt == 2
    assert untouched.stat().st_mtime_ns == untouched_mtime  # ETH was not touched

    everything = fresh_archive.rows + added
    full_rollups = tmp_path / "full"
    run_rollups(str(root), full=True, rollups=str(full_rollups))
    for table, unit in (("rollup_1h", "hour"), ("rollup_1d", "day")):
        incremental = read_rollup(root / "rollups", table)
        assert incremental == read_rollup(full_rollups, table)
        assert_rows_equal(incremental, reference.rollup(everything, unit, misfiled=fresh_archive.misfiled))
    revised = [r for r in read_rollup(root / "rollups", "rollup_1h")
               if r["symbol"] == "BTC" and r["bucket"] == datetime(2026, 11, 21, 21)]
    assert revised[0]["close"] == late["close"]  # the revised last bar of the hour wins


def test_objects_with_the_same_time_as_the_watermark_are_not_missed(fresh_archive: FixtureArchive) -> None:
    root = fresh_archive.root
    stamp = 1_700_000_000 * 1_000_000_000
    for path in (root / "quotes").rglob("*.parquet"):
        os.utime(path, ns=(stamp, stamp))  # S3-like one-second resolution: everything at one time
    run_rollups(str(root))
    [path] = write_archive_objects(new_bars(datetime(2026, 11, 24, tzinfo=UTC), "ETH"), str(root), object_name="x")
    os.utime(path, ns=(stamp, stamp))
    reports = run_rollups(str(root))
    assert [r.new_objects for r in reports] == [1, 1]
    assert any(r["bucket"].day == 24 for r in read_rollup(root / "rollups", "rollup_1d"))
    assert [r.new_objects for r in run_rollups(str(root))] == [0, 0]


def test_another_source_interval_rebuilds_everything(fresh_archive: FixtureArchive) -> None:
    run_rollups(str(fresh_archive.root))
    reports = run_rollups(str(fresh_archive.root), source_interval="1min")
    assert all(r.partitions_rebuilt == 6 for r in reports)
    assert_rows_equal(read_rollup(fresh_archive.root / "rollups", "rollup_1h"),
                      reference.rollup(fresh_archive.rows, "hour", interval="1min"))


def test_rollup_of_a_missing_or_empty_archive_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(QueryError, match="archive directory not found"):
        run_rollups(str(tmp_path / "missing"))
    with pytest.raises(QueryError, match="no archive files"):
        run_rollups(str(tmp_path))


def test_objects_without_extension_count_and_hidden_files_do_not(fresh_archive: FixtureArchive) -> None:
    """Firehose writes Parquet objects without an extension unless configured; Hive hides _ and . names."""
    root = fresh_archive.root
    [path] = write_archive_objects(new_bars(datetime(2026, 11, 25, tzinfo=UTC)), str(root), object_name="fh")
    Path(path).rename(path.removesuffix(".parquet"))
    (Path(path).parent / "_SUCCESS").write_text("")
    (Path(path).parent / ".part.tmp").write_text("partial")
    reports = run_rollups(str(root))
    assert [r.partitions_rebuilt for r in reports] == [7, 7]
    daily = [r for r in read_rollup(root / "rollups", "rollup_1d") if r["bucket"].day == 25]
    assert [(r["symbol"], r["bars"]) for r in daily] == [("BTC", 24)]


def test_one_object_per_pair_and_month_read_in_chunks_equals_python(fresh_archive: FixtureArchive,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks as small as one month object each give the same rows; the tables hold one object per pair and month."""
    monkeypatch.setattr("analytics.rollups._CHUNK_ROWS", 1)
    run_rollups(str(fresh_archive.root))
    for table, unit in (("rollup_1h", "hour"), ("rollup_1d", "day")):
        expected = reference.rollup(fresh_archive.rows, unit, misfiled=fresh_archive.misfiled)
        assert_rows_equal(read_rollup(fresh_archive.root / "rollups", table), expected)
        objects = sorted(p.relative_to(fresh_archive.root / "rollups" / table).as_posix()
                         for p in (fresh_archive.root / "rollups" / table).rglob("*.parquet"))
        pairs = sorted({(r["symbol"], r["market"]) for r in expected})
        assert objects == [f"symbol={s}/market={m}/month=2026-11/part-0.parquet" for s, m in pairs]


def test_a_day_left_without_valid_rows_loses_its_rows_and_the_month_keeps_the_others(
        fresh_archive: FixtureArchive) -> None:
    """Rebuilding a month object replaces only the recomputed days: a day whose bars moved to another interval
    loses its rows, the month's other days stay."""
    root = fresh_archive.root
    run_rollups(str(root))
    bump_mtimes(root / "quotes", -10)
    before = read_rollup(root / "rollups", "rollup_1d")
    day = datetime(2026, 11, 23, tzinfo=UTC)
    write_archive_objects(new_bars(day, "ETH"), str(root), object_name="d23")
    run_rollups(str(root))
    assert [r for r in read_rollup(root / "rollups", "rollup_1d") if r["bucket"].day != 23] == before
    for path in (root / "quotes" / "symbol=ETH" / "market=USD" / "dt=2026-11-23").iterdir():
        path.unlink()  # replaced by bars of another interval: nothing of 5min is left that day
    bump_mtimes(root / "quotes", -10)
    write_archive_objects([dict(r, interval="1min") for r in new_bars(day, "ETH")], str(root), object_name="m1")
    reports = run_rollups(str(root))
    assert [r.partitions_rebuilt for r in reports] == [1, 1]
    assert read_rollup(root / "rollups", "rollup_1d") == before


def test_the_tables_computed_in_one_statement_equal_each_computed_alone(fresh_archive: FixtureArchive,
                                                                        tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Both rollups run as one DuckDB statement (their common part computed once); run one by one, they give the
    same rows, incrementally too."""
    root = fresh_archive.root
    statements: list[str] = []
    fresh_rows, same_columns = rollups._fresh_rows, rollups._same_columns

    def recording(con: duckdb.DuckDBPyConnection, sqls: list[str], together: bool) -> None:
        statements.append("together" if together else "alone")
        fresh_rows(con, sqls, together)

    monkeypatch.setattr(rollups, "_fresh_rows", recording)
    run_rollups(str(root))
    alone = tmp_path / "alone"
    monkeypatch.setattr(rollups, "_same_columns", lambda con, sqls: False)
    run_rollups(str(root), rollups=str(alone))
    assert statements == ["together", "alone"]
    for table in rollups.ROLLUP_TABLES:
        assert read_rollup(root / "rollups", table) == read_rollup(alone, table)
    bump_mtimes(root / "quotes", -10)
    write_archive_objects(new_bars(datetime(2026, 11, 23, tzinfo=UTC), "ETH"), str(root), object_name="d23")
    run_rollups(str(root), rollups=str(alone))  # still alone
    monkeypatch.setattr(rollups, "_same_columns", same_columns)
    run_rollups(str(root))
    assert statements == ["together", "alone", "alone", "together"]
    for table in rollups.ROLLUP_TABLES:
        assert read_rollup(root / "rollups", table) == read_rollup(alone, table)


def test_statements_with_other_columns_are_not_run_as_one() -> None:
    con = duckdb.connect()
    assert rollups._same_columns(con, ["SELECT 1 AS a, 'x' AS b", "SELECT 2 AS a, 'y' AS b"])
    assert not rollups._same_columns(con, ["SELECT 1 AS a, 'x' AS b", "SELECT 'x' AS b, 1 AS a"])
    assert not rollups._same_columns(con, ["SELECT 1 AS a", "SELECT 1.5 AS a"])


def _object(root: Path, name: str, columns: dict[str, pa.Array]) -> rollups.ArchiveObject:
    directory = root / "quotes" / "symbol=BTC" / "market=USD" / "dt=2026-11-22"
    directory.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), directory / name)
    return rollups.ArchiveObject(str(directory / name), 0, "symbol=BTC/market=USD/dt=2026-11-22")


def _bars(volumes: pa.Array, fetched: bool = True) -> dict[str, pa.Array]:
    count = len(volumes)
    ts = pa.array([datetime(2026, 11, 22, 0, 5 * i) for i in range(count)], pa.timestamp("us"))
    columns = {"v": pa.array([1] * count, pa.int32()), "source": pa.array(["alphavantage"] * count),
               "interval": pa.array(["5min"] * count), "ts": ts,
               "bid": pa.nulls(count, pa.float64()), "ask": pa.nulls(count, pa.float64()),
               **{name: pa.array([100.0 + i for i in range(count)]) for name in ("open", "high", "low", "close")},
               "volume": volumes}
    return columns | ({"fetched_at": ts} if fetched else {})


@pytest.mark.parametrize("first, second, fast", [
    (_bars(pa.array([1.5, 2.25])), _bars(pa.array([3, 4], pa.int64())), True),  # integers become doubles exactly
    (_bars(pa.array([3, 4], pa.int64())), _bars(pa.array([1.5, 2.25])), False),  # an integer first would truncate
    (_bars(pa.array([1.5, 2.25])), _bars(pa.array([0.5, 0.75]), fetched=False), True),  # older record: refused, reread
    (_bars(pa.array([0.5, 0.75]), fetched=False), _bars(pa.array([1.5, 2.25])), False),
    (_bars(pa.array([1.5, 2.25])), _bars(pa.array(["n/a", "8"])), True),  # text where a number belongs: reread
], ids=["int-later", "int-first", "column-missing-later", "column-missing-first", "text-later"])
def test_reading_without_unifying_schemas_gives_the_unified_rows(tmp_path: Path, first: dict, second: dict,
                                                                 fast: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The read skips unifying the objects' schemas only when the first object has the archive's types, and falls
    back to unifying them whenever DuckDB refuses: the rows are always those of the unified read."""
    location = resolve_archive(str(tmp_path))
    objects = [_object(tmp_path, "a.parquet", first), _object(tmp_path, "b.parquet", second)]
    columns = [c for c in QUOTES_COLUMNS if c in {"interval", "ts", "open", "high", "low", "close", "volume",
                                                  "fetched_at", "symbol", "market", "dt"}]
    tried: list[bool] = []
    archive_types = rollups._archive_types
    monkeypatch.setattr(rollups, "_archive_types", lambda *a: tried.append(archive_types(*a)) or tried[-1])

    def rows(con: duckdb.DuckDBPyConnection) -> list[tuple]:
        rollups._read_input(con, location, objects, columns)
        return con.execute(f"SELECT * FROM {rollups._INPUT_TABLE} ORDER BY ALL").fetchall()

    read = rows(rollups._connect(location))
    monkeypatch.setattr(rollups, "_archive_types", lambda *a: False)
    assert read == rows(rollups._connect(location))
    assert tried == [fast]
    written = [*first["volume"].to_pylist(), *second["volume"].to_pylist()]
    if all(isinstance(v, int | float) for v in written):  # no integer truncated, no value lost
        assert sorted(r[columns.index("volume")] for r in read) == sorted(float(v) for v in written)
