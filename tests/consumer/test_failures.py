"""Transient failures become batchItemFailures from the first record not durably handled; nothing is lost,
nothing poison is ever reported, and Lambda's redelivery converges on the same table as a clean run."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.consumer.conftest import TABLE, Aws
from tests.consumer.events import kinesis_event, quote, sequence_numbers
from tests.consumer.faults import (
    FaultyClient,
    Randomly,
    Script,
    client_error,
    server_error,
    sqs_entries_fail,
    throttled,
    unprocessed_tail,
    unreachable,
    validation_error,
)
from tests.consumer.helpers import consume, failed_sequence_numbers, redeliver_until_done


def bars(count: int, symbol: str = "BTC", start_minute: int = 0) -> list[dict[str, Any]]:
    """Distinct consecutive 5min bars of one pair."""
    out = []
    for n in range(start_minute, start_minute + count):
        day, minutes = divmod(n * 5, 24 * 60)
        ts = f"2026-11-{22 + day:02d}T{minutes // 60:02d}:{minutes % 60:02d}:00Z"
        out.append(quote(symbol=symbol, ts=ts, fetched_at=ts))
    return out


POISON = quote(high="1")  # high_below_low


def test_throttling_and_5xx_are_retried_within_the_invocation(aws: Aws) -> None:
    dynamodb = FaultyClient(
        aws.dynamodb, batch_write_item=Script(throttled, server_error), transact_write_items=Script(throttled)
    )
    response, stats = consume(kinesis_event(bars(30)), aws, dynamodb=dynamodb)
    assert response == {"batchItemFailures": []}
    assert (stats.written, stats.retries) == (30, 3)
    assert stats.dynamodb_requests == 2 + 2 + 1 + 1  # 2 chunks + 2 retries, 1 transaction + 1 retry
    assert len(aws.table_items()) == 31


def test_throttling_that_outlasts_the_retries_reports_the_whole_batch(aws: Aws) -> None:
    event = kinesis_event(bars(30))
    dynamodb = FaultyClient(aws.dynamodb, batch_write_item=Script(then=throttled))
    response, stats = consume(event, aws, dynamodb=dynamodb, max_attempts=4)
    assert failed_sequence_numbers(response) == sequence_numbers(event)
    assert (stats.written, stats.failed, stats.retries) == (0, 30, 3)
    assert len(dynamodb.calls["batch_write_item"]) == 4  # later chunks are not attempted
    assert aws.table_items() == []
    redeliver_until_done(event, aws)
    assert len(aws.table_items()) == 31


def test_unprocessed_items_that_never_drain_report_from_the_first_unwritten_record(aws: Aws) -> None:
    event = kinesis_event(bars(60))  # chunks of 25: [0, 25), [25, 50), [50, 60)
    seqs = sequence_numbers(event)
    dynamodb = FaultyClient(aws.dynamodb, batch_write_item=Script(None, then=unprocessed_tail(5)))
    response, stats = consume(event, aws, dynamodb=dynamodb)
    assert failed_sequence_numbers(response) == seqs[45:]
    assert (stats.written, stats.failed) == (45, 15)
    assert len(aws.table_items()) == 46  # records 0..44 and LATEST = record 44; the rest waits for the retry
    assert aws.item("BTC-USD#5min", "LATEST")["ts"]["S"] == bars(60)[44]["ts"]
    redeliver_until_done(event, aws)
    assert aws.item("BTC-USD#5min", "LATEST")["ts"]["S"] == bars(60)[-1]["ts"]
    assert len(aws.table_items()) == 61


def test_unprocessed_items_that_drain_are_written(aws: Aws) -> None:
    dynamodb = FaultyClient(aws.dynamodb, batch_write_item=Script(unprocessed_tail(10), unprocessed_tail(3)))
    response, stats = consume(kinesis_event(bars(25)), aws, dynamodb=dynamodb)
    assert response == {"batchItemFailures": []}
    assert [len(call["RequestItems"][TABLE]) for call in dynamodb.calls["batch_write_item"]] == [25, 10, 3]
    assert stats.retries == 2
    assert len(aws.table_items()) == 26


def test_a_permanent_error_is_not_retried_but_still_reported(aws: Aws) -> None:
    event = kinesis_event(bars(5))
    dynamodb = FaultyClient(aws.dynamodb, batch_write_item=Script(then=validation_error))
    response, stats = consume(event, aws, dynamodb=dynamodb)
    assert failed_sequence_numbers(response) == sequence_numbers(event)
    assert (stats.dynamodb_requests, stats.retries) == (1, 0)


def test_poison_after_the_failure_point_is_quarantined_and_never_reported(aws: Aws) -> None:
    event = kinesis_event([*bars(30), POISON, *bars(5, start_minute=100)])
    seqs = sequence_numbers(event)
    dynamodb = FaultyClient(aws.dynamodb, batch_write_item=Script(None, then=throttled))
    response, stats = consume(event, aws, dynamodb=dynamodb)
    assert failed_sequence_numbers(response) == seqs[25:30] + seqs[31:]
    assert (stats.written, stats.quarantined, stats.failed) == (25, 1, 10)
    (message,) = aws.quarantine_messages()
    assert json.loads(message["Body"])["sequence_number"] == seqs[30]


def test_unreachable_quarantine_queue_reports_from_the_first_poison_record(aws: Aws) -> None:
    event = kinesis_event([*bars(2), POISON, *bars(1, start_minute=2), POISON, *bars(1, start_minute=3)])
    seqs = sequence_numbers(event)
    sqs = FaultyClient(aws.sqs, send_message_batch=Script(then=unreachable))
    response, stats = consume(event, aws, sqs=sqs, max_attempts=3)
    assert failed_sequence_numbers(response) == seqs[2:]  # includes the poison that could not be parked
    assert (stats.written, stats.quarantined, stats.failed, stats.sqs_requests) == (2, 0, 4, 3)
    assert aws.item("BTC-USD#5min", "LATEST")["ts"]["S"] == bars(2)[-1]["ts"]
    assert len(aws.table_items()) == 3  # records 0, 1 and LATEST; those after the poison wait for the retry

    history = redeliver_until_done(event, aws)
    assert [stats.quarantined for stats in history] == [2]
    assert sorted(json.loads(m["Body"])["sequence_number"] for m in aws.quarantine_messages()) == [seqs[2], seqs[4]]
    assert len(aws.table_items()) == 5


def test_failed_queue_entries_are_resent_and_refused_ones_reported(aws: Aws) -> None:
    event = kinesis_event([POISON] * 12)
    sqs = FaultyClient(aws.sqs, send_message_batch=Script(sqs_entries_fail(3)))
    response, stats = consume(event, aws, sqs=sqs)
    assert response == {"batchItemFailures": []}
    assert (stats.quarantined, stats.sqs_requests, stats.retries) == (12, 3, 1)
    assert len(aws.quarantine_messages()) == 12

    sqs = FaultyClient(aws.sqs, send_message_batch=Script(sqs_entries_fail(1, sender_fault=True)))
    response, stats = consume(event, aws, sqs=sqs)
    assert failed_sequence_numbers(response) == sequence_numbers(event)[9:10]  # entry 9 of the first 10
    assert (stats.quarantined, stats.failed) == (11, 1)


def test_latest_that_cannot_be_moved_reports_from_the_first_record_of_its_pair(aws: Aws) -> None:
    eth = [quote(symbol="ETH", ts=b["ts"], open="3000", high="3000", low="3000", close="3000") for b in bars(2)]
    event = kinesis_event([*bars(2), *eth, *bars(1, start_minute=2)])  # BTC 0, 1, 4 and ETH 2, 3
    dynamodb = FaultyClient(aws.dynamodb, transact_write_items=Script(then=throttled))
    response, stats = consume(event, aws, dynamodb=dynamodb, max_attempts=3)
    # BTC's LATEST (record 4) and ETH's (record 3) never move: every record of both pairs counts on them
    assert failed_sequence_numbers(response) == sequence_numbers(event)
    assert (stats.written, stats.failed) == (0, 5)
    assert len(aws.table_items()) == 5  # all history landed; the LATEST items wait for the retry
    redeliver_until_done(event, aws)
    assert aws.item("ETH-USD#5min", "LATEST")["ts"]["S"] == eth[-1]["ts"]
    assert aws.item("BTC-USD#5min", "LATEST")["ts"]["S"] == bars(3)[-1]["ts"]


def test_latest_failing_for_one_pair_keeps_the_records_before_its_first(aws: Aws) -> None:
    eth = quote(symbol="ETH", open="3000", high="3000", low="3000", close="3000")
    event = kinesis_event([*bars(2), eth])  # ETH's only record is the last one

    def cancel_eth(real: Any, kwargs: dict[str, Any]) -> Any:  # ETH's put is refused for good, BTC's rolled back
        pks = [action["Put"]["Item"]["pk"]["S"] for action in kwargs["TransactItems"]]
        if all(pk.startswith("BTC") for pk in pks):
            return real(**kwargs)
        reasons = [{"Code": "ValidationError" if pk.startswith("ETH") else "None"} for pk in pks]
        raise client_error("TransactionCanceledException", 400, CancellationReasons=reasons)

    dynamodb = FaultyClient(aws.dynamodb, transact_write_items=Script(then=cancel_eth))
    response, stats = consume(event, aws, dynamodb=dynamodb)
    assert failed_sequence_numbers(response) == sequence_numbers(event)[2:]
    assert (stats.written, stats.failed, stats.latest_written) == (2, 1, 1)  # BTC alone, resent at once
    assert aws.item("BTC-USD#5min", "LATEST") is not None


def wipe(aws: Aws) -> None:
    for item in aws.table_items():
        aws.dynamodb.delete_item(TableName=TABLE, Key={"pk": item["pk"], "sk": item["sk"]})
    aws.quarantine_messages()


def test_redelivery_under_random_faults_converges_on_the_clean_result(aws: Aws) -> None:
    bodies: list[Any] = []
    for n, (btc, eth) in enumerate(zip(bars(120), bars(120, symbol="ETH"), strict=True)):
        bodies += [btc, {**eth, "open": "3000", "high": "3001", "low": "2999", "close": "3000"}]
        if n % 10 == 3:
            bodies.append({**btc, "fetched_at": "2026-11-30T00:00:00Z", "close": "67002"})  # a refetch: duplicate
        if n % 17 == 5:
            bodies.append(POISON)
    event = kinesis_event(bodies)
    poison = {seq for seq, body in zip(sequence_numbers(event), bodies, strict=True) if body is POISON}

    consume(event, aws)
    clean = aws.table_items()
    wipe(aws)

    dynamodb = FaultyClient(
        aws.dynamodb,
        batch_write_item=Randomly([throttled, server_error, unprocessed_tail(4)], p=0.3, seed=7),
        transact_write_items=Randomly([throttled, server_error], p=0.5, seed=8),
    )
    sqs = FaultyClient(aws.sqs, send_message_batch=Randomly([unreachable, sqs_entries_fail(2)], p=0.5, seed=9))
    history = redeliver_until_done(event, aws, dynamodb=dynamodb, sqs=sqs, max_attempts=2)

    assert len(history) > 1  # the faults did force redeliveries
    assert aws.table_items() == clean
    quarantined = {json.loads(m["Body"])["sequence_number"] for m in aws.quarantine_messages()}
    assert quarantined == poison  # at least once each (a redelivered batch may park one again)


def test_a_record_the_per_record_stage_cannot_handle_is_retried_not_dropped(aws: Aws) -> None:
    event = kinesis_event(bars(4))
    del event["Records"][2]["kinesis"]["approximateArrivalTimestamp"]  # not a shape Lambda delivers
    response, stats = consume(event, aws)
    assert failed_sequence_numbers(response) == sequence_numbers(event)[2:]
    assert (stats.written, stats.failed) == (2, 2)


class VirtualTime:
    """time.monotonic and time.sleep on a virtual clock: sleeping advances it, nothing waits."""

    def __init__(self) -> None:
        self.now, self.slept = 1000.0, 0.0

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


def test_retries_stop_before_the_function_times_out(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    from aws_lambda_powertools.utilities.batch import process_partial_response

    from consumer.processor import QuoteBatchProcessor
    from consumer.settings import ConsumerSettings
    from tests.consumer.conftest import FakeLambdaContext

    clock = VirtualTime()
    monkeypatch.setattr("cryptostream_runtime.retry.time", clock)
    monkeypatch.setattr("consumer.processor.time", clock)
    event = kinesis_event(bars(3))
    dynamodb = FaultyClient(aws.dynamodb, batch_write_item=Script(then=throttled))
    processor = QuoteBatchProcessor(ConsumerSettings(TABLE, aws.queue_url), dynamodb=dynamodb, sqs=aws.sqs)
    context = FakeLambdaContext(remaining_ms=10_000)  # retries must end by 10 s - 2 s margin
    response = process_partial_response(event, processor.record_handler, processor, context)
    assert failed_sequence_numbers(response) == sequence_numbers(event)
    assert clock.slept <= 8.0
    assert processor.stats.retries == 5  # the attempt budget, each pause well inside the deadline

    clock.slept = 0.0
    processor = QuoteBatchProcessor(ConsumerSettings(TABLE, aws.queue_url), dynamodb=dynamodb, sqs=aws.sqs)
    context = FakeLambdaContext(remaining_ms=500)  # little time left: stop long before the attempt budget
    response = process_partial_response(event, processor.record_handler, processor, context)
    assert failed_sequence_numbers(response) == sequence_numbers(event)
    assert clock.slept <= 0.4  # unbounded by the deadline, the five pauses average 1.55 s
