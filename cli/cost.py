"""The ``cryptostream cost`` command; the main CLI adds it with ``register(app)``."""

from __future__ import annotations

import json

import typer
from rich.console import Console

from cryptostream_config.deployment import ConfigError
from tools.cost.account_free_tier import free_tier_note, free_tier_saving
from tools.cost.advice import dominant, notes
from tools.cost.break_even import break_even
from tools.cost.market_data import market_data, market_data_note
from tools.cost.model import estimate
from tools.cost.prices import PriceBookError, load_price_book
from tools.cost.render import print_report, report_dict, report_markdown
from tools.cost.settings import load_cost_settings
from tools.cost.workload import Workload, WorkloadError

EXIT_BAD_INPUT = 2


def cost(
    pairs: int | None = typer.Option(
        None, "--pairs", help="Number of pairs the producer fetches every run [default: cdk.json pairs]"
    ),
    interval: str | None = typer.Option(
        None, "--interval", help="1min|5min|15min|30min|60min|spot|1d [default: cdk.json's busiest schedule]"
    ),
    region: str = typer.Option("us-east-1", "--region", help="AWS region whose prices to use."),
    shards: int | None = typer.Option(
        None, "--shards", help="0 = on-demand stream, N = provisioned shards [default: cdk.json stream_shards]"
    ),
    consumer_batch: int | None = typer.Option(
        None, "--consumer-batch", help="Consumer batch size [default: cdk.json consumer.batch_size]"
    ),
    athena_gb_per_day: float = typer.Option(0.1, "--athena-gb-per-day", help="GB Athena scans per day."),
    athena_queries_per_day: int = typer.Option(24, "--athena-queries-per-day", help="Athena queries per day."),
    retention_days: int | None = typer.Option(
        None, "--retention-days", help="DynamoDB history TTL in days [default: cdk.json history_ttl_days]"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    as_markdown: bool = typer.Option(False, "--markdown", help="Print one Markdown table."),
) -> None:
    """Monthly AWS cost of the deployed pipeline, from published prices (tools/cost/prices.json), and its market data.

    Without --pairs/--interval it prices cdk.json's deployment: its pairs at its busiest schedule."""
    try:
        settings = load_cost_settings()
        workload = Workload(
            pairs=settings.pairs if pairs is None else pairs,
            interval=settings.busiest_interval if interval is None else interval,
            region=region,
            shards=settings.stream_shards if shards is None else shards,
            consumer_batch=settings.consumer_batch_size if consumer_batch is None else consumer_batch,
            batching_window_seconds=settings.consumer_batching_window_seconds,
            parallelization_factor=settings.consumer_parallelization_factor,
            athena_gb_per_day=athena_gb_per_day,
            athena_queries_per_day=athena_queries_per_day,
            retention_days=settings.history_ttl_days if retention_days is None else retention_days,
            stream_retention_hours=settings.stream_retention_hours,
            firehose_buffer_seconds=settings.firehose_buffer_seconds,
            firehose_buffer_mib=settings.firehose_buffer_mib,
            spot_rate_minutes=settings.spot_rate_minutes,
            schedules=settings.schedules,
            rollup_runs_per_day=settings.rollup_runs_per_day,
        )
        book = load_price_book()
        report = estimate(workload, book)
    except (WorkloadError, PriceBookError, ConfigError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    verdict = dominant(report, book)
    sources = market_data(
        settings.demands, workload.pairs, free_tier=settings.free_tier, budget=settings.daily_request_budget
    )
    remarks = [
        *([market_data_note(sources, report.total_usd)] if sources else []),
        break_even(book, workload.region, report.assumptions).sentence(),
        free_tier_note(report),
        *notes(report),
    ]
    if as_json:
        body = report_dict(report, verdict, remarks)
        body["market_data"] = [entry.as_dict() for entry in sources]
        body["total_with_always_free_tier_usd"] = round(report.total_usd - free_tier_saving(report), 6)
        typer.echo(json.dumps(body))
        return
    if as_markdown:
        typer.echo(report_markdown(report, verdict, remarks))
        return
    print_report(Console(width=140), report, verdict, remarks)


def register(app: typer.Typer) -> None:
    """Add the ``cost`` command to the main ``cryptostream`` application."""
    app.command("cost")(cost)
