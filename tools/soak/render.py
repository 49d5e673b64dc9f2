"""The soak's figures as rich tables; the caller prints the one-line verdict last."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from tools.soak.run import SoakReport


def _table(title: str, rows: list[tuple[str, str]]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for row in rows:
        table.add_row(*row)
    return table


def render(report: SoakReport, console: Console) -> None:
    v, c, m = report.verdict, report.consumer, report.mapping
    cfg = report.config
    console.print(
        _table(
            f"soak: {cfg.pairs} pairs x {v.quotes // max(1, cfg.pairs):,} {cfg.interval} bars, seed {cfg.seed}",
            [
                ("wall time", f"{report.wall_seconds:,.1f} s"),
                ("throughput (distinct quotes / wall second, all stages)", f"{report.quotes_per_second:,.0f}"),
                ("records through the consumer (incl. retries, duplicates)", f"{c['records']:,}"),
                (
                    "latency Kinesis arrival -> written, p50 / p99 (bursts)",
                    f"{report.latency_ms_p50:,.0f} / {report.latency_ms_p99:,.0f} ms",
                ),
                (
                    "DynamoDB requests per 1,000 quotes (consumer, incl. retries)",
                    f"{report.per_thousand(c['dynamodb_requests'])}",
                ),
                (
                    "Kinesis PutRecords per 1,000 quotes (producer)",
                    f"{report.per_thousand(report.producer_kinesis_requests)}",
                ),
                (
                    "Alpha Vantage requests (throttled)",
                    f"{report.alphavantage_requests:,} ({report.alphavantage_throttled:,})",
                ),
            ],
        )
    )
    console.print(_table("faults injected, by kind", [(kind, f"{count:,}") for kind, count in report.faults.items()]))
    console.print(
        _table(
            "retries and recovery",
            [
                ("producer runs / crashed before watermark", f"{report.producer_runs} / {report.producer_crashes}"),
                ("producer Kinesis records retried", f"{report.producer_kinesis_retries:,}"),
                ("Kinesis records refused (partial failures)", f"{c['kinesis_records_refused']:,}"),
                ("producer Alpha Vantage rate-limit retries", f"{report.rate_limit_retries:,}"),
                ("backoff waits requested (simulated, not slept)", f"{report.backoff_seconds_requested:,.1f} s"),
                (
                    "records republished (same key, published again)",
                    f"{report.published_records - v.published_distinct:,}",
                ),
                ("consumer DynamoDB/SQS retries", f"{c['retries']:,}"),
                (
                    "invocations / function errors / partial failures",
                    f"{m['invocations']:,} / {m['function_errors']:,} / {m['partial_failures']:,}",
                ),
                (
                    "mapping retries / bisections / sent to on-failure",
                    f"{m['retries']:,} / {m['bisections']:,} / {m['sent_to_on_failure']:,}",
                ),
                ("duplicates absorbed by the consumer", f"{c['duplicates']:,}"),
                ("stale LATEST writes refused", f"{c['stale_latest_skipped']:,}"),
            ],
        )
    )
    console.print(
        _table(
            "accounting",
            [
                ("distinct quotes in the market span", f"{v.quotes:,}"),
                (
                    "published (distinct / records incl. republished)",
                    f"{v.published_distinct:,} / {report.published_records:,}",
                ),
                ("never published", f"{v.never_published:,}"),
                (
                    "missing in table / wrong values / stored twice / unexpected",
                    f"{v.missing_in_table:,} / {v.wrong_values:,} / "
                    f"{v.duplicated_in_table:,} / {v.unexpected_in_table:,}",
                ),
                ("LATEST not the newest bar", f"{v.latest_wrong:,}"),
                (
                    "poison injected / quarantined / wrong reason",
                    f"{v.poison_injected:,} / {v.poison_quarantined:,} / {v.poison_wrong_reason:,}",
                ),
                (
                    "quarantine messages (incl. redelivered poison) / valid quarantined",
                    f"{v.quarantine_messages:,} / {v.valid_quarantined:,}",
                ),
                (
                    "archive rows / objects / valid quotes missing",
                    f"{v.archive_rows:,} / {v.archive_objects:,} / {v.missing_in_archive:,}",
                ),
                ("batches sent to the on-failure queue", f"{v.on_failure_batches:,}"),
                ("watermark regressions", f"{v.watermark_regressions:,}"),
            ],
        )
    )
    for problem in v.problems:
        console.print(f"[red]problem:[/red] {problem}", highlight=False)
