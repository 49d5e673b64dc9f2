"""``cryptostream demo``: the whole pipeline on the embedded stack, in simulated market time.

The simulator's clock starts ``hours`` back; each step moves it forward and runs the producer (a
backfill first, then incremental runs, as the EventBridge schedules do), then lets the event source
mapping and the archiver drain the stream. A few malformed records are injected to show quarantine.
At the end every record is accounted for against the table, the quarantine queue and the archive.

Each run has its own namespace: the stream, table, queues and bucket carry a fresh run id
(``cryptostream-quotes-demo-1a2b3c4d``), so a second run against the same external emulator starts from
empty resources and its summary counts its own records only, not the last run's too.
"""

from __future__ import annotations

import json
import secrets
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptostream_config.local import LocalSettings, load_local_settings
from cryptostream_model.intervals import INTRADAY_INTERVALS, interval_seconds
from cryptostream_model.keys import table_pk
from cryptostream_model.record import format_ts
from cryptostream_model.sources import check_serves
from local.poison import poison_records
from local.stack import LocalStack
from tools.percentiles import percentile

DEMO_PAIRS = (
    "BTC-USD",
    "ETH-USD",
    "SOL-USD",
    "XRP-USD",
    "ADA-USD",
    "DOGE-USD",
    "LTC-USD",
    "DOT-USD",
    "BTC-EUR",
    "ETH-EUR",
)


@dataclass
class DemoResult:
    pairs: list[str]
    interval: str
    simulated_hours: float
    run_id: str = ""
    sources: dict[str, list[str]] = field(default_factory=dict)  # source -> the pairs it published
    published_by_source: dict[str, int] = field(default_factory=dict)
    produced: int = 0
    published: int = 0
    poison_injected: int = 0
    written: int = 0
    duplicates: int = 0
    quarantined: int = 0
    archived: int = 0
    archive_errors: int = 0
    archive_objects: int = 0
    lost: int = 0
    latency_ms_p50: float = 0.0
    latency_ms_p99: float = 0.0
    dynamodb_requests_per_1000: float = 0.0
    kinesis_requests_per_1000: float = 0.0
    consumer_invocations: int = 0
    producer_runs: int = 0
    failed_pairs: dict[str, str] = field(default_factory=dict)
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    wall_seconds: float = 0.0
    records_per_second: float = 0.0
    archive_location: str = ""
    chart: str | None = None

    def as_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), default=str)


def run_namespace(config: LocalSettings, run_id: str) -> LocalSettings:
    """The configured names with ``-<run_id>`` appended, shortened to fit AWS's limits where needed."""

    def scoped(name: str, limit: int) -> str:
        suffix = f"-{run_id}"
        return name[: limit - len(suffix)].rstrip("-.") + suffix

    return replace(
        config,
        stream_name=scoped(config.stream_name, 128),
        table_name=scoped(config.table_name, 255),
        quarantine_queue_name=scoped(config.quarantine_queue_name, 80 - len("-esm-failures")),
        archive_bucket_name=scoped(config.archive_bucket_name, 63),
    )


def count_bars(stack: LocalStack, pairs: list[str], interval: str) -> int:
    """Bar items in the table (LATEST/WATERMARK items sort after digits and are not counted)."""
    total = 0
    paginator = stack.clients.dynamodb.get_paginator("query")
    for pair in pairs:
        for page in paginator.paginate(
            TableName=stack.config.table_name,
            KeyConditionExpression="pk = :pk AND sk < :letters",
            ExpressionAttributeValues={":pk": {"S": table_pk(pair, interval)}, ":letters": {"S": "A"}},
            Select="COUNT",
        ):
            total += page["Count"]
    return total


@dataclass
class Streamed:
    runs: int = 0
    published: int = 0
    kinesis_requests: int = 0
    failed_pairs: dict[str, str] = field(default_factory=dict)
    published_by_source: dict[str, int] = field(default_factory=dict)


