"""Properties of what the consumer reports, over many random batches and fault patterns (hypothesis),
on an in-memory table and queue so thousands of scenarios run in seconds. The moto tests check the
real request semantics; these check the bookkeeping: the report is always "every record from the
first unfinished one, minus quarantined poison", everything before it is durable, and redelivery
converges on the fault-free table."""

from __future__ import annotations

import json
import random
from typing import Any

from aws_lambda_powertools.utilities.batch import process_partial_response
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumer.processor import QuoteBatchProcessor
from consumer.settings import ConsumerSettings
from cryptostream_runtime.retry import RetryPolicy
from tests.consumer.events import kinesis_event, quote, sequence_numbers
from tests.consumer.faults import client_error

TABLE = "t"


class MemoryAws:
    """BatchWriteItem, TransactWriteItems (the LATEST condition) and SendMessageBatch in memory, each
    call failing as the seeded fault generator decides."""

    def __init__(self, fault_rate: float, seed: int) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.queue: list[dict[str, Any]] = []
        self.fault_rate, self.rng = fault_rate, random.Random(seed)

    def _faulty(self) -> bool:
        return self.rng.random() < self.fault_rate

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803
        requests = RequestItems[TABLE]
        if self._faulty() and self.rng.random() < 0.5:
            raise client_error("ProvisionedThroughputExceededException", 400)
        cut = self.rng.randrange(len(requests) + 1) if self._faulty() else len(requests)
        for request in requests[:cut]:
            item = request["PutRequest"]["Item"]
            self.items[item["pk"]["S"], item["sk"]["S"]] = item
        return {"UnprocessedItems": {TABLE: requests[cut:]} if cut < len(requests) else {}}

    def transact_write_items(self, TransactItems: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        reasons = []
        for action in TransactItems:
            item = action["Put"]["Item"]
            stored = self.items.get((item["pk"]["S"], item["sk"]["S"]))
            fresh = stored is None or (stored["ts"]["S"], stored["fetched_at"]["S"]) <= (
                item["ts"]["S"],
                item["fetched_at"]["S"],
            )
            reasons.append("None" if fresh else "ConditionalCheckFailed")
        if self._faulty():
            reasons = [r if r != "None" or self.rng.random() < 0.5 else "TransactionConflict" for r in reasons]
            if all(r == "None" for r in reasons):
                raise client_error("InternalServerError", 500)
        if any(r != "None" for r in reasons):
            raise client_error("TransactionCanceledException", 400, CancellationReasons=[{"Code": r} for r in reasons])
        for action in TransactItems:
            item = action["Put"]["Item"]
            self.items[item["pk"]["S"], item["sk"]["S"]] = item
        return {}

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        if self._faulty() and self.rng.random() < 0.5:
            raise client_error("ServiceUnavailable", 503)
        failed = {entry["Id"] for entry in Entries if self._faulty()}
        self.queue += [json.loads(entry["MessageBody"]) for entry in Entries if entry["Id"] not in failed]
        return {
            "Successful": [{"Id": entry["Id"]} for entry in Entries if entry["Id"] not in failed],
            "Failed": [{"Id": i, "SenderFault": False, "Code": "InternalError"} for i in failed],
        }


def invoke(event: dict[str, Any], aws: MemoryAws, max_attempts: int) -> tuple[dict[str, Any], Any]:
    processor = QuoteBatchProcessor(
        ConsumerSettings(TABLE, "q"), aws, aws, backoff=RetryPolicy(max_attempts=max_attempts, sleep=lambda _: None)
    )
    response = process_partial_response(event, processor.record_handler, processor)
    return response, processor.stats


# A record: (pair, bar number, does the fetch clock tick before it) for a valid bar, or None for poison.
# Fetch times never go backwards along the stream, as the producer publishes them; repeated bars with
# equal fetch times are exact duplicates. (A stream carrying an older fetch after a newer one is outside
# the guarantee: history is last-writer-wins in stream order, see docs/serving.md.)
records = st.lists(
    st.one_of(st.tuples(st.sampled_from(["BTC", "ETH", "SOL"]), st.integers(0, 8), st.booleans()), st.none()),
    min_size=1,
    max_size=80,
)


def bodies_of(specs: list[tuple[str, int, bool] | None]) -> list[dict[str, Any]]:
    bodies, minute = [], 0
    for spec in specs:
        if spec is None:
            bodies.append(quote(high="1"))
            continue
        symbol, bar, tick = spec
        minute += tick
        fetched_at = f"2026-11-22T{10 + minute // 60:02d}:{minute % 60:02d}:00Z"
        bodies.append(quote(symbol=symbol, ts=f"2026-11-22T09:{bar * 5:02d}:00Z", fetched_at=fetched_at))
    return bodies


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records, st.sampled_from([0.0, 0.1, 0.25, 0.4]), st.integers(0, 2**32), st.integers(1, 4))
def test_report_is_the_unfinished_suffix_and_redelivery_converges(
    specs: list[Any], fault_rate: float, seed: int, max_attempts: int
) -> None:
    bodies = bodies_of(specs)
    event = kinesis_event(bodies)
    seqs = sequence_numbers(event)
    poison = {seqs[i] for i, spec in enumerate(specs) if spec is None}
    keys = {
        seq: (f"{b['symbol']}-USD#5min", b["ts"], b["fetched_at"])
        for seq, b, spec in zip(seqs, bodies, specs, strict=True)
        if spec is not None
    }

    clean = MemoryAws(0.0, 0)
    invoke(event, clean, 1)

    aws = MemoryAws(fault_rate, seed)
    remaining = event["Records"]
    for _ in range(1000):
        batch_seqs = [r["kinesis"]["sequenceNumber"] for r in remaining]
        queued_before = len(aws.queue)
        response, stats = invoke({"Records": remaining}, aws, max_attempts)
        reported = [failure["itemIdentifier"] for failure in response["batchItemFailures"]]
        quarantined_now = {message["sequence_number"] for message in aws.queue[queued_before:]}

        assert stats.written + stats.duplicates + stats.quarantined + stats.failed == stats.records
        assert stats.quarantined == len(quarantined_now)
        assert not set(reported) & quarantined_now  # parked poison is never retried
        if reported:  # a suffix of the batch from the first unfinished record, minus parked poison
            first = batch_seqs.index(reported[0])
            assert reported == [s for s in batch_seqs[first:] if s not in quarantined_now]
        else:
            first = len(batch_seqs)
        for seq in batch_seqs[:first]:  # everything before it is durable
            if seq in poison:
                assert seq in quarantined_now
            else:
                pk, ts, fetched_at = keys[seq]
                for sk in (ts, "LATEST"):
                    stored = aws.items.get((pk, sk))
                    assert stored is not None and (stored["ts"]["S"], stored["fetched_at"]["S"]) >= (ts, fetched_at)
        if not reported:
            break
        remaining = remaining[first:]
    else:
        raise AssertionError("redelivery never converged")

    assert aws.items == clean.items
    assert {message["sequence_number"] for message in aws.queue} == poison
