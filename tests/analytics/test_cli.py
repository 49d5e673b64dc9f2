"""The analytics commands through typer, as the main CLI registers them; and the chart file."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from analytics import write_chart
from analytics.named_queries import QueryError
from cli.analytics import register
from tests.analytics import reference
from tests.fixtures.archive.builder import FixtureArchive

app = typer.Typer()
register(app)
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_query_json_matches_python(fixture_archive: FixtureArchive) -> None:
    result = invoke("query", "vwap_1d", "--archive", str(fixture_archive.root), "--param", "pair=BTC-USD", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    expected = [r for r in reference.vwap_1d(fixture_archive.rows) if r["symbol"] == "BTC"]
    assert [r["day"] for r in rows] == [e["day"].isoformat() for e in expected]
    assert [r["vwap"] for r in rows] == pytest.approx([e["vwap"] for e in expected])


def test_query_csv_has_header_and_every_row(fixture_archive: FixtureArchive) -> None:
    result = invoke("query", "rollup_1h", "--archive", str(fixture_archive.root / "quotes"), "--csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    expected = reference.rollup(fixture_archive.rows, "hour", misfiled=fixture_archive.misfiled)
    assert len(rows) == len(expected)
    assert rows[0]["bucket"] == expected[0]["bucket"].isoformat() + "Z"


def test_query_table_and_list(fixture_archive: FixtureArchive) -> None:
    result = invoke("query", "spread_stats", "--archive", str(fixture_archive.root))
    assert result.exit_code == 0 and "spread_stats" in result.stdout and "BTC" in result.stdout
    listing = invoke("query", "list", "--json")
    assert {q["query"] for q in json.loads(listing.stdout)} >= {"latest", "vwap_1d", "data_quality"}


def test_query_sql_shows_what_athena_would_run() -> None:
    result = invoke("query", "latest", "--athena", "--sql", "-p", "pair=BTC-USD")
    assert result.exit_code == 0
    assert '"cryptostream-ddb"."default"."cryptostream-quotes"' in result.stdout and "'BTC-USD'" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["query", "nope"], "unknown query 'nope'"),
        (["query", "x[/y]"], "unknown query 'x[/y]'"),
        (["query", "vwap_1d", "--param", "oops"], "expected name=value"),
        (["query", "vwap_1d", "--param", "start_date=tomorrow"], "expects a date"),
        (["query", "vwap_1d", "--archive", "/no/such/archive"], "archive directory not found"),
        (["query", "vwap_1d", "--json", "--csv"], "choose one of"),
        (["rollup", "--archive", "/no/such/archive"], "archive directory not found"),
        (["rollup", "--source-interval", "spot"], "--source-interval must be one of"),
        (["chart", "BTCUSD"], "invalid pair"),
        (["chart", "BTC-USD", "--interval", "2min"], "unknown interval"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert message in result.stderr and result.stderr.count("\n") == 1 and "Traceback" not in result.output


def test_rollup_command_reports_and_is_idempotent(fresh_archive: FixtureArchive) -> None:
    first = json.loads(invoke("rollup", "--archive", str(fresh_archive.root), "--json").stdout)
    again = json.loads(invoke("rollup", "--archive", str(fresh_archive.root), "--json").stdout)
    assert [r["partitions_rebuilt"] for r in first] == [6, 6]
    assert [r["partitions_rebuilt"] for r in again] == [0, 0]


def test_chart_command_writes_a_png(fixture_archive: FixtureArchive, tmp_path: Path) -> None:
    out = tmp_path / "charts" / "btc.png"
    result = invoke("chart", "btc-usd", "--interval", "5min", "--archive", str(fixture_archive.root), "--out", str(out),
                    "--start", "2026-11-21T22:00:00Z", "--end", "2026-11-22T03:00:00Z")
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000


def test_write_chart_for_spot_and_errors(fixture_archive: FixtureArchive, tmp_path: Path) -> None:
    path = write_chart("ETH-USD", "spot", str(fixture_archive.root), tmp_path / "eth.svg")
    assert path.read_text().lstrip().startswith("<?xml") and path.stat().st_size > 10_000
    with pytest.raises(QueryError, match="no 5min bars for DOGE-USD"):
        write_chart("DOGE-USD", "5min", str(fixture_archive.root), tmp_path / "doge.png")
    with pytest.raises(QueryError, match="must end in"):
        write_chart("BTC-USD", "5min", str(fixture_archive.root), tmp_path / "btc.txt")


@pytest.mark.parametrize("command", ["query", "rollup", "chart"])
def test_help_renders(command: str) -> None:
    result = invoke(command, "--help")
    assert result.exit_code == 0, result.output
    assert "--archive" in result.stdout


def test_rollup_refuses_a_root_holding_the_aws_materialized_tables(fresh_archive: FixtureArchive,
                                                                    tmp_path: Path) -> None:
    month = fresh_archive.root / "rollups" / "rollup_1h" / "symbol=BTC" / "market=USD" / "month=2026-11"
    month.mkdir(parents=True)
    (month / "part-0.json").write_text('{"symbol":"BTC"}\n')
    result = invoke("rollup", "--archive", str(fresh_archive.root))
    assert result.exit_code == 2
    assert "AWS materialized tables" in result.output and "Traceback" not in result.output
    assert not list((fresh_archive.root / "rollups").rglob("*.parquet"))  # nothing written beside them
    elsewhere = invoke("rollup", "--archive", str(fresh_archive.root), "--rollups", str(tmp_path / "mine"))
    assert elsewhere.exit_code == 0, elsewhere.output


def test_compact_command_dry_run_then_compacts_then_has_nothing_left(fresh_archive: FixtureArchive) -> None:
    root = str(fresh_archive.root)
    planned = json.loads(invoke("compact", "--archive", root, "--before", "2030-01-01", "--dry-run", "--json").stdout)
    done = json.loads(invoke("compact", "--archive", root, "--before", "2030-01-01", "--json").stdout)
    again = invoke("compact", "--archive", root, "--before", "2030-01-01")
    assert planned["dry_run"] and planned["partitions"] == done["partitions"] > 0
    assert planned["objects_read"] == done["objects_read"] and done["rows"] > 0
    assert again.exit_code == 0 and again.stdout.startswith("compacted 0 partitions before 2030-01-01")


@pytest.mark.parametrize("args, message", [
    (("--before", "yesterday"), "--before must be a date such as 2026-11-30, got 'yesterday'"),
    (("--pair", "BTC/USD"), "--pair must look like BTC-USD, got 'BTC/USD'"),
])
def test_compact_command_refuses_bad_input_in_one_line(fresh_archive: FixtureArchive, args: tuple[str, ...],
                                                       message: str) -> None:
    result = invoke("compact", "--archive", str(fresh_archive.root), *args)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_compact_command_names_a_refused_partition_and_exits_1(fresh_archive: FixtureArchive) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    directory = fresh_archive.root / "quotes" / "symbol=BTC" / "market=USD" / "dt=2026-11-22"
    table = pq.read_table(next(directory.iterdir()))
    pq.write_table(table.append_column("venue_seq", pa.array(range(table.num_rows))), directory / "newer.parquet")
    result = invoke("compact", "--archive", str(fresh_archive.root), "--before", "2030-01-01")
    assert result.exit_code == 1 and "refused:" in result.output and "venue_seq" in result.output
    assert "Traceback" not in result.output
