"""Fault injectors for the soak: wrappers around real (moto) boto3 clients and around the consumer.

moto never fails on demand, so each wrapper decides, with a seeded random generator, whether a call
fails and how, then either raises what AWS would raise, answers what AWS would answer (a partial
PutRecords, UnprocessedItems) after passing part of the request to moto, or passes the call through.
Every injected fault is counted by kind in one ``FaultBook``.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from cryptostream_model.keys import WATERMARK_SK

THROTTLED = "ProvisionedThroughputExceededException"
FORCED_AT_OPPORTUNITY = 3
BURST_CALLS = 7  # consecutive throttled BatchWriteItem calls in a burst: one more than the consumer's 6 attempts


# What each kind stands for in AWS, and how the soak makes it happen.
FAULT_KINDS = {
    "alphavantage_throttled": "Alpha Vantage answers a rate-limit body (every Nth request, the simulator's fault)",
    "consumer_crash_mid_batch": "the consumer dies right after one of its BatchWriteItem calls reached DynamoDB",
    "duplicate_batch_delivery": "Lambda delivers a batch the consumer already processed once more",
    "dynamodb_throttle_burst": "BatchWriteItem throttled 7 calls in a row, outlasting the consumer's 6 attempts",
    "dynamodb_throttled": "one BatchWriteItem or TransactWriteItems call throttled",
    "dynamodb_unprocessed_items": "BatchWriteItem writes only a prefix and returns the rest as UnprocessedItems",
    "kinesis_partial_failure": "PutRecords accepts some records and refuses others with an ErrorCode",
    "kinesis_throttled": "a whole PutRecords call throttled",
    "poison_record": "a malformed record on the stream (every kind the consumer must quarantine)",
    "producer_crash_before_watermark": "the producer dies after publishing, before saving its watermarks",
    "replayed_record": "an earlier record put on the stream again: a duplicate, out of order",
}


class ConsumerCrash(RuntimeError):
    """The consumer's process dies mid-batch (after part of the batch was written)."""


class ProducerCrash(RuntimeError):
    """The producer dies after publishing, before saving its watermark."""


@dataclass(frozen=True)
class FaultRates:
    """Probabilities per call (or per invocation/run, as named). Zero disables a kind."""

    kinesis_partial_failure: float = 0.3  # per PutRecords: some records come back with an ErrorCode
    kinesis_partial_share: float = 0.15  # up to this share of that call's records fail
    kinesis_throttled: float = 0.05  # per PutRecords: the whole call is throttled
    dynamodb_throttled: float = 0.02  # per BatchWriteItem / TransactWriteItems
    dynamodb_throttle_burst: float = 0.004  # per BatchWriteItem: throttled longer than the consumer retries
    dynamodb_unprocessed: float = 0.04  # per BatchWriteItem: part of the items come back unprocessed
    consumer_crash: float = 0.04  # per consumer invocation: dies after one of its BatchWriteItem calls
    duplicate_delivery: float = 0.03  # per successful invocation: Lambda delivers the same batch again
    producer_crash: float = 0.1  # per producer run (not the first): dies before saving watermarks
    replay_share: float = 0.01  # earlier records re-put on the stream (duplicates, out of order), of quotes
    poison_share: float = 0.01  # malformed records put on the stream, of quotes
    alphavantage_throttle_every_n: int = 7  # every Nth Alpha Vantage request gets a throttle body

    @classmethod
    def none(cls) -> FaultRates:
        return cls(**{name: 0 for name in cls.__dataclass_fields__})


@dataclass
class FaultBook:
    """The seeded dice and the tally of what was injected.

    A kind with a non-zero rate that has not happened by its third opportunity is forced then, so
    even a short soak exercises every kind (the seed still decides everything else)."""

    rates: FaultRates
    seed: int = 1
    injected: Counter[str] = field(default_factory=Counter)
    opportunities: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def roll(self, probability: float, kind: str, force_at: int = FORCED_AT_OPPORTUNITY) -> bool:
        if probability <= 0:
            return False
        self.opportunities[kind] += 1
        overdue = not self.injected[kind] and self.opportunities[kind] >= force_at
        return self.rng.random() < probability or overdue

    def count(self, kind: str, n: int = 1) -> None:
        self.injected[kind] += n

    @property
    def total(self) -> int:
        return sum(self.injected.values())


