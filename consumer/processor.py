"""Powertools' Kinesis BatchProcessor with a batched write stage after its per-record stage.

Built on the extension points Powertools documents for a custom partial processor ("Create your own
partial processor": ``_prepare``, ``_process_record``, ``success_handler``/``failure_handler``,
``_clean``), as its own example does when it writes a batch's results to DynamoDB in ``_clean``:

- ``_prepare``: fresh stats and verdicts; the cyclic garbage collector paused for the CPU-only stage.
- Per record (Powertools' ``_process_record``, unchanged): decode and validate into an item or a
  poison verdict, no I/O. ``success_handler``/``failure_handler`` only keep the verdict: a valid
  record is not done until it is written.
- ``_clean``, once per batch: quarantine poison (SendMessageBatch), write history (BatchWriteItem) and
  move LATEST forward (conditional TransactWriteItems); then each record goes through Powertools' own
  ``success_handler`` or ``failure_handler``, in batch order: failed from the first record not written
  durably on (quarantined poison excepted), so ``response()`` tells Lambda to resume exactly there.
"""

from __future__ import annotations

import gc
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    ExceptionInfo,
    FailureResponse,
    SuccessResponse,
)
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


class RecordNotWritten(Exception):
    """Reported to Lambda: the record, or one before it that it depends on, is not durably written yet."""


class QuoteBatchProcessor(BatchProcessor):
    def __init__(self, settings: ConsumerSettings, dynamodb: Any, sqs: Any, backoff: RetryPolicy | None = None) -> None:
        super().__init__(event_type=EventType.KinesisDataStreams, raise_on_entire_batch_failure=False)
        self.settings = settings
        self.dynamodb = dynamodb
        self.sqs = sqs
        self._backoff = backoff
        self.stats = BatchStats()
        self._verdicts: list[Accepted | Rejected | None] = []  # per record, in batch order
        self._errors: dict[int, ExceptionInfo] = {}  # records whose per-record stage raised
        self._resume_gc = False

    def record_handler(self, record: KinesisStreamRecord) -> Accepted | Rejected:
        """Powertools' per-record handler."""
        return decode_record(record.raw_event["kinesis"], self.settings.history_ttl_days)

    # Powertools' hooks, in the order it calls them ----------------------------------------------------
    def _prepare(self) -> None:
        super()._prepare()
        self.stats = BatchStats()
        self._verdicts, self._errors = [], {}
        # The per-record stage allocates several objects per record, all kept until the batch is
        # written. With the cyclic collector running, 5,000 records set off ~120 collections, and now
        # and then a full one that walks every boto3 object of a warm Lambda (tens of ms); paused, ~10.
        # They hold no cycles, reference counting still frees garbage, and ``_clean`` resumes
        # collection before any I/O (this stage does none).
        self._resume_gc = gc.isenabled()
        gc.disable()

    def success_handler(self, record: dict, result: Accepted | Rejected) -> SuccessResponse:
        """Per-record stage: keep the verdict; the record succeeds in ``_clean`` once it is written."""
        self._verdicts.append(result)
        return "success", result, record

    def failure_handler(self, record: KinesisStreamRecord, exception: ExceptionInfo) -> FailureResponse:
        """Per-record stage raised (a bug, not poison): the record is left for Lambda to retry."""
        self._errors[len(self._verdicts)] = exception
        self._verdicts.append(None)
        return "fail", f"{exception[0]}:{exception[1]}", record

    def _clean(self) -> None:
        if self._resume_gc:
            gc.enable()
        self._write_stage()
        super()._clean()  # builds batchItemFailures from the records reported failed

    # the batched write stage ----------------------------------------------------------------------------
    def _backoff_for_batch(self) -> RetryPolicy:
        if self._backoff is not None:
            return self._backoff
        backoff = RetryPolicy()
        remaining_ms = getattr(getattr(self, "lambda_context", None), "get_remaining_time_in_millis", None)
        if remaining_ms is not None:
            remaining = remaining_ms() / 1000
            backoff.deadline = time.monotonic() + remaining - min(_DEADLINE_MARGIN_SECONDS, remaining / 5)
        return backoff

    def _write_stage(self) -> None:
        records: list[dict] = self.records
        stats, settings, backoff = self.stats, self.settings, self._backoff_for_batch()
        unfinished: set[int] = set()
        accepted: list[tuple[int, Accepted]] = []
        poison: list[Quarantined] = []
        for index, record in enumerate(records):
            verdict = self._verdicts[index] if index < len(self._verdicts) else None
            if verdict is None:  # the per-record stage raised (or never ran): let Lambda retry it
                unfinished.add(index)
            elif type(verdict) is Accepted:
                accepted.append((index, verdict))
            else:
                poison.append(Quarantined(index, verdict, record))

        not_sent = send_to_quarantine(self.sqs, settings.quarantine_queue_url, poison, backoff, stats) if poison else []
        unfinished.update(not_sent)
        # The first record not durably handled; Lambda redelivers everything from there on, so nothing
        # from there on is written now, and duplicates are chosen among the records before it: a kept
        # copy beyond it would hold its earlier duplicates back until one delivery in which everything up
        # to that copy succeeds at once (found by the redelivery property under heavy faults).
        cut = min(unfinished, default=len(records))
        choice = dedupe([(index, verdict) for index, verdict in accepted if index < cut])
        first = choice.settle(cut)

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

        refused = set(not_sent)
        quarantined = {item.index: item.rejected.code for item in poison if item.index not in refused}
        self._account(records, first, choice.kept.values(), choice.duplicates.keys(), quarantined)

    def _account(
        self,
        records: list[dict],
        first: int,
        kept: Iterable[int],
        duplicates: Iterable[int],
        quarantined: dict[int, str],
    ) -> None:
        """Stats, then each record through Powertools' own success or failure bookkeeping, in batch
        order: from ``first`` on every record but quarantined poison is reported."""
        stats = self.stats
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

        not_written = RecordNotWritten(f"not written durably from record {first} of {len(records)} on")
        failed = set(reported)
        for index, record in enumerate(records):
            if index in failed:
                error = self._errors.get(index) or (RecordNotWritten, not_written, None)
                super().failure_handler(record=KinesisStreamRecord(record), exception=error)
            else:
                super().success_handler(record=record, result=self._verdicts[index])
