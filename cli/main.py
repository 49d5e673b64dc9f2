"""The ``cryptostream`` command line: demo, up, produce, quote, bars, dlq (+ analytics, cost and reset).

Every command talks to the local stack when one is running (``cryptostream up``), to an emulator
with ``--endpoint``, or to AWS. Bad input and unreachable services end in one line on stderr and a
non-zero exit, never a traceback (set ``CRYPTOSTREAM_DEBUG=1`` to see one).
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.exceptions as typer_exceptions
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cli.target import TargetError, resolve
from cryptostream_model.intervals import INTERVALS
from cryptostream_model.record import format_ts, parse_pair

app = typer.Typer(
    name="cryptostream",
    help="Crypto market data streaming pipeline: Alpha Vantage -> Kinesis -> Lambda -> DynamoDB + S3 archive.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
dlq_app = typer.Typer(help="List and redrive quarantined records.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")
console = Console()
err = Console(stderr=True)

EndpointOption = Annotated[
    str | None,
    typer.Option(
        "--endpoint", help="AWS-compatible endpoint (e.g. LocalStack); default: running local stack, else AWS"
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


class UserError(RuntimeError):
    """Bad input or an unreachable service: shown as one line, exit 2."""


def fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _pair(value: str) -> str:
    try:
        symbol, market = parse_pair(value)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    return f"{symbol}-{market}"


def _interval(value: str) -> str:
    if value not in INTERVALS:
        raise UserError(f"unknown interval {value!r}: expected one of {', '.join(INTERVALS)}")
    return value


def _source(value: str) -> str:
    from cryptostream_model.sources import check_source

    try:
        return check_source(value.strip().lower(), "--source")
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _when(value: str | None, default: datetime, option: str = "--start") -> str:
    """Accept ``2026-11-22``, ``2026-11-22T09:05``, ``2026-11-22T09:05:00Z`` or ``-6h``/``-2d``."""
    if value is None:
        return format_ts(default)
    text = value.strip()
    problem = UserError(
        f"{option} {value!r} is not allowed: expected ISO-8601 (2026-11-22T09:05:00Z) or a relative -6h / -2d,"
        " from 1970 to 9999"
    )
    try:
        if text.startswith("-") and text[-1:] in ("m", "h", "d"):
            unit = {"m": "minutes", "h": "hours", "d": "days"}[text[-1]]
            moment = datetime.now(UTC) - timedelta(**{unit: float(text[1:-1])})
        else:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            moment = parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError):  # OverflowError: a relative time beyond datetime's years 1-9999
        raise problem from None
    if not 1970 <= moment.year <= 9999:  # the contract's timestamps sort as text only with 4-digit years
        raise problem
    return format_ts(moment)


def _print_rows(rows: list[dict[str, Any]], as_json: bool, title: str, columns: list[str]) -> None:
    if as_json:
        console.print_json(json.dumps(rows, default=str))
        return
    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="right" if column not in ("pair", "ts", "pk", "reason") else "left")
    for row in rows:
        table.add_row(*(str(row.get(c, "")) if row.get(c) is not None else "" for c in columns))
    console.print(table)


def _emulator(endpoint: str | None) -> str | None:
    """An external emulator for the local stack (--endpoint or AWS_ENDPOINT_URL); checked up front."""
    from cli.target import reachable

    url = endpoint or os.environ.get("AWS_ENDPOINT_URL")
    if url and not reachable(url):
        raise UserError(f"cannot reach endpoint {url}: is the emulator running?")
    return url


# ----------------------------------------------------------------------------------------------------------
@app.command()
def demo(
    pairs: Annotated[int, typer.Option(help="How many pairs to stream (1-10).", min=1, max=10)] = 8,
    pair: Annotated[list[str] | None, typer.Option("--pair", help="Stream these pairs instead (repeatable).")] = None,
    interval: Annotated[str, typer.Option(help="Bar interval: 1min, 5min, 15min, 30min or 60min.")] = "1min",
    hours: Annotated[float, typer.Option(help="Simulated market time to stream.", min=0.1, max=24 * 30)] = 24.0,
    steps: Annotated[int, typer.Option(help="Producer runs the span is cut into.", min=1, max=1000)] = 12,
    poison: Annotated[int, typer.Option(help="Malformed records to inject (they must end in quarantine).", min=0)] = 8,
    seed: Annotated[int, typer.Option(help="Market simulator seed (same seed, same market).")] = 42,
    out: Annotated[Path | None, typer.Option("--out", help="Keep the archive (Parquet, Hive layout) in DIR.")] = None,
    chart: Annotated[bool, typer.Option(help="Draw a candlestick chart at the end.")] = True,
    source: Annotated[
        list[str] | None,
        typer.Option("--source", help="alphavantage, coinbase or kraken; repeat to share the pairs among them."),
    ] = None,
    endpoint: EndpointOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run the whole pipeline on the embedded local stack and account for every record."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from cli.demo import DEMO_PAIRS, run_demo

    chosen = [_pair(p) for p in pair] if pair else list(DEMO_PAIRS[:pairs])
    _interval(interval)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=as_json,
        disable=as_json and not sys.stderr.isatty(),
    ) as progress:
        try:
            result = run_demo(
                pairs=chosen,
                interval=interval,
                hours=hours,
                steps=steps,
                poison=poison,
                seed=seed,
                out_dir=out,
                chart=chart,
                progress=progress,
                endpoint=_emulator(endpoint),
                sources=[_source(name) for name in source] if source else None,
            )
        except ValueError as exc:
            raise UserError(str(exc)) from None
    if as_json:
        print(result.as_json())
    else:
        _print_demo(result)
    if result.lost:
        raise typer.Exit(1)


def _print_demo(result: Any) -> None:
    table = Table(
        title=f"cryptostream demo: {len(result.pairs)} pairs x {result.simulated_hours:g} h of {result.interval} bars"
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        ("produced (incl. injected poison)", f"{result.produced:,}"),
        ("published by the producer", f"{result.published:,}"),
        ("written to DynamoDB", f"{result.written:,}"),
        ("duplicates (counted)", f"{result.duplicates:,}"),
        ("quarantined with reason", f"{result.quarantined:,}"),
        ("archived rows / objects", f"{result.archived:,} / {result.archive_objects:,}"),
        ("kept out of archive (errors/)", f"{result.archive_errors:,}"),
        ("lost", f"[{'red' if result.lost else 'green'}]{result.lost:,}[/]"),
        ("latency p50 / p99", f"{result.latency_ms_p50:,.0f} / {result.latency_ms_p99:,.0f} ms"),
        ("DynamoDB requests / 1k quotes", f"{result.dynamodb_requests_per_1000:g}"),
        ("Kinesis puts / 1k quotes", f"{result.kinesis_requests_per_1000:g}"),
        ("producer runs / consumer calls", f"{result.producer_runs} / {result.consumer_invocations}"),
        ("wall time / throughput", f"{result.wall_seconds:g} s / {result.records_per_second:,.0f} quotes/s"),
        ("run id (suffix of this run's resources)", result.run_id),
    ]
    for row in rows:
        table.add_row(*row)
    console.print(table)
    for source, source_pairs in result.sources.items():
        published = result.published_by_source.get(source, 0)
        console.print(f"source {source}: {', '.join(source_pairs)} ({published:,} bars published)")
    if result.quarantine_reasons:
        reasons = ", ".join(f"{reason} {count}" for reason, count in result.quarantine_reasons.items())
        console.print(f"quarantine reasons: {reasons}")
    console.print("latency: Kinesis arrival -> written to DynamoDB, measured by the local event source mapping")
    if result.failed_pairs:
        console.print(f"[yellow]failed pairs:[/] {escape(str(result.failed_pairs))}")
    console.print(f"archive: {result.archive_location}")
    if result.chart:
        console.print(f"chart: {result.chart}")


@app.command()
def up(
    every: Annotated[float, typer.Option(help="Seconds between producer runs (EventBridge's schedule).", min=1)] = 60.0,
    interval: Annotated[str, typer.Option(help="Interval the scheduled producer fetches.")] = "1min",
    source: Annotated[
        str | None, typer.Option(help="Default source of the stack (alphavantage, coinbase, kraken); else SOURCE.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Market simulator seed.")] = 42,
    endpoint: EndpointOption = None,
    verbose: Annotated[bool, typer.Option(help="Show the Lambdas' logs and metrics.")] = False,
    archive_buffer: Annotated[
        float, typer.Option(help="Seconds the archiver buffers before writing (Firehose's buffer interval).", min=0)
    ] = 60.0,
) -> None:
    """Run the local stack until Ctrl-C; state survives a restart (in .cryptostream/)."""
    from cli.stack_commands import run_until_interrupted
    from cli.target import data_dir

    _interval(interval)
    run_until_interrupted(
        data_dir(),
        every=every,
        interval=interval,
        seed=seed,
        source=_source(source) if source else None,
        endpoint=_emulator(endpoint),
        verbose=verbose,
        console=console,
        archive_buffer_seconds=archive_buffer,
    )


@app.command()
def produce(
    interval: Annotated[str | None, typer.Option(help="Override INTERVAL.")] = None,
    pair: Annotated[list[str] | None, typer.Option("--pair", help="Override PAIRS (repeatable).")] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Backfill between --start and --end instead of incremental.")
    ] = False,
    start: Annotated[str | None, typer.Option(help="Backfill start (ISO-8601 or -6h).")] = None,
    end: Annotated[str | None, typer.Option(help="Backfill end (default now).")] = None,
    source: Annotated[
        str | None, typer.Option(help="alphavantage, coinbase or kraken; it must own the pairs at that interval.")
    ] = None,
    endpoint: EndpointOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run the producer once against the running stack (or AWS) and print its summary."""
    from cli.stack_commands import produce_once

    event: dict[str, Any] = {"mode": "full" if full else "incremental"}
    if source:
        event["source"] = _source(source)
    if interval:
        event["interval"] = _interval(interval)
    if pair:
        event["pairs"] = [_pair(p) for p in pair]
    if full:
        event["start"] = _when(start, datetime.now(UTC) - timedelta(days=1))
        event["end"] = _when(end, datetime.now(UTC), "--end")
    summary = produce_once(resolve(endpoint), event)
    if as_json:
        print(json.dumps(summary, default=str))
    else:
        console.print_json(json.dumps(summary, default=str))
    if summary.get("failed_pairs") and not summary.get("published"):
        raise typer.Exit(1)


