"""Every named query on DuckDB against the fixture archive, checked against plain-Python answers."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest

from analytics import run_query
from analytics.named_queries import QueryError, list_queries, load_query, query_names
from tests.analytics import reference
from tests.fixtures.archive.builder import FixtureArchive


def assert_rows_equal(actual: list[dict[str, Any]], expected: list[dict[str, Any]], keys: list[str] | None = None,
                      rel: float = 1e-9) -> None:
    assert len(actual) == len(expected), f"{len(actual)} rows, expected {len(expected)}"
    for got, want in zip(actual, expected, strict=True):
        for key in keys or list(want):
            a, b = got[key], want[key]
            if isinstance(b, float) and a is not None:
                assert math.isclose(a, b, rel_tol=rel, abs_tol=1e-12), (key, got, want)
            else:
                assert a == b, (key, got, want)


def test_every_query_file_has_a_header_and_documented_parameters() -> None:
    assert {"latest", "rollup_1h", "rollup_1d", "vwap_1d", "returns_and_volatility", "moving_averages",
            "spread_stats", "data_quality", "serving_vs_archive"} <= set(query_names())
    for query in list_queries():
        assert query.description, query.name
        for parameter in query.parameters.values():
            assert parameter.doc, f"{query.name}: parameter {parameter.name} has no @param line"
        # Renders for both engines with the defaults: no params reference survives inlining.
        for dialect in ("duckdb", "trino"):
            assert "params" not in query.render(dialect=dialect).lower()


@pytest.mark.parametrize("name, unit", [("rollup_1h", "hour"), ("rollup_1d", "day")])
def test_rollups_match_python(fixture_archive: FixtureArchive, name: str, unit: str) -> None:
    rows = run_query(name, {}, str(fixture_archive.root))
    assert_rows_equal(rows, reference.rollup(fixture_archive.rows, unit))


def test_rollup_for_another_interval_and_one_pair(fixture_archive: FixtureArchive) -> None:
    rows = run_query("rollup_1h", {"source_interval": "1min", "pair": "btc-usd"}, str(fixture_archive.root))
    assert_rows_equal(rows, reference.rollup(fixture_archive.rows, "hour", interval="1min"))
    assert [r["bars"] for r in rows] == [60]


def test_rollup_date_range_prunes_days(fixture_archive: FixtureArchive) -> None:
    rows = run_query("rollup_1d", {"start_date": "2026-11-22", "end_date": "2026-11-22"}, str(fixture_archive.root))
    expected = [r for r in reference.rollup(fixture_archive.rows, "day") if r["bucket"].day == 22]
    assert_rows_equal(rows, expected)


def test_vwap_1d(fixture_archive: FixtureArchive) -> None:
    assert_rows_equal(run_query("vwap_1d", {}, str(fixture_archive.root)), reference.vwap_1d(fixture_archive.rows))


def test_returns_and_volatility(fixture_archive: FixtureArchive) -> None:
    rows = run_query("returns_and_volatility", {"window_bars": "10"}, str(fixture_archive.root))
    expected = reference.returns_and_volatility(fixture_archive.rows, window=10)
    assert_rows_equal(rows, expected, rel=1e-7)
    assert sum(r["rolling_volatility"] is not None for r in rows) == sum(
        r["rolling_volatility"] is not None for r in expected) > 200


def test_moving_averages_and_crossovers(fixture_archive: FixtureArchive) -> None:
    rows = run_query("moving_averages", {"short_window": "5", "long_window": "15"}, str(fixture_archive.root))
    expected = reference.moving_averages(fixture_archive.rows, short=5, long=15)
    assert_rows_equal(rows, expected, rel=1e-9)
    crossovers = [r["crossover"] for r in rows if r["crossover"]]
    assert "golden_cross" in crossovers and "death_cross" in crossovers


def test_spread_stats(fixture_archive: FixtureArchive) -> None:
    rows = run_query("spread_stats", {}, str(fixture_archive.root))
    expected = reference.spread_stats(fixture_archive.rows)
    assert_rows_equal(rows, expected, keys=["symbol", "market", "day", "snapshots", "mean_spread", "mean_spread_bps",
                                            "min_spread_bps", "max_spread_bps"])
    for got, want in zip(rows, expected, strict=True):
        ranked = want["sorted_bps"]  # approx_percentile: between the neighbouring order statistics
        n = len(ranked)
        assert ranked[int(n * 0.4)] <= got["p50_spread_bps"] <= ranked[math.ceil(n * 0.6) - 1]
        assert ranked[int(n * 0.9) - 1] <= got["p95_spread_bps"] <= ranked[-1]


def test_data_quality_reports_duplicates_gaps_staleness(fixture_archive: FixtureArchive) -> None:
    as_of = datetime(2026, 11, 22, 5, 30)
    rows = run_query("data_quality", {"as_of": "2026-11-22T05:30:00Z"}, str(fixture_archive.root))
    expected = reference.data_quality(fixture_archive.rows, as_of, fixture_archive.misfiled)
    assert_rows_equal(rows, expected)
    by_key = {(r["symbol"], r["interval"]): r for r in rows}
    assert by_key[("ETH", "5min")]["gaps"] == 2 and by_key[("ETH", "5min")]["missing_bars"] == 4
    assert by_key[("BTC", "5min")]["duplicate_rows"] == 11  # 9 redeliveries + 2 archived poison copies
    assert by_key[("SOL", "5min")]["stale"] and not by_key[("BTC", "5min")]["stale"]
    assert [by_key[(s, "5min")]["invalid_rows"] for s in ("BTC", "ETH", "SOL")] == [2, 1, 1]
    assert by_key[("BTC", "1d")]["misfiled_rows"] == 1 and by_key[("BTC", "7min")]["rows"] == 1


def test_archived_poison_never_wins_the_dedupe(fixture_archive: FixtureArchive) -> None:
    """The archive keeps what the consumer quarantined; a newer but invalid copy must not replace a valid bar."""
    rows = run_query("bars", {"pair": "BTC-USD", "start_ts": "2026-11-22T02:00:00Z", "end_ts": "2026-11-22T03:00:00Z"},
                     str(fixture_archive.root))
    first = {r["ts"]: r for r in fixture_archive.rows[:400] if r["symbol"] == "BTC" and r["interval"] == "5min"}
    assert rows[0]["close"] == first["2026-11-22T02:00:00Z"]["close"] != 105.0
    assert rows[-1]["volume"] == first["2026-11-22T03:00:00Z"]["volume"] > 0
    eth = run_query("returns_and_volatility", {"pair": "ETH-USD"}, str(fixture_archive.root))
    assert all(r["log_return"] is None or math.isfinite(r["log_return"]) for r in eth)


def test_data_quality_defaults_to_now(fixture_archive: FixtureArchive) -> None:
    rows = run_query("data_quality", {"pair": "BTC-USD"}, str(fixture_archive.root))
    now = datetime.now(UTC).replace(tzinfo=None)
    for row in rows:
        assert abs(row["seconds_since_last"] - (now - row["last_ts"]).total_seconds()) < 120


def test_bars_query_dedupes_and_filters_time(fixture_archive: FixtureArchive) -> None:
    params = {"pair": "ETH-USD", "start_ts": "2026-11-21T23:00:00Z", "end_ts": "2026-11-22T00:30:00Z"}
    rows = run_query("bars", params, str(fixture_archive.root))
    expected = [b for b in reference.series(fixture_archive.rows, "5min")[("ETH", "USD")]
                if "2026-11-21T23:00:00Z" <= b["ts"] <= "2026-11-22T00:30:00Z"]
    assert [r["ts"] for r in rows] == [reference.ts_of(b) for b in expected]
    assert [r["close"] for r in rows] == [b["close"] for b in expected]
    assert len(rows) == 19 - 3  # 23:00..00:30 is 19 bars; ETH misses three of them


def test_newest_redelivery_wins(fixture_archive: FixtureArchive) -> None:
    revised = [r for r in fixture_archive.rows if r["fetched_at"] > r["ts"][:14] + "59:59Z" and r["interval"] == "5min"]
    rows = run_query("bars", {"pair": "BTC-USD"}, str(fixture_archive.root))
    closes = {r["ts"]: r["close"] for r in rows}
    newest = {r["ts"]: r for r in reference.deduped(fixture_archive.rows) if r["symbol"] == "BTC"
              and r["interval"] == "5min"}
    assert {reference.ts_of(r): r["close"] for r in newest.values()} == closes
    assert revised, "the fixture must hold revised redeliveries"


@pytest.mark.parametrize(
    "name, params, message",
    [
        ("nope", {}, "unknown query 'nope'; available:"),
        ("vwap_1d", {"window": "3"}, "has no parameter 'window'"),
        ("returns_and_volatility", {"window_bars": "ten"}, "expects a positive integer"),
        ("moving_averages", {"short_window": "0"}, "expects a positive integer"),
        ("vwap_1d", {"start_date": "22/11/2026"}, "expects a date"),
        ("bars", {"start_ts": "yesterday"}, "expects a UTC time"),
    ],
)
def test_bad_input_is_a_one_line_error(fixture_archive: FixtureArchive, name: str, params: dict[str, str],
                                       message: str) -> None:
    with pytest.raises(QueryError) as error:
        run_query(name, params, str(fixture_archive.root))
    assert message in str(error.value) and "\n" not in str(error.value)


def test_missing_archive_is_a_one_line_error(tmp_path) -> None:
    with pytest.raises(QueryError, match="archive directory not found"):
        run_query("vwap_1d", {}, str(tmp_path / "nowhere"))
    with pytest.raises(QueryError, match="no archive files under"):
        run_query("vwap_1d", {}, str(tmp_path))


def test_string_parameters_are_literals_not_sql(fixture_archive: FixtureArchive) -> None:
    sql = load_query("vwap_1d").render({"pair": "x' OR '1'='1"}, dialect="duckdb")
    assert "'x'' OR ''1''=''1'" in sql
    assert run_query("vwap_1d", {"pair": "x' OR '1'='1"}, str(fixture_archive.root)) == []
