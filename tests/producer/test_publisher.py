"""PutRecords batching and retries. moto never fails a record, so faults are injected by a wrapper
(per-record ErrorCodes) or botocore's Stubber (whole-call errors)."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from cryptostream_model.record import Quote
from producer.publisher import MAX_BYTES_PER_CALL, KinesisPublisher
from tests.producer.conftest import REGION, STREAM, stream_quotes


def quote(pair: str, minute: int) -> Quote:
    from decimal import Decimal

    symbol, market = pair.split("-")
    price = Decimal("100.5") + minute
    return Quote(
        symbol=symbol,
        market=market,
        interval="1min",
        ts=f"2026-11-22T{minute // 60:02d}:{minute % 60:02d}:00Z",
        open=price,
        high=price + 1,
        low=price - 1,
        close=price,
        volume=Decimal(3),
        fetched_at="2026-11-22T23:59:00Z",
    )


class FlakyKinesis:
    """Forwards PutRecords to a real (moto) client, except records ``fails(call, data)`` picks: those get
    an ErrorCode, as Kinesis reports throughput exceeded per record."""

    def __init__(self, inner: Any, fails: Callable[[int, bytes], bool]) -> None:
        self.inner = inner
        self.fails = fails
        self.calls: list[int] = []

    def put_records(self, StreamName: str, Records: list[dict]) -> dict:  # noqa: N803 (boto3's names)
        call = len(self.calls)
        self.calls.append(len(Records))
        verdicts = [self.fails(call, record["Data"]) for record in Records]
        passed = [record for record, failed in zip(Records, verdicts, strict=True) if not failed]
        forwarded = iter(self.inner.put_records(StreamName=StreamName, Records=passed)["Records"] if passed else [])
        results = [
            {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "Rate exceeded for shard"}
            if failed
            else next(forwarded)
            for failed in verdicts
        ]
        return {"FailedRecordCount": sum(verdicts), "Records": results}


class Recording:
    """Accepts everything; remembers each call's record count and bytes."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def put_records(self, StreamName: str, Records: list[dict]) -> dict:  # noqa: N803
        size = sum(len(r["Data"]) + len(r["PartitionKey"].encode()) for r in Records)
        self.calls.append((len(Records), size))
        return {"FailedRecordCount": 0, "Records": [{"SequenceNumber": "1", "ShardId": "s"} for _ in Records]}


def no_sleep(_: float) -> None:
    return None


def test_only_failed_records_are_retried(moto):
    kinesis = moto.client("kinesis")
    seen: dict[bytes, int] = {}

    def first_try_of_every_third_fails(call: int, data: bytes) -> bool:
        seen[data] = seen.get(data, 0) + 1
        return seen[data] == 1 and zlib.crc32(data) % 3 == 0

    flaky = FlakyKinesis(kinesis, first_try_of_every_third_fails)
    quotes = [quote("BTC-USD", m) for m in range(60)] + [quote("ETH-USD", m) for m in range(60)]
    outcome = KinesisPublisher(flaky, STREAM, sleep=no_sleep).publish(quotes)
    failed_first = sum(1 for q in quotes if zlib.crc32(q.to_json()) % 3 == 0)
    assert failed_first > 0
    assert outcome.accepted == [True] * len(quotes)
    assert outcome.requests == 2 and flaky.calls == [120, failed_first]
    assert outcome.retries == failed_first
    assert outcome.error_codes["ProvisionedThroughputExceededException"] == failed_first
    in_stream = stream_quotes(kinesis)
    assert sorted((q.pair, q.ts) for q in in_stream) == sorted((q.pair, q.ts) for q in quotes)  # once each