def share_pairs(pairs: list[str], sources: list[str], interval: str) -> dict[str, list[str]]:
    """Deal the pairs out to the sources in turn: each pair has one source (docs/architecture.md, "Sources")."""
    for source in sources:
        check_serves(source, interval, "--source")
    shares: dict[str, list[str]] = {source: [] for source in dict.fromkeys(sources)}
    names = list(shares)
    for index, pair in enumerate(pairs):
        shares[names[index % len(names)]].append(pair)
    return {source: share for source, share in shares.items() if share}


def demo_settings(shares: dict[str, list[str]], interval: str, base: LocalSettings | None = None) -> LocalSettings:
    """The local settings with the demo's pairs and their owners, as a cdk.json with one schedule per source."""
    base = base or load_local_settings()
    owners = {(pair, interval): source for source, pairs in shares.items() for pair in pairs}
    pairs = tuple(pair for share in shares.values() for pair in share)
    return replace(base, pairs=pairs, source=next(iter(shares)), source_owners=owners)


def stream_market(
    stack: LocalStack,
    shares: Mapping[str, list[str]] | list[str],
    interval: str,
    start: datetime,
    end: datetime,
    steps: int,
    on_step: Callable[[datetime], None] | None = None,
) -> Streamed:
    """Move the simulator's clock from ``start`` to ``end`` in ``steps``; at each step run the producer once per
    source (``shares``: source -> its pairs; a plain list of pairs is the stack's default source's) and drain.

    The first run backfills (the daily backfill schedule's job); the rest are incremental runs driven
    by the watermarks, as the EventBridge schedules run them.
    """
    streamed = Streamed()
    step = timedelta(seconds=max(interval_seconds(interval), (end - start).total_seconds() / steps))
    clock = start
    first = True
    if not isinstance(shares, Mapping):
        shares = {stack.config.source: list(shares)}
    while clock < end:
        clock = min(end, clock + step)
        stack.simulator.clock.set(clock)
        for source, pairs in shares.items():
            event: dict[str, Any] = {"source": source, "interval": interval, "pairs": pairs, "mode": "incremental"}
            if first:
                event |= {"mode": "full", "start": format_ts(start), "end": format_ts(clock)}
            summary = stack.produce(event)
            streamed.runs += 1
            published = int(summary.get("published", 0))
            streamed.published += published
            streamed.published_by_source[source] = streamed.published_by_source.get(source, 0) + published
            streamed.kinesis_requests += int(summary.get("kinesis_requests", 0))
            streamed.failed_pairs.update(summary.get("failed_pairs") or {})
        first = False
        stack.pump(flush=True)
        if on_step:
            on_step(clock)
    return streamed


