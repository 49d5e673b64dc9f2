"""Consumer benchmark: handler throughput in-process with DynamoDB and SQS stubbed, beside bare
base64+JSON decoding of the same records; DynamoDB requests per 1,000 valid records; cold import.

    .venv/bin/python bench/consumer_bench.py [--batches 20] [--batch-size 500] [--pairs 10] [--repeats 7] [--json]

or ``measure()`` from Python. Importing this module quiets the consumer's logs and metrics, and
measuring swaps its client factory for the stubs (it is a benchmark, not a library).

The stubs accept every call and answer success at once (no network), so the figure is the
consumer's own CPU cost per record: Powertools' batch loop, decoding, validation, item building,
dedupe and request assembly. Figures are medians over the repeats, on one core.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

os.environ.setdefault("TABLE_NAME", "cryptostream-quotes")
os.environ.setdefault(
    "QUARANTINE_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/cryptostream-quarantine"
)
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
# One EMF line and one log line per batch would only add terminal I/O to the measurement.
os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"

from consumer import handler  # noqa: E402
from consumer.stats import BatchStats  # noqa: E402


class StubDynamoDB:
    """Accepts every write at once, as an unthrottled table would."""

    def __init__(self) -> None:
        self.requests = 0

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803 (boto3's names)
        self.requests += 1
        return {"UnprocessedItems": {}}

    def transact_write_items(self, TransactItems: list[Any]) -> dict[str, Any]:  # noqa: N803
        self.requests += 1
        return {}


class StubSQS:
    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        return {"Successful": [{"Id": entry["Id"]} for entry in Entries], "Failed": []}


class Context:
    function_name = "cryptostream-consumer"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:cryptostream-consumer"
    aws_request_id = "bench"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


def make_events(batches: int, batch_size: int, pairs: int) -> list[dict[str, Any]]:
    """Batches as Lambda delivers them: ``pairs`` pairs of 5min bars interleaved, one bar per record."""
    symbols = [f"C{n:02d}" for n in range(pairs)]
    events, sequence, arrival = [], 49590338271490256608559692538361571095921575989136588898, time.time()
    bar = 0
    for _ in range(batches):
        records = []
        for n in range(batch_size):
            symbol = symbols[n % pairs]
            if n % pairs == 0:
                bar += 1
            ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1_790_000_000 + bar * 300))
            body = {
                "v": 1,
                "source": "alphavantage",
                "symbol": symbol,
                "market": "USD",
                "interval": "5min",
                "ts": ts,
                "open": "67000.1",
                "high": "67010",
                "low": "66990.5",
                "close": "67001",
                "volume": "12.5",
                "fetched_at": ts,
            }
            sequence += 1
            records.append(
                {
                    "kinesis": {
                        "kinesisSchemaVersion": "1.0",
                        "partitionKey": f"{symbol}-USD",
                        "sequenceNumber": str(sequence),
                        "data": base64.b64encode(json.dumps(body, separators=(",", ":")).encode()).decode(),
                        "approximateArrivalTimestamp": arrival,
                    },
                    "eventSource": "aws:kinesis",
                    "eventVersion": "1.0",
                    "eventID": f"shardId-000000000000:{sequence}",
                    "eventName": "aws:kinesis:record",
                    "invokeIdentityArn": "arn:aws:iam::123456789012:role/cryptostream-consumer",
                    "awsRegion": "us-east-1",
                    "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/cryptostream-quotes",
                }
            )
        events.append({"Records": records})
    return events


class Clock:
    """CPU time of this (single-threaded) process and wall time, side by side: on a shared machine CPU
    time is the faithful "one core" figure; on an idle one the two agree."""

    def __enter__(self) -> Clock:
        self.cpu, self.wall = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        self.cpu, self.wall = time.process_time() - self.cpu, time.perf_counter() - self.wall


def time_handler(events: list[dict[str, Any]]) -> tuple[Clock, list[BatchStats]]:
    dynamodb, sqs = StubDynamoDB(), StubSQS()
    seen: list[BatchStats] = []
    consume = handler.make_handler(
        on_stats=seen.append, clients=lambda service: dynamodb if service == "dynamodb" else sqs
    )
    context = Context()
    with Clock() as clock:
        for event in events:
            response = consume(event, context)
            if response["batchItemFailures"]:
                raise SystemExit(f"unexpected failures: {response}")
    return clock, seen


def time_bare_decode(events: list[dict[str, Any]]) -> Clock:
    loads, b64decode = json.loads, base64.b64decode
    with Clock() as clock:
        for event in events:
            for record in event["Records"]:
                loads(b64decode(record["kinesis"]["data"]))
    return clock


def cold_import_ms(statement: str, repeats: int) -> float:
    """Median wall time of a fresh interpreter running ``statement``, minus an empty interpreter."""

    def run(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
        return time.perf_counter() - start

    baseline = statistics.median(run("pass") for _ in range(repeats))
    return round((statistics.median(run(statement) for _ in range(repeats)) - baseline) * 1000, 1)


def measure(batches: int = 20, batch_size: int = 500, pairs: int = 10, repeats: int = 7) -> dict[str, Any]:
    """The figures as a dict (medians over ``repeats``); for bench/ runners that collect every benchmark."""
    events = make_events(batches, batch_size, pairs)
    records = batches * batch_size
    time_handler(events[:2])  # warm up: clients, caches, first-call imports

    runs: dict[str, list[float]] = {"handler_cpu": [], "handler_wall": [], "bare_cpu": [], "bare_wall": []}
    stats: list[BatchStats] = []
    for _ in range(repeats):
        handler_clock, stats = time_handler(events)
        bare_clock = time_bare_decode(events)
        runs["handler_cpu"].append(records / handler_clock.cpu)
        runs["handler_wall"].append(records / handler_clock.wall)
        runs["bare_cpu"].append(records / bare_clock.cpu)
        runs["bare_wall"].append(records / bare_clock.wall)
    median = {name: statistics.median(values) for name, values in runs.items()}
    written = sum(s.written for s in stats)
    requests = sum(s.dynamodb_requests for s in stats)
    return {
        "records": records,
        "batch_size": batch_size,
        "pairs": pairs,
        "repeats": repeats,
        "handler_records_per_s": round(median["handler_cpu"]),
        "bare_decode_records_per_s": round(median["bare_cpu"]),
        "handler_us_per_record": round(1e6 / median["handler_cpu"], 2),
        "bare_decode_us_per_record": round(1e6 / median["bare_cpu"], 2),
        "handler_vs_bare_ratio": round(median["bare_cpu"] / median["handler_cpu"], 2),
        "handler_records_per_s_wall": round(median["handler_wall"]),
        "bare_decode_records_per_s_wall": round(median["bare_wall"]),
        "dynamodb_requests_per_1000_valid_records": round(requests * 1000 / written, 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-import", action="store_true", help="skip the cold-import measurement")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args()
    if args.repeats < 1 or args.batches < 1 or not 1 <= args.batch_size <= 10_000 or args.pairs < 1:
        parser.error("--repeats, --batches, --pairs must be >= 1 and --batch-size 1..10000")

    result = measure(args.batches, args.batch_size, args.pairs, args.repeats)
    print(
        f"consumer handler (DynamoDB/SQS stubbed): {result['handler_records_per_s']:>10,} records/s"
        f"  ({result['handler_us_per_record']} us/record)"
    )
    print(
        f"bare base64 + json.loads, same records:  {result['bare_decode_records_per_s']:>10,} records/s"
        f"  ({result['bare_decode_us_per_record']} us/record)"
    )
    print(
        f"handler costs {result['handler_vs_bare_ratio']}x bare decoding (CPU time, median of {args.repeats} runs"
        f" of {result['records']:,} records; wall clock: {result['handler_records_per_s_wall']:,}"
        f" vs {result['bare_decode_records_per_s_wall']:,} records/s)"
    )
    print(
        f"DynamoDB requests per 1,000 valid records: {result['dynamodb_requests_per_1000_valid_records']}"
        f"  (batch {args.batch_size}, {args.pairs} pairs; one PutItem per record would be 1,000)"
    )
    print(
        f"machine: {result['cpus']} CPUs, load average {result['load_average_1m']} (other work inflates both figures)"
    )
    if not args.no_import:
        result["cold_import_ms"] = {
            "boto3": cold_import_ms("import boto3", 5),
            "consumer.handler": cold_import_ms("import consumer.handler", 5),
            "consumer.handler+boto3": cold_import_ms("import consumer.handler, boto3", 5),
        }
        print(
            "cold import (ms, median of 5, interpreter start subtracted): "
            + ", ".join(f"{name} {ms}" for name, ms in result["cold_import_ms"].items())
        )
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
