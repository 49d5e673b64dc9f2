"""Kinesis events in the exact shape Lambda delivers them to a function (event source mapping)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "kinesis"
REGION = "us-east-1"
STREAM_ARN = f"arn:aws:kinesis:{REGION}:123456789012:stream/cryptostream-quotes"
ROLE_ARN = "arn:aws:iam::123456789012:role/cryptostream-consumer"
SHARD_ID = "shardId-000000000000"
FIRST_SEQUENCE = 49590338271490256608559692538361571095921575989136588898
ARRIVAL = 1795338302.123  # 2026-11-22T09:05:02.123Z


def quote(**overrides: Any) -> dict[str, Any]:
    """A valid 5min BTC-USD bar as the producer publishes it; override any field (None removes it)."""
    body: dict[str, Any] = {
        "v": 1,
        "source": "alphavantage",
        "symbol": "BTC",
        "market": "USD",
        "interval": "5min",
        "ts": "2026-11-22T09:00:00Z",
        "open": "67000.1",
        "high": "67010",
        "low": "66990.5",
        "close": "67001",
        "volume": "12.5",
        "fetched_at": "2026-11-22T09:05:02Z",
    }
    body.update(overrides)
    return {name: value for name, value in body.items() if value is not None}


def payload(body: dict[str, Any] | bytes | str) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body, separators=(",", ":")).encode()


def kinesis_record(
    data: dict[str, Any] | bytes | str,
    sequence: int,
    *,
    partition_key: str | None = None,
    arrival: float = ARRIVAL,
    raw_data: str | None = None,
) -> dict[str, Any]:
    """One record; ``raw_data`` replaces the base64 text verbatim (to deliver undecodable data)."""
    if partition_key is None:
        partition_key = (
            f"{data['symbol']}-{data['market']}" if isinstance(data, dict) and "symbol" in data else "BTC-USD"
        )
    sequence_number = str(sequence)
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": partition_key,
            "sequenceNumber": sequence_number,
            "data": raw_data if raw_data is not None else base64.b64encode(payload(data)).decode(),
            "approximateArrivalTimestamp": arrival,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{SHARD_ID}:{sequence_number}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": ROLE_ARN,
        "awsRegion": REGION,
        "eventSourceARN": STREAM_ARN,
    }


def kinesis_event(bodies: list[dict[str, Any] | bytes | str], first_sequence: int = FIRST_SEQUENCE) -> dict[str, Any]:
    return {
        "Records": [
            kinesis_record(body, first_sequence + offset, arrival=round(ARRIVAL + offset / 1000, 3))
            for offset, body in enumerate(bodies)
        ]
    }


def sequence_numbers(event: dict[str, Any]) -> list[str]:
    return [record["kinesis"]["sequenceNumber"] for record in event["Records"]]


def load_fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())
