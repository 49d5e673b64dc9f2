"""AWS requests per 1,000 quotes, counted on a real run of the embedded stack.

Two shapes of traffic: a backfill (each producer run publishes an hour of 1-minute bars per pair)
and the steady schedule (each run publishes one new bar per pair, as EventBridge drives it every
minute). Every API call of the process is counted by operation; the local runners' own reads
(GetRecords for the consumer's mapping and the archiver) stand in for Lambda's and Firehose's pollers.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.api_calls import counting_api_calls
from cryptostream.demo import count_bars, stream_market
from cryptostream.local.stack import LocalStack

END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
PAIRS = ["BTC-USD", "ETH-USD", "SOL-USD", "XRP-USD", "ADA-USD", "DOGE-USD", "LTC-USD", "DOT-USD", "BTC-EUR", "ETH-EUR"]
# Who makes each call in AWS (the local runners stand in for Lambda's poller and Firehose).
ROLE = {
    "kinesis:PutRecords": "producer",
    "dynamodb:BatchGetItem": "producer (watermarks)",
    "dynamodb:UpdateItem": "producer (watermarks)",
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


def bench_requests(backfill_hours: float = 12.0, schedule_runs: int = 30) -> dict[str, Any]:
    results: dict[str, Any] = {"pairs": len(PAIRS), "roles": ROLE}
    with LocalStack(None, seed=3, archive_buffer_seconds=3600) as stack:
        start = END - timedelta(hours=backfill_hours)
        with counting_api_calls() as calls:
            streamed = stream_market(stack, PAIRS, "1min", start, END, steps=int(backfill_hours))
        if count_bars(stack, PAIRS, "1min") != streamed.published:
            raise RuntimeError("backfill run lost bars: the request counts would be meaningless")
        results["backfill_hourly_runs"] = _shape(calls, streamed.published)
        with counting_api_calls() as calls:
            steady = stream_market(
                stack, PAIRS, "1min", END, END + timedelta(minutes=schedule_runs), steps=schedule_runs
            )
        results["schedule_one_bar_per_pair_per_run"] = _shape(calls, steady.published)
    return results