def run_demo(
    *,
    pairs: list[str],
    interval: str = "1min",
    hours: float = 24.0,
    steps: int = 12,
    poison: int = 8,
    seed: int = 42,
    out_dir: Path | None = None,
    chart: bool = True,
    progress: Any = None,
    endpoint: str | None = None,
    sources: list[str] | None = None,
) -> DemoResult:
    if interval not in INTRADAY_INTERVALS:
        raise ValueError(f"the demo streams intraday bars: --interval must be one of {', '.join(INTRADAY_INTERVALS)}")
    started = time.perf_counter()
    shares = share_pairs(list(pairs), sources or [load_local_settings().source], interval)
    result = DemoResult(pairs=list(pairs), interval=interval, simulated_hours=hours, sources=shares)
    bar = interval_seconds(interval)
    end = datetime.fromtimestamp(int(time.time()) // bar * bar, UTC)
    start = end - timedelta(hours=hours)
    result.run_id = f"demo-{secrets.token_hex(4)}"
    config = demo_settings(shares, interval, run_namespace(load_local_settings(), result.run_id))
    # The demo's stack is discarded at exit: in memory, no journal (fsync per request buys nothing here).
    stack = LocalStack(None, endpoint=endpoint, seed=seed, config=config, archive_buffer_seconds=3600)
    with stack:
        task = progress.add_task("streaming", total=steps + 1) if progress else None

        def advanced(clock: datetime) -> None:
            if progress:
                progress.update(task, advance=1, description=f"market time {format_ts(clock)}")

        streamed = stream_market(stack, shares, interval, start, end, steps, on_step=advanced)
        result.producer_runs = streamed.runs
        result.published = streamed.published
        result.published_by_source = streamed.published_by_source
        result.failed_pairs = streamed.failed_pairs
        kinesis_requests = streamed.kinesis_requests
        injected = poison_records(poison, interval, end)
        if injected:
            stack.clients.kinesis.put_records(
                StreamName=stack.config.stream_name,
                Records=[{"Data": data, "PartitionKey": "BTC-USD"} for data in injected],
            )
        result.poison_injected = len(injected)
        stack.pump(flush=True)
        if progress:
            progress.update(task, advance=1, description="accounting")
        _account(stack, result)
        result.kinesis_requests_per_1000 = round(kinesis_requests * 1000 / max(1, result.published), 2)
        where = f"at {endpoint}" if endpoint else "in the embedded stack, discarded at exit"
        result.archive_location = f"s3://{stack.config.archive_bucket_name}/quotes/ ({where})"
        if out_dir is not None:
            result.archive_location = str(_download_archive(stack, out_dir))
        if chart:
            result.chart = _chart(pairs[0], interval, stack, out_dir)
    result.wall_seconds = round(time.perf_counter() - started, 2)
    result.records_per_second = round(result.produced / result.wall_seconds, 1) if result.wall_seconds else 0.0
    return result


def _account(stack: LocalStack, result: DemoResult) -> None:
    totals = stack.consumer_totals
    result.produced = result.published + result.poison_injected
    result.written = count_bars(stack, result.pairs, result.interval)
    result.duplicates = totals.duplicates
    result.quarantined = totals.quarantined
    result.quarantine_reasons = dict(sorted(totals.quarantine_reasons.items()))
    result.archived = stack.archiver.stats.archived
    result.archive_errors = stack.archiver.stats.errors
    result.archive_objects = stack.archiver.stats.objects
    # nothing lost: every published quote is a distinct bar in the table (or a counted duplicate),
    # every injected poison record is in quarantine, and the archive holds every valid record
    table_lost = max(0, result.published - result.duplicates - result.written)
    quarantine_lost = max(0, result.poison_injected - result.quarantined)
    archive_lost = max(0, result.published - result.duplicates - result.archived)
    result.lost = table_lost + quarantine_lost + archive_lost
    latencies = stack.mapping.stats.latencies_ms
    result.latency_ms_p50 = round(statistics.median(latencies), 1) if latencies else 0.0
    result.latency_ms_p99 = round(percentile(latencies, 99), 1)
    result.consumer_invocations = stack.mapping.stats.invocations
    valid = max(1, result.written)
    result.dynamodb_requests_per_1000 = round(totals.dynamodb_requests * 1000 / valid, 1)


def _download_archive(stack: LocalStack, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    s3 = stack.clients.s3
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=stack.config.archive_bucket_name):
        for obj in page.get("Contents", []):
            target = out_dir / obj["Key"]
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(stack.config.archive_bucket_name, obj["Key"], str(target))
    return out_dir / "quotes"


def _chart(pair: str, interval: str, stack: LocalStack, out_dir: Path | None) -> str | None:
    try:
        from cli.analytics import write_chart
    except ImportError:
        return None
    target_dir = out_dir or Path("out")
    target_dir.mkdir(parents=True, exist_ok=True)
    archive = str(out_dir / "quotes") if out_dir else f"s3://{stack.config.archive_bucket_name}/quotes/"
    path = write_chart(pair, interval, archive, target_dir / f"chart-{pair}-{interval}.png")
    return str(path)
