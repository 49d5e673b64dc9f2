"""Powertools' Kinesis BatchProcessor with a batched write stage after its per-record stage.

Per record (Powertools' loop): decode and validate into an item or a poison verdict, no I/O.
Then once per batch: quarantine poison (SendMessageBatch), write history (BatchWriteItem) and move
LATEST forward (conditional TransactWriteItems). Whatever could not be written durably becomes
Powertools' failed records, from the first unwritten record on, so ``response()`` tells Lambda to
resume exactly there; quarantined poison is never among them.
"""

from __future__ import annotations

import gc
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord

from consumer.dynamodb_writer import write_bars, write_latest
from consumer.items import latest_item
from consumer.plan import dedupe, newest_per_pk
from consumer.quarantine import Quarantined, send_to_quarantine
from consumer.records import Accepted, Rejected, decode_record
from consumer.settings import ConsumerSettings
from consumer.stats import BatchStats
from cryptostream_runtime.retry import RetryPolicy

# Stop retrying this long before the function's timeout so the response still reaches Lambda.
_DEADLINE_MARGIN_SECONDS = 5.0


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """The per-record stage allocates several objects per record, all kept until the batch is written.
    With the cyclic collector running, 5,000 records set off ~120 collections, and now and then a full
    one that walks every boto3 object of a warm Lambda (tens of ms); paused, ~10. They hold no
    cycles, reference counting still frees garbage, and collection resumes right after this
    CPU-only stage (no I/O happens inside it)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class QuoteBatchProcessor(BatchProcessor):
    def __init__(self, settings: ConsumerSettings, dynamodb: Any, sqs: Any, backoff: RetryPolicy | None = None) -> None:
        super().__init__(event_type=EventType.KinesisDataStreams, raise_on_entire_batch_failure=False)
        self.settings = settings
        self.dynamodb = dynamodb
        self.sqs = sqs
        self._backoff = backoff
        self.stats = BatchStats()

    def record_handler(self, record: KinesisStreamRecord) -> Accepted | Rejected:
        """Powertools' per-record handler."""
        return decode_record(record.raw_event["kinesis"], self.settings.history_ttl_days)

    def _prepare(self) -> None:
        super()._prepare()
        self.stats = BatchStats()

    def process(self) -> list[tuple]:
        with _cyclic_gc_paused():
            results = super().process()
        self._write_stage(results)
        return results

    def _backoff_for_batch(self) -> RetryPolicy:
        if self._backoff is not None:
            return self._backoff
        backoff = RetryPolicy()
        remaining_ms = getattr(getattr(self, "lambda_context", None), "get_remaining_time_in_millis", None)
        if remaining_ms is not None:
            remaining = remaining_ms() / 1000
            backoff.deadline = time.monotonic() + remaining - min(_DEADLINE_MARGIN_SECONDS, remaining / 5)
        return backoff

    def _write_stage(self, results: list[tuple]) -> None:
        records: list[dict] = self.records
        stats, settings, backoff = self.stats, self.settings, self._backoff_for_batch()
        unfinished: set[int] = set()
        accepted: list[tuple[int, Accepted]] = []
        poison: list[Quarantined] = []
        for index, (status, result, _) in enumerate(results):
            if status != "success":  # an unexpected error in the per-record stage: let Lambda retry it
                unfinished.add(index)
            elif type(result) is Accepted:
                accepted.append((index, result))
            else:
                poison.append(Quarantined(index, result, records[index]))

        choice = dedupe(accepted)
        not_sent = send_to_quarantine(self.sqs, settings.quarantine_queue_url, poison, backoff, stats) if poison else []
        unfinished.update(not_sent)
        # The first record not durably handled; Lambda redelivers everything from there on, so
        # nothing from there on is written now.
        first = choice.settle(min(unfinished, default=len(records)))

        items = dict(accepted)
        bars = sorted((index, items[index].item) for index in choice.kept.values() if index < first)
        unfinished.update(write_bars(self.dynamodb, settings.table_name, bars, backoff, stats))
        first = choice.settle(min(unfinished, default=first))

        # LATEST copies the newest history item written durably; a redelivery moves it on from there.
        # Every record of a pk counts on that pk's LATEST: when it cannot be moved, none of them is done.
        newest = newest_per_pk(items, (index for index in choice.kept.values() if index < first))
        latest = sorted((index, latest_item(items[index].item)) for index in newest.values())
        not_moved = write_latest(self.dynamodb, settings.table_name, latest, backoff, stats)
        unfinished.update(choice.first_of_pk[items[index].pk] for index in not_moved)
        first = choice.settle(min(unfinished, default=first))

        self._account(records, first, choice.kept.values(), choice.duplicates.keys(), poison, set(not_sent))

    def _account(
        self,
        records: list[dict],
        first: int,
        kept: Iterable[int],
        duplicates: Iterable[int],
        poison: list[Quarantined],
        not_sent: set[int],
    ) -> None:
        stats = self.stats
        quarantined = {item.index: item.rejected.code for item in poison if item.index not in not_sent}
        reported = [index for index in range(first, len(records)) if index not in quarantined]
        stats.records = len(records)
        stats.written = sum(1 for index in kept if index < first)
        stats.duplicates = sum(1 for index in duplicates if index < first)
        stats.quarantined = len(quarantined)
        stats.quarantined_by_reason = Counter(quarantined.values())
        stats.failed = len(reported)
        if records:
            stats.shard_id = str(records[0].get("eventID", "")).partition(":")[0]
        if reported:
            stats.first_failed_sequence_number = records[reported[0]]["kinesis"]["sequenceNumber"]
        now = time.time()
        lags = [now - float(record["kinesis"].get("approximateArrivalTimestamp") or now) for record in records]
        if lags:
            stats.ingest_lag_ms_max = round(max(lags) * 1000, 1)
            stats.ingest_lag_ms_mean = round(sum(lags) / len(lags) * 1000, 1)
        # Powertools builds batchItemFailures from fail_messages when the context manager exits.
        self.fail_messages = [KinesisStreamRecord(records[index]) for index in reported]
        if reported or len(self.success_messages) != len(records):
            unfinished = set(reported)
            self.success_messages = [record for index, record in enumerate(records) if index not in unfinished]
