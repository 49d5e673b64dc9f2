"""AWS requests per 1,000 quotes, counted on a real run of the embedded stack.

Two shapes of traffic: a backfill (each producer run publishes an hour of 1-minute bars per pair)
and the steady schedule (each run publishes one new bar per pair, as EventBridge drives it every
minute). Every API call of the process is counted by operation; the local pollers' own reads
(GetRecords for the consumer's mapping and the archiver) stand in for Lambda's and Firehose's pollers.
Both run twice: with the producer's default watermark writes (one UpdateItem per pair) and with
``WATERMARK_WRITES=transaction`` (TransactWriteItems of up to 100 pairs).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.api_calls import counting_api_calls
from cli.demo import count_bars, stream_market
from cryptostream_model.keys import WATERMARK_SK
from local.stack import LocalStack

END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
PAIRS = ["BTC-USD", "ETH-USD", "SOL-USD", "XRP-USD", "ADA-USD", "DOGE-USD", "LTC-USD", "DOT-USD", "BTC-EUR", "ETH-EUR"]
# Who makes each call in AWS (the local pollers stand in for Lambda's poller and Firehose).
ROLE = {
    "kinesis:PutRecords": "producer",
    "dynamodb:BatchGetItem": "producer (watermarks)",
    "dynamodb:UpdateItem": "producer (watermarks)",
    "dynamodb:TransactWriteItems (watermarks)": "producer (watermarks, WATERMARK_WRITES=transaction)",
    "dynamodb:PutItem": "producer (lease)",
    "dynamodb:DeleteItem": "producer (lease)",
    "secretsmanager:GetSecretValue": "producer (API key, cached 5 min)",
    "dynamodb:BatchWriteItem": "consumer (history)",
    "dynamodb:TransactWriteItems": "consumer (LATEST)",
    "sqs:SendMessageBatch": "consumer (quarantine)",
    "kinesis:GetRecords": "pollers (Lambda ESM, Firehose)",
    "s3:PutObject": "archive (Firehose)",
}


def _shape(calls: Counter[str], quotes: int) -> dict[str, Any]:
    per_thousand = {op: round(count * 1000 / quotes, 1) for op, count in sorted(calls.items()) if op in ROLE}
    dynamodb = sum(count for op, count in calls.items() if op.startswith("dynamodb:"))
    return {
        "quotes": quotes,
        "per_1000": per_thousand,
        "dynamodb_per_1000": round(dynamodb * 1000 / quotes, 1),
        "kinesis_put_per_1000": round(calls["kinesis:PutRecords"] * 1000 / quotes, 1),
    }


def _who(name: str, params: dict[str, Any]) -> str:
    """The producer's watermark transactions apart from the consumer's LATEST ones."""
    if name == "dynamodb:TransactWriteItems" and any(
        item.get("Update", {}).get("Key", {}).get("sk", {}).get("S") == WATERMARK_SK
        for item in params.get("TransactItems", [])
    ):
        return f"{name} (watermarks)"
    return name


@contextmanager
def _watermark_writes(mode: str | None) -> Iterator[None]:
    saved = os.environ.pop("WATERMARK_WRITES", None)
    if mode:
        os.environ["WATERMARK_WRITES"] = mode
    try:
        yield
    finally:
        os.environ.pop("WATERMARK_WRITES", None)
        if saved is not None:
            os.environ["WATERMARK_WRITES"] = saved


def _both_shapes(backfill_hours: float, schedule_runs: int) -> dict[str, Any]:
    shapes: dict[str, Any] = {}
    with LocalStack(None, seed=3, archive_buffer_seconds=3600) as stack:
        start = END - timedelta(hours=backfill_hours)
        with counting_api_calls(_who) as calls:
            streamed = stream_market(stack, PAIRS, "1min", start, END, steps=int(backfill_hours))
        if count_bars(stack, PAIRS, "1min") != streamed.published:
            raise RuntimeError("backfill run lost bars: the request counts would be meaningless")
        shapes["backfill_hourly_runs"] = _shape(calls, streamed.published)
        with counting_api_calls(_who) as calls:
            steady = stream_market(
                stack, PAIRS, "1min", END, END + timedelta(minutes=schedule_runs), steps=schedule_runs
            )
        shapes["schedule_one_bar_per_pair_per_run"] = _shape(calls, steady.published)
    return shapes


def bench_requests(backfill_hours: float = 12.0, schedule_runs: int = 30) -> dict[str, Any]:
    """The default watermark writes' shapes at the top level; ``transaction`` holds the same two
    shapes with ``WATERMARK_WRITES=transaction``."""
    results: dict[str, Any] = {"pairs": len(PAIRS), "roles": ROLE}
    with _watermark_writes(None):
        results |= _both_shapes(backfill_hours, schedule_runs)
    with _watermark_writes("transaction"):
        results["transaction"] = _both_shapes(backfill_hours, schedule_runs)
    return results
