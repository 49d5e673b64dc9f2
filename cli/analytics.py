"""``cryptostream query | rollup | chart``: the analytics commands, added to the main CLI by ``register(app)``.

Imports stay light here (the main CLI imports this module on every start); DuckDB, sqlglot and matplotlib
load only when a command runs. Bad input ends in one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console()
err = Console(stderr=True)
MAX_TABLE_ROWS = 200

ArchiveOption = Annotated[
    str | None,
    typer.Option("--archive", help="archive directory, s3://bucket or s3://bucket/prefix (default: the stack bucket)"),
]
EndpointOption = Annotated[
    str | None,
    typer.Option("--endpoint", help="S3/DynamoDB endpoint (default: AWS_ENDPOINT_URL, else the running local stack)"),
]


def write_chart(pair: str, interval: str, archive: str | None, out_path: str | Path, **kwargs: Any) -> Path:
    """Candlestick PNG of ``pair`` from the archive (for ``demo``); see ``analytics.charts.write_chart``."""
    from analytics.charts import write_chart as draw

    return draw(pair, interval, archive, out_path, **kwargs)


def run_query(name: str, params: dict[str, str], archive: str | None) -> list[dict[str, Any]]:
    """A named query on the local engine; rows as dicts (see ``analytics.run_query``)."""
    from analytics.local import run_named_query

    return run_named_query(name, params, archive)


def archive_endpoint(endpoint: str | None) -> str | None:
    """``--endpoint``, else ``AWS_ENDPOINT_URL``, else the running local stack's endpoint (``cli.target``), else
    None (real AWS): what the analytics get to reach S3 and DynamoDB. ArchiveError when there is neither a
    stack nor AWS credentials."""
    from analytics.location import ArchiveError
    from cli.target import TargetError, resolve

    explicit = endpoint or os.environ.get("AWS_ENDPOINT_URL")
    if explicit:
        return explicit
    try:
        return resolve().endpoint
    except TargetError as exc:
        raise ArchiveError(str(exc)) from None


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(2)


def _one_line(what: str, exc: Exception) -> typer.Exit:
    text = str(exc).strip()
    return _fail(f"{what} failed: {type(exc).__name__}: {text.splitlines()[0] if text else 'no detail'}")


def _parse_params(values: list[str] | None) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise _fail(f"bad --param {item!r}: expected name=value")
        params[name.strip()] = value
    return params


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):  # engines return naive UTC times
        moment = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
        return moment.isoformat() + "Z"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.6g}" if abs(value) < 1e-3 or abs(value) >= 1e6 else f"{value:,.4f}".rstrip("0").rstrip(".")
    return str(_plain(value))


def print_rows(rows: list[dict[str, Any]], as_json: bool, as_csv: bool, title: str = "") -> None:
    if as_json:
        print(json.dumps([{k: _plain(v) for k, v in row.items()} for row in rows]))
        return
    if as_csv:
        if rows:
            writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows({k: _plain(v) for k, v in row.items()} for row in rows)
        return
    if not rows:
        console.print(f"{title}: no rows")
        return
    table = Table(title=title, title_justify="left")
    for column in rows[0]:
        table.add_column(column, justify="right" if isinstance(rows[0][column], int | float) else "left")
    for row in rows[:MAX_TABLE_ROWS]:
        table.add_row(*(_cell(v) for v in row.values()))
    console.print(table)
    if len(rows) > MAX_TABLE_ROWS:
        console.print(f"... {len(rows) - MAX_TABLE_ROWS} more rows (use --csv or --json for all {len(rows)})")


def query(
    name: Annotated[str, typer.Argument(help="query name (a file in analytics/queries); 'list' shows them all")],
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="name=value, repeatable")] = None,
    archive: ArchiveOption = None,
    endpoint: EndpointOption = None,
    athena: Annotated[bool, typer.Option("--athena", help="run on Athena through the workgroup")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON array of rows")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV with a header row")] = False,
    show_sql: Annotated[bool, typer.Option("--sql", help="print the SQL the engine would run, do not run it")] = False,
) -> None:
    """Run a named analytics query (Athena SQL) locally on DuckDB, or on Athena with --athena."""
    from analytics.named_queries import QueryError, list_queries, load_query

    if as_json and as_csv:
        raise _fail("choose one of --json and --csv")
    params = _parse_params(param)
    try:
        if name == "list":
            print_rows(
                [
                    {"query": q.name, "parameters": ", ".join(q.parameters), "answers": q.description}
                    for q in list_queries()
                ],
                as_json,
                as_csv,
                title="named queries",
            )
            return
        named = load_query(name)
        named.bind(params)  # bad parameters fail before any endpoint or archive is looked for
        if show_sql:
            from analytics.athena import athena_sql

            print(athena_sql(name, params) if athena else named.render(params, dialect="duckdb", pretty=True))
            return
        if athena:
            from analytics.athena import run_athena_query

            rows = run_athena_query(name, params)
        else:
            from analytics.local import run_named_query
            from analytics.location import needs_endpoint

            wanted = needs_endpoint(archive) and bool(named.tables & {"quotes", "rollup_1h", "rollup_1d"})
            wanted = wanted or "serving" in named.tables
            rows = run_named_query(name, params, archive, archive_endpoint(endpoint) if wanted else endpoint)
    except QueryError as exc:
        raise _fail(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - engine errors (DuckDB, botocore) become one line, not a traceback
        raise _one_line(f"query {name}", exc) from None
    print_rows(rows, as_json, as_csv, title=name)


def rollup(
    archive: ArchiveOption = None,
    endpoint: EndpointOption = None,
    rollups: Annotated[
        str | None, typer.Option("--rollups", help="where rollup tables live (default: beside quotes/)")
    ] = None,
    full: Annotated[bool, typer.Option("--full", help="rebuild every partition, ignoring the watermarks")] = False,
    source_interval: Annotated[str, typer.Option("--source-interval", help="intraday bars to roll up")] = "5min",
    as_json: Annotated[bool, typer.Option("--json", help="one JSON array of reports")] = False,
) -> None:
    """Bring rollup_1h and rollup_1d up to date from archive partitions newer than their watermarks."""
    from analytics.location import needs_endpoint
    from analytics.named_queries import QueryError
    from analytics.rollups import run_rollups
    from cryptostream_model.intervals import INTRADAY_INTERVALS

    if source_interval not in INTRADAY_INTERVALS:
        raise _fail(f"--source-interval must be one of {', '.join(INTRADAY_INTERVALS)}, got {source_interval!r}")
    try:
        from analytics.location import cloud_rollup_object, resolve_archive

        endpoint = archive_endpoint(endpoint) if needs_endpoint(archive) else endpoint
        cloud = cloud_rollup_object(resolve_archive(archive, endpoint, rollups))
        reports = None if cloud else run_rollups(archive, full=full, rollups=rollups, endpoint=endpoint,
                                                 source_interval=source_interval)
    except QueryError as exc:
        raise _fail(str(exc)) from None
    except Exception as exc:  # noqa: BLE001
        raise _one_line("rollup", exc) from None
    if reports is None:
        raise _fail(f"the rollups there are the AWS materialized tables ({cloud}), kept by the rollups state machine; "
                    "roll up locally elsewhere with --rollups DIR")
    print_rows([r.to_dict() for r in reports], as_json, False, title="rollups")


def compact(
    archive: ArchiveOption = None,
    endpoint: EndpointOption = None,
    before: Annotated[
        str | None,
        typer.Option("--before", help="compact UTC days before this date, YYYY-MM-DD (default: yesterday)"),
    ] = None,
    pair: Annotated[str | None, typer.Option("--pair", help="only this pair, e.g. BTC-USD")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="count what would be compacted; change nothing")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="the report as one JSON object")] = False,
) -> None:
    """Rewrite each closed day's archive objects of a pair as one object (every row kept): fewer, larger objects
    make raw queries and rollups read less (Firehose writes one object per pair every buffer interval)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from analytics.compaction import compact as run_compaction
    from analytics.location import needs_endpoint
    from analytics.named_queries import QueryError

    try:
        cutoff = date.fromisoformat(before) if before else None
    except ValueError:
        raise _fail(f"--before must be a date such as 2026-11-30, got {before!r}") from None
    if pair is not None and not re.fullmatch(r"[A-Za-z0-9]+-[A-Za-z0-9]+", pair):
        raise _fail(f"--pair must look like BTC-USD, got {pair!r}")
    columns = (TextColumn("compacting partitions"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        endpoint = archive_endpoint(endpoint) if needs_endpoint(archive) else endpoint
        with Progress(*columns, console=err, disable=as_json or dry_run, transient=True) as progress:
            task = progress.add_task("compact", total=None)
            report = run_compaction(archive, endpoint=endpoint, before=cutoff, pair=pair, dry_run=dry_run,
                                    progress=lambda done, total: progress.update(task, completed=done, total=total))
    except QueryError as exc:
        raise _fail(str(exc)) from None
    except Exception as exc:  # noqa: BLE001
        raise _one_line("compact", exc) from None
    if as_json:
        print(json.dumps(report.to_dict()))
    else:
        console.print(report.line, highlight=False, soft_wrap=True)
    for refusal in report.refused:
        err.print(f"[yellow]refused:[/yellow] {escape(refusal)}", highlight=False, soft_wrap=True)
    if report.refused:
        raise typer.Exit(1)


def chart(
    pair: Annotated[str, typer.Argument(help="pair such as BTC-USD")],
    interval: Annotated[str, typer.Option("--interval", help="bar interval (1min..60min, 1d, spot)")] = "5min",
    start: Annotated[str | None, typer.Option("--start", help="first bar, UTC (e.g. 2026-11-22T00:00:00Z)")] = None,
    end: Annotated[str | None, typer.Option("--end", help="last bar, UTC")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="image file (.png/.svg/.pdf)")] = None,
    archive: ArchiveOption = None,
    endpoint: EndpointOption = None,
    bars: Annotated[int, typer.Option("--bars", min=10, max=5000, help="draw at most the last N bars")] = 500,
) -> None:
    """Candlesticks with volume and 20/50-bar moving averages of one pair, from the archive."""
    from analytics.location import needs_endpoint
    from analytics.named_queries import QueryError
    from cryptostream_model.intervals import INTERVALS
    from cryptostream_model.record import parse_pair

    try:
        symbol, market = parse_pair(pair)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    if interval not in INTERVALS:
        raise _fail(f"unknown interval {interval!r}; expected one of {', '.join(INTERVALS)}")
    target = out or Path(f"chart-{symbol}-{market}-{interval}.png")
    try:
        endpoint = archive_endpoint(endpoint) if needs_endpoint(archive) else endpoint
        path = write_chart(
            f"{symbol}-{market}", interval, archive, target, start=start, end=end, endpoint=endpoint, max_bars=bars
        )
    except QueryError as exc:
        raise _fail(str(exc)) from None
    except Exception as exc:  # noqa: BLE001
        raise _one_line("chart", exc) from None
    console.print(f"chart written to {path}")


def register(app: typer.Typer) -> None:
    """Add ``query``, ``rollup`` and ``chart`` to the main ``cryptostream`` command."""
    app.command("query")(query)
    app.command("rollup")(rollup)
    app.command("compact")(compact)
    app.command("chart")(chart)