@app.command()
def quote(
    pair: Annotated[str, typer.Argument(help="e.g. BTC-USD")],
    interval: Annotated[str, typer.Option(help="Interval of the latest bar.")] = "1min",
    endpoint: EndpointOption = None,
    as_json: JsonOption = False,
) -> None:
    """Latest quote of a pair (one GetItem)."""
    from cryptostream_model.serving import get_latest

    pair, interval = _pair(pair), _interval(interval)
    target = resolve(endpoint)
    item = get_latest(target.clients.dynamodb, target.config.table_name, pair, interval)
    if item is None:
        raise UserError(f"no {interval} quote for {pair.upper()} in {target.config.table_name} at {target.describe()}")
    row = _plain(item)
    if as_json:
        print(json.dumps(row))
        return
    table = Table(title=f"{pair.upper()} latest {interval} bar", show_header=False)
    for field in ("ts", "open", "high", "low", "close", "volume", "bid", "ask", "fetched_at", "ingested_at"):
        if row.get(field) is not None:
            table.add_row(field, str(row[field]))
    console.print(table)


@app.command()
def bars(
    pair: Annotated[str, typer.Argument(help="e.g. BTC-USD")],
    interval: Annotated[str, typer.Option(help="Bar interval.")] = "1min",
    start: Annotated[str | None, typer.Option(help="ISO-8601 or relative (-6h); default 24 h ago.")] = None,
    end: Annotated[str | None, typer.Option(help="ISO-8601 or relative; default now.")] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many bars.", min=1)] = None,
    endpoint: EndpointOption = None,
    as_json: JsonOption = False,
) -> None:
    """Bars of a pair and interval in a time range (one paginated Query)."""
    from cryptostream_model.serving import query_bars

    pair, interval = _pair(pair), _interval(interval)
    now = datetime.now(UTC)
    first, last = _when(start, now - timedelta(days=1)), _when(end, now, "--end")
    if first > last:
        raise UserError(f"--start {first} is after --end {last}")
    target = resolve(endpoint)
    items = query_bars(target.clients.dynamodb, target.config.table_name, pair, interval, first, last, limit=limit)
    _print_rows(
        [_plain(i) for i in items],
        as_json,
        f"{pair.upper()} {interval} bars {first} .. {last}",
        ["ts", "open", "high", "low", "close", "volume"],
    )


