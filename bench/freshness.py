"""End-to-end freshness on the embedded stack: a bar published to Kinesis -> readable with GetItem.

Each round publishes one new bar for every pair with the producer's own ``KinesisPublisher`` (so
Alpha Vantage's answer time is not part of it), then drives the event source mapping and polls the
pairs' LATEST items (BatchGetItem: GetItem for up to 100 keys per request) until every new bar is
readable. Measured twice: with the configured batching window (what a deployment sees; the mapping
waits for it, as Lambda does) and with the window forced shut (the pipeline's own processing time).
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptostream_model.keys import LATEST_SK, table_pk
from cryptostream_model.record import format_ts, quote_from_dict
from local.stack import LocalStack
from producer.publisher import KinesisPublisher
from tools.percentiles import percentile

POLL_SECONDS = 0.02
START = datetime(2026, 11, 20, tzinfo=UTC)


def bench_pairs(count: int) -> list[str]:
    return [f"F{count:03d}X{index:03d}-USD" for index in range(count)]


def _bars(pairs: list[str], moment: datetime) -> list[Any]:
    ts = format_ts(moment)
    return [
        quote_from_dict(
            {
                "v": 1,
                "source": "alphavantage",
                "symbol": pair.split("-")[0],
                "market": "USD",
                "interval": "1min",
                "ts": ts,
                "open": "100.5",
                "high": "101",
                "low": "99.5",
                "close": "100.25",
                "volume": "3.5",
                "fetched_at": ts,
            }
        )
        for pair in pairs
    ]


def _readable(stack: LocalStack, pairs: list[str], ts: str) -> set[str]:
    """Pairs whose LATEST already holds ``ts``."""
    table = stack.config.table_name
    found: set[str] = set()
    for begin in range(0, len(pairs), 100):
        keys = [{"pk": {"S": table_pk(pair, "1min")}, "sk": {"S": LATEST_SK}} for pair in pairs[begin : begin + 100]]
        request = {table: {"Keys": keys, "ProjectionExpression": "pk, ts"}}
        while request:
            response = stack.clients.dynamodb.batch_get_item(RequestItems=request)
            for item in response["Responses"].get(table, []):
                if item["ts"]["S"] == ts:
                    found.add(item["pk"]["S"].split("#", 1)[0])
            request = response.get("UnprocessedKeys") or {}
    return found


def _round(
    stack: LocalStack, publisher: KinesisPublisher, pairs: list[str], moment: datetime, flush: bool
) -> list[float]:
    ts = format_ts(moment)
    started = time.perf_counter()
    outcome = publisher.publish(_bars(pairs, moment))
    if outcome.failed:
        raise RuntimeError(f"publishing failed: {outcome.error_codes}")
    waiting, delays = set(pairs), []
    deadline = started + 60
    while waiting and time.perf_counter() < deadline:
        stack.mapping.poll(flush=flush)
        now_readable = _readable(stack, sorted(waiting), ts)
        now = time.perf_counter()
        delays += [(now - started) * 1000] * len(now_readable)
        waiting -= now_readable
        if waiting:
            time.sleep(POLL_SECONDS)
    if waiting:
        raise RuntimeError(f"{len(waiting)} bars not readable after 60 s")
    return delays


def bench_freshness(
    pair_counts: tuple[int, ...] = (1, 10, 100), rounds: dict[int, int] | None = None
) -> dict[str, Any]:
    rounds = rounds or {1: 8, 10: 6, 100: 4}
    results: dict[str, Any] = {}
    with LocalStack(None, simulator=False) as stack:
        window = float(stack.config.consumer.batching_window_seconds)
        publisher = KinesisPublisher(stack.clients.kinesis, stack.config.stream_name)
        moment = START
        for count in pair_counts:
            pairs = bench_pairs(count)
            for flush, label in ((False, "with_batching_window"), (True, "window_shut")):
                delays: list[float] = []
                for _ in range(rounds.get(count, 4)):
                    moment += timedelta(minutes=1)
                    delays += _round(stack, publisher, pairs, moment, flush)
                results[f"{count}_pairs_{label}"] = {
                    "bars": len(delays),
                    "p50_ms": round(statistics.median(delays), 1),
                    "p99_ms": round(percentile(delays, 99), 1),
                }
        results["batching_window_seconds"] = window
    return results
