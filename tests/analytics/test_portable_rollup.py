"""The rollup SQL as Athena receives it runs unchanged on DuckDB (the emulator's Athena engine) and gives the local
rollup's rows, bit for bit: the one statement rendered for both homes really is one statement."""

from __future__ import annotations

import pytest

from analytics.athena import athena_sql
from analytics.rollups import run_rollups
from analytics.settings import load_analytics_settings
from tests.analytics.test_rollups import read_rollup
from tests.fixtures.archive.builder import FixtureArchive
from tests.fixtures.athena_on_duckdb import ParquetTable, run

TRINO_ONLY = ("is_finite", "date_format", "format_datetime", "from_iso8601", "date_parse")


@pytest.mark.parametrize("table", ["rollup_1h", "rollup_1d"])
def test_athena_rendering_runs_on_duckdb_and_equals_the_local_rollup(fresh_archive: FixtureArchive,
                                                                      table: str) -> None:
    sql = athena_sql(table)
    assert not [name for name in TRINO_ONLY if name in sql.lower()]
    files = sorted(str(p) for p in (fresh_archive.root / "quotes").rglob("*.parquet"))
    database = load_analytics_settings().glue_database
    result = run(sql, {f"{database}.quotes": ParquetTable(files)})
    assert result.columns == ["symbol", "market", "bucket", "open", "high", "low", "close", "volume", "bars"]
    assert result.types == ["varchar", "varchar", "timestamp", "double", "double", "double", "double", "double",
                            "bigint"]
    run_rollups(str(fresh_archive.root))
    local = [tuple(row.values()) for row in read_rollup(fresh_archive.root / "rollups", table)]
    assert [tuple(row) for row in result.rows] == local  # ==, not approx: the same bits
    assert len(local) >= 6  # 3 pairs x 2 days at least


def test_the_finite_range_check_drops_nan_and_infinities_on_duckdb() -> None:
    import duckdb

    from analytics.named_queries import expand_includes

    rules = expand_includes("SELECT x FROM v AS q WHERE TRUE\n-- @include valid_quote\n")
    con = duckdb.connect()
    con.execute("CREATE TABLE v (x INTEGER, open DOUBLE, high DOUBLE, low DOUBLE, close DOUBLE, volume DOUBLE)")
    con.execute("INSERT INTO v VALUES (1, 2.0, 3.0, 1.0, 2.5, 4.0)")
    columns = ("open", "high", "low", "close", "volume")
    for column in columns:
        for bad in ("nan", "inf", "-inf"):
            values = ", ".join(f"'{bad}'::DOUBLE" if c == column else c for c in columns)
            con.execute(f"INSERT INTO v SELECT 2, {values} FROM v WHERE x = 1")
    assert con.execute("SELECT count(*) FROM v").fetchone() == (16,)
    assert con.execute(rules).fetchall() == [(1,)]