def client_error(code: str, operation: str, status: int = 400) -> ClientError:
    error = {"Error": {"Code": code, "Message": f"injected {code}"}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(error, operation)  # type: ignore[arg-type]


class _Wrapper:
    """Passes every attribute not overridden to the real client."""

    def __init__(self, client: Any, book: FaultBook) -> None:
        self._client = client
        self._book = book

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class FaultyProducerKinesis(_Wrapper):
    """The producer's Kinesis client: partial PutRecords failures and throttled calls; it also keeps
    every record Kinesis accepted (``accepted``: (data, partition key, sequence number)) for the verifier."""

    def __init__(self, client: Any, book: FaultBook) -> None:
        super().__init__(client, book)
        self.accepted: list[tuple[bytes, str, str]] = []
        self.requests = 0

    def put_records(self, StreamName: str, Records: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:  # noqa: N803
        self.requests += 1
        rates = self._book.rates
        if self._book.roll(rates.kinesis_throttled, "kinesis_throttled"):
            self._book.count("kinesis_throttled")
            raise client_error(THROTTLED, "PutRecords")
        failing: set[int] = set()
        if len(Records) > 1 and self._book.roll(rates.kinesis_partial_failure, "kinesis_partial_failure"):
            share = self._book.rng.uniform(0.01, rates.kinesis_partial_share)
            failing = set(self._book.rng.sample(range(len(Records)), max(1, int(len(Records) * share))))
            self._book.count("kinesis_partial_failure")
            self._book.count("kinesis_records_refused", len(failing))
        sent = [record for index, record in enumerate(Records) if index not in failing]
        answered = iter(self._client.put_records(StreamName=StreamName, Records=sent, **kwargs)["Records"])
        results = []
        for index, record in enumerate(Records):
            if index in failing:
                results.append({"ErrorCode": THROTTLED, "ErrorMessage": "Rate exceeded for shard (injected)"})
                continue
            result = next(answered)
            results.append(result)
            self.accepted.append((record["Data"], record["PartitionKey"], result["SequenceNumber"]))
        return {"FailedRecordCount": len(failing), "Records": results}


class FaultyProducerDynamoDB(_Wrapper):
    """The producer's DynamoDB client: when armed, the run dies on its first watermark update."""

    def __init__(self, client: Any, book: FaultBook) -> None:
        super().__init__(client, book)
        self.crash_before_watermark = False

    def update_item(self, **kwargs: Any) -> dict[str, Any]:
        if kwargs.get("Key", {}).get("sk", {}).get("S") == WATERMARK_SK:
            self._maybe_crash()
        return self._client.update_item(**kwargs)

    def transact_write_items(self, **kwargs: Any) -> dict[str, Any]:
        # WATERMARK_WRITES=transaction saves the watermarks this way
        if any(
            item.get("Update", {}).get("Key", {}).get("sk", {}).get("S") == WATERMARK_SK
            for item in kwargs.get("TransactItems", [])
        ):
            self._maybe_crash()
        return self._client.transact_write_items(**kwargs)

    def _maybe_crash(self) -> None:
        if self.crash_before_watermark:
            self.crash_before_watermark = False
            self._book.count("producer_crash_before_watermark")
            raise ProducerCrash("injected: producer died after publishing, before saving its watermark")


class FaultyConsumerDynamoDB(_Wrapper):
    """The consumer's DynamoDB client: throttling, UnprocessedItems, and a crash after a chosen
    BatchWriteItem call of an invocation (that call reaches moto first: part of the batch is written)."""

    def __init__(self, client: Any, book: FaultBook) -> None:
        super().__init__(client, book)
        self.crash_after_call: int | None = None  # set per invocation by FaultyConsumer
        self.calls_this_invocation = 0
        self.burst_left = 0

    def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]], **kwargs: Any) -> dict[str, Any]:  # noqa: N803
        rates = self._book.rates
        self.calls_this_invocation += 1
        if self.burst_left or self._book.roll(rates.dynamodb_throttle_burst, "dynamodb_throttle_burst"):
            # longer than the consumer's own retries: it reports the rest of the batch to Lambda to retry
            if not self.burst_left:
                self.burst_left = BURST_CALLS
                self._book.count("dynamodb_throttle_burst")
            self.burst_left -= 1
            raise client_error(THROTTLED, "BatchWriteItem")
        if self._book.roll(rates.dynamodb_throttled, "dynamodb_throttled"):
            self._book.count("dynamodb_throttled")
            raise client_error(THROTTLED, "BatchWriteItem")
        ((table, requests),) = RequestItems.items()
        back: list[dict[str, Any]] = []
        if len(requests) > 1 and self._book.roll(rates.dynamodb_unprocessed, "dynamodb_unprocessed_items"):
            cut = self._book.rng.randrange(1, len(requests))
            requests, back = requests[:cut], requests[cut:]
            self._book.count("dynamodb_unprocessed_items")
        response = self._client.batch_write_item(RequestItems={table: requests}, **kwargs)
        if self.crash_after_call == self.calls_this_invocation:
            self.crash_after_call = None
            self._book.count("consumer_crash_mid_batch")
            raise ConsumerCrash("injected: consumer died mid-batch after a BatchWriteItem")
        unprocessed = list(response.get("UnprocessedItems", {}).get(table, [])) + back
        return {**response, "UnprocessedItems": {table: unprocessed} if unprocessed else {}}

    def transact_write_items(self, **kwargs: Any) -> dict[str, Any]:
        if self._book.roll(self._book.rates.dynamodb_throttled, "dynamodb_throttled"):
            self._book.count("dynamodb_throttled")
            raise client_error(THROTTLED, "TransactWriteItems")
        return self._client.transact_write_items(**kwargs)


Handler = Callable[[dict[str, Any], Any], Any]


class FaultyConsumer:
    """Wraps the consumer handler as the event source mapping calls it: arms a mid-batch crash for
    some invocations and delivers some successful batches a second time (Lambda is at-least-once)."""

    def __init__(self, handler: Handler, dynamodb: FaultyConsumerDynamoDB, book: FaultBook) -> None:
        self._handler = handler
        self._dynamodb = dynamodb
        self._book = book

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        response = self._invoke(event, context)
        failures = response.get("batchItemFailures") if isinstance(response, dict) else None
        if not failures and self._book.roll(self._book.rates.duplicate_delivery, "duplicate_batch_delivery"):
            self._book.count("duplicate_batch_delivery")
            self._invoke(event, context, may_crash=False)  # a crash here would be invisible to Lambda
        return response

    def _invoke(self, event: dict[str, Any], context: Any, may_crash: bool = True) -> Any:
        self._dynamodb.calls_this_invocation = 0
        self._dynamodb.crash_after_call = None
        if may_crash and self._book.roll(self._book.rates.consumer_crash, "consumer_crash_mid_batch"):
            chunks = max(1, len(event.get("Records", [])) // 25)
            self._dynamodb.crash_after_call = self._book.rng.randint(1, chunks)
        try:
            return self._handler(event, context)
        finally:
            self._dynamodb.crash_after_call = None
