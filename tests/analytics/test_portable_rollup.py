"""The rollup SQL as Athena receives it runs unchanged on DuckDB (the emulator's Athena engine) and gives the local
rollup's rows, bit for bit: the one statement rendered for both homes really is one statement."""

from __future__ import annotations

import pytest

from analytics.cloud_rollups import athena_rollup_sql
from analytics.rollups import run_rollups
from analytics.settings import load_analytics_settings
from tests.analytics.test_rollups import read_rollup
from tests.fixtures.archive.builder import FixtureArchive
from tests.fixtures.athena_on_duckdb import ParquetTable, run

TRINO_ONLY = ("is_finite", "date_format", "format_datetime", "from_iso8601", "date_parse")


@pytest.mark.parametrize("table", ["rollup_1h", "rollup_1d"])
def test_athena_rendering_runs_on_duckdb_and_equals_the_local_rollup(fresh_archive: FixtureArchive,
                                                                      table: str) -> None:
    sql = athena_rollup_sql(table)
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


@pytest.mark.parametrize("table", ["rollup_1h", "rollup_1d"])
def test_the_named_query_on_the_materialized_table_returns_the_recomputed_rows(fresh_archive: FixtureArchive,
                                                                               table: str) -> None:
    """Athena's named query reads the table (queries/_materialized); on the same archive it answers what the
    recompute statement answers, parameters included."""
    from analytics.engine import connect, fetch_dicts, register_rollup
    from analytics.local import run_named_query
    from analytics.named_queries import load_materialized_query

    run_rollups(str(fresh_archive.root))
    params = {"pair": "ETH-USD", "start_date": "2026-11-22", "end_date": "2026-11-22"}
    con = connect()
    register_rollup(con, table, str(fresh_archive.root / "rollups"))
    materialized = fetch_dicts(con, load_materialized_query(table).render(params, dialect="duckdb"))
    recomputed = run_named_query(table, params, str(fresh_archive.root))
    assert materialized == recomputed and len(recomputed) >= 1
    assert {row["symbol"] for row in materialized} == {"ETH"}