def test_records_still_failing_after_the_last_attempt_are_reported(moto):
    kinesis = moto.client("kinesis")
    doomed = quote("BTC-USD", 7).to_json()
    flaky = FlakyKinesis(kinesis, lambda call, data: data == doomed)
    delays: list[float] = []
    quotes = [quote("BTC-USD", m) for m in range(10)]
    outcome = KinesisPublisher(flaky, STREAM, max_attempts=4, base_delay=0.1, sleep=delays.append).publish(quotes)
    assert outcome.accepted == [m != 7 for m in range(10)]
    assert outcome.failed == 1 and outcome.requests == 4 and outcome.retries == 3
    assert len(delays) == 3
    assert all(0 <= d <= 0.1 * 2**attempt for attempt, d in enumerate(delays, start=1))  # full jitter, capped


def test_backoff_grows_exponentially_to_the_cap():
    delays: list[float] = []
    publisher = KinesisPublisher(
        FlakyKinesis(Recording(), lambda call, data: True),
        STREAM,
        max_attempts=8,
        base_delay=0.1,
        max_delay=1.0,
        sleep=delays.append,
        jitter=lambda low, high: high,  # take the top of each jitter window
    )
    publisher.publish([quote("BTC-USD", 1)])
    assert delays == pytest.approx([0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0])


def test_batches_hold_at_most_500_records():
    recording = Recording()
    outcome = KinesisPublisher(recording, STREAM).publish([quote("BTC-USD", m % 1440) for m in range(1201)])
    assert [count for count, _ in recording.calls] == [500, 500, 201]
    assert outcome.published == 1201 and outcome.requests == 3


def test_batches_hold_at_most_5_mib():
    recording = Recording()
    big = b"x" * (900 * 1024)  # 14 records of 900 KiB: 12.3 MiB
    outcome = KinesisPublisher(recording, STREAM).publish_raw([(big, "BTC-USD")] * 14)
    assert all(size <= MAX_BYTES_PER_CALL for _, size in recording.calls)
    assert [count for count, _ in recording.calls] == [5, 5, 4]
    assert outcome.published == 14


def test_an_oversized_record_is_refused_not_sent():
    recording = Recording()
    outcome = KinesisPublisher(recording, STREAM).publish_raw([(b"x" * (1024 * 1024 + 1), "K"), (b"ok", "K")])
    assert outcome.accepted == [False, True]
    assert outcome.error_codes["RecordTooLarge"] == 1


def test_whole_call_throttling_is_retried_with_stubber():
    client = boto3.client("kinesis", region_name=REGION)
    records = [quote("BTC-USD", m) for m in range(3)]
    with Stubber(client) as stub:
        stub.add_client_error(
            "put_records", service_error_code="ProvisionedThroughputExceededException", http_status_code=400
        )
        stub.add_response(
            "put_records",
            {
                "Records": [
                    {
                        "SequenceNumber": "49590338271490256608559692538361571095921575989136588802",
                        "ShardId": "shardId-0",
                    }
                ]
                * 3,
            },
        )
        outcome = KinesisPublisher(client, STREAM, sleep=no_sleep).publish(records)
        stub.assert_no_pending_responses()
    assert outcome.accepted == [True, True, True]
    assert outcome.requests == 2 and outcome.retries == 3


def test_a_missing_stream_is_fatal_not_retried_forever():
    client = boto3.client("kinesis", region_name=REGION)
    with Stubber(client) as stub:
        stub.add_client_error(
            "put_records",
            service_error_code="ResourceNotFoundException",
            service_message="Stream cryptostream-quotes not found",
            http_status_code=400,
        )
        outcome = KinesisPublisher(client, STREAM, sleep=no_sleep).publish([quote("BTC-USD", 1)])
    assert outcome.accepted == [False] and outcome.requests == 1
    assert outcome.fatal and "ResourceNotFoundException" in outcome.fatal


def test_each_pair_keeps_ts_order_in_the_stream(moto):
    kinesis = moto.client("kinesis")
    quotes = [quote(pair, m) for pair in ("BTC-USD", "ETH-USD", "SOL-USD") for m in range(50)]
    KinesisPublisher(kinesis, STREAM).publish(quotes)
    in_stream = stream_quotes(kinesis)
    for pair in ("BTC-USD", "ETH-USD", "SOL-USD"):
        times = [q.ts for q in in_stream if q.pair == pair]
        assert times == sorted(times) and len(times) == 50
