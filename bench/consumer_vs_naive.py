"""The consumer beside a naive one-PutItem-per-record consumer, on the same records in the same run:
in-process with DynamoDB stubbed (CPU cost per record) and against the embedded moto (a realistic
ratio, where each request costs a round trip)."""

from __future__ import annotations

import base64
import json
import statistics
import time
from typing import Any

from bench import consumer_bench
from bench.naive_consumer import naive_handler


class StubDynamoDBWithPut(consumer_bench.StubDynamoDB):
    def put_item(self, TableName: str, Item: dict[str, Any]) -> dict[str, Any]:  # noqa: N803 (boto3's names)
        self.requests += 1
        return {}


def _naive_cpu(events: list[dict[str, Any]]) -> tuple[consumer_bench.Clock, int]:
    stub = StubDynamoDBWithPut()
    with consumer_bench.Clock() as clock:
        for event in events:
            naive_handler(event, stub, "cryptostream-quotes")
    return clock, stub.requests


def stubbed(batches: int = 20, batch_size: int = 500, pairs: int = 10, repeats: int = 5) -> dict[str, Any]:
    """Records per CPU-second of the consumer, the naive consumer and bare decoding (medians)."""
    events = consumer_bench.make_events(batches, batch_size, pairs)
    records = batches * batch_size
    consumer_bench.time_handler(events[:2])  # warm-up: first-call imports and caches
    rates: dict[str, list[float]] = {"consumer": [], "naive": [], "bare_decode": []}
    requests = {"consumer": 0, "naive": 0}
    for _ in range(repeats):
        clock, stats = consumer_bench.time_handler(events)
        rates["consumer"].append(records / clock.cpu)
        requests["consumer"] = sum(s.dynamodb_requests for s in stats)
        naive_clock, requests["naive"] = _naive_cpu(events)
        rates["naive"].append(records / naive_clock.cpu)
        rates["bare_decode"].append(records / consumer_bench.time_bare_decode(events).cpu)
    median = {name: statistics.median(values) for name, values in rates.items()}
    return {
        "records": records,
        "repeats": repeats,
        "consumer_records_per_cpu_s": round(median["consumer"]),
        "naive_records_per_cpu_s": round(median["naive"]),
        "bare_decode_records_per_cpu_s": round(median["bare_decode"]),
        "consumer_vs_naive": round(median["consumer"] / median["naive"], 2),
        "dynamodb_requests_per_1000": {name: round(count * 1000 / records, 1) for name, count in requests.items()},
    }


def _relabel(events: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    """The same events for other pairs (``C01`` -> ``R1C01``), so a repeat writes fresh keys."""
    relabelled = json.loads(json.dumps(events))
    for event in relabelled:
        for record in event["Records"]:
            body = json.loads(base64.b64decode(record["kinesis"]["data"]))
            body["symbol"] = prefix + body["symbol"]
            record["kinesis"]["data"] = base64.b64encode(json.dumps(body).encode()).decode()
            record["kinesis"]["approximateArrivalTimestamp"] = time.time()
    return relabelled


def against_moto(batches: int = 4, batch_size: int = 500, pairs: int = 10, repeats: int = 3) -> dict[str, Any]:
    """Wall-clock records per second of both consumers writing to the embedded moto server."""
    from consumer.handler import lambda_handler
    from cryptostream_runtime import clients
    from local.lambda_context import LocalLambdaContext
    from local.stack import LocalStack

    records = batches * batch_size
    base = consumer_bench.make_events(batches, batch_size, pairs)
    rates: dict[str, list[float]] = {"consumer": [], "naive": []}
    with LocalStack(None, simulator=False) as stack:
        clients.clear()
        for repeat in range(repeats):
            events = _relabel(base, f"R{repeat}")
            started = time.perf_counter()
            for event in events:
                response = lambda_handler(event, LocalLambdaContext("cryptostream-consumer"))
                if response["batchItemFailures"]:
                    raise RuntimeError(f"consumer failed records against moto: {response}")
            rates["consumer"].append(records / (time.perf_counter() - started))
            events = _relabel(base, f"N{repeat}")
            started = time.perf_counter()
            for event in events:
                naive_handler(event, stack.clients.dynamodb, stack.config.table_name)
            rates["naive"].append(records / (time.perf_counter() - started))
    clients.clear()
    median = {name: statistics.median(values) for name, values in rates.items()}
    return {
        "records": records,
        "repeats": repeats,
        "consumer_records_per_s": round(median["consumer"]),
        "naive_records_per_s": round(median["naive"]),
        "consumer_vs_naive": round(median["consumer"] / median["naive"], 1),
    }