@dlq_app.command("list")
def dlq_list(
    limit: Annotated[int, typer.Option(help="At most this many messages.", min=1, max=1000)] = 50,
    endpoint: EndpointOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show quarantined records with their reason (messages stay in the queue)."""
    from cli.dlq import peek

    target = resolve(endpoint)
    rows = peek(target, limit)
    _print_rows(rows, as_json, f"quarantine: {len(rows)} shown", ["reason", "shard_id", "sequence_number", "payload"])


@dlq_app.command("redrive")
def dlq_redrive(
    limit: Annotated[int, typer.Option(help="At most this many records.", min=1)] = 1000,
    endpoint: EndpointOption = None,
    as_json: JsonOption = False,
) -> None:
    """Put quarantined payloads back on the stream (after fixing what made them poison)."""
    from cli.dlq import redrive

    result = redrive(resolve(endpoint), limit)
    if as_json:
        print(json.dumps(result))
    else:
        console.print(f"redriven: {result['redriven']}, left in quarantine: {result['remaining']}")


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB's Decimals as JSON-safe values: integers stay numbers, prices stay exact strings."""
    from decimal import Decimal

    def plain(value: Any) -> Any:
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() and abs(value) < 2**53 else str(value)
        return value

    return {key: plain(value) for key, value in item.items()}


def _register_extensions() -> None:
    """Analytics, cost, backfill and reset add their own commands (optional imports keep the core usable alone)."""
    for module in ("cli.analytics", "cli.cost", "cli.backfill", "cli.reset"):
        try:
            __import__(module, fromlist=["register"]).register(app)
        except ImportError as exc:
            if os.environ.get("CRYPTOSTREAM_DEBUG"):
                err.print(f"{module} not available: {exc}")


_register_extensions()


def main() -> None:
    from producer.redaction import install

    install()  # no log line shows the API key, a library's debug log of a request URL included
    try:
        from dotenv import load_dotenv

        load_dotenv(Path.cwd() / ".env")  # never overrides variables already set
        code = app(standalone_mode=False)  # usage errors come here, to be shown in one line
    except typer_exceptions.TyperException as exc:
        raise SystemExit(_usage_error(exc)) from None
    except (UserError, TargetError, ValueError) as exc:
        raise SystemExit(_one_line(exc, 2)) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except Exception as exc:  # the last line of defence: one line, not a traceback
        if os.environ.get("CRYPTOSTREAM_DEBUG"):
            raise
        raise SystemExit(_one_line(exc, 1)) from None
    if isinstance(code, int) and code:  # typer.Exit(n) and --help come back as a code without standalone mode
        raise SystemExit(code)


def _usage_error(exc: typer_exceptions.TyperException) -> int:
    """A bad option or argument in one line naming it (click draws a panel of several)."""
    if type(exc).__name__ == "NoArgsIsHelpError":  # a bare group: its help, as standalone click shows it
        exc.show()  # type: ignore[attr-defined]
        return exc.exit_code
    context = getattr(exc, "ctx", None)
    hint = f" (see: {context.command_path} --help)" if context is not None else ""
    message = " ".join(exc.format_message().split())
    err.print(f"[red]error:[/red] {escape(message + hint)}", highlight=False, soft_wrap=True)
    return exc.exit_code


def _one_line(exc: BaseException, code: int) -> int:
    name = "" if isinstance(exc, UserError | TargetError | ValueError) else f"{type(exc).__name__}: "
    message = " ".join(str(exc).split()) or type(exc).__name__
    err.print(f"[red]error:[/red] {escape(name + message)}", highlight=False, soft_wrap=True)
    return code


if __name__ == "__main__":
    main()
