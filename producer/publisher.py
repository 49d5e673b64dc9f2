"""Kinesis PutRecords in batches, retrying only the records Kinesis did not accept.

A call carries at most 500 records and 5 MiB (data plus partition keys). A record that comes back
with an ``ErrorCode`` (throughput exceeded, internal failure) is sent again in the next attempt,
after exponential backoff with full jitter; throttling or 5xx on the whole call retries that whole
batch the same way. After ``max_attempts`` the still-failed records are reported, never dropped
silently: the caller advances watermarks only over accepted records, so the next run sends them again.

Takes any object with boto3's ``put_records`` so tests can inject faults (moto never fails one).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError

from cryptostream_model.record import Quote

MAX_RECORDS_PER_CALL = 500
MAX_BYTES_PER_CALL = 5 * 1024 * 1024
MAX_RECORD_BYTES = 1024 * 1024
_RETRYABLE_CALL_ERRORS = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "LimitExceededException",
    "KMSThrottlingException",
    "InternalFailure",
    "InternalFailureException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "RequestTimeout",
}


@dataclass
class PublishOutcome:
    """Per-record acceptance (same order as the input) and what it cost."""

    accepted: list[bool]
    requests: int = 0
    retries: int = 0
    error_codes: Counter[str] = field(default_factory=Counter)
    fatal: str | None = None  # a non-retryable error (missing stream, access denied) stopped publishing

    @property
    def published(self) -> int:
        return sum(self.accepted)

    @property
    def failed(self) -> int:
        return len(self.accepted) - self.published


@dataclass(frozen=True, slots=True)
class _Entry:
    index: int
    data: bytes
    partition_key: str
    size: int  # what counts against the 5 MiB limit: data plus partition key


def batches(entries: Sequence[_Entry]) -> Iterator[list[_Entry]]:
    """Consecutive slices within PutRecords' limits of 500 records and 5 MiB."""
    batch: list[_Entry] = []
    size = 0
    for entry in entries:
        if batch and (len(batch) == MAX_RECORDS_PER_CALL or size + entry.size > MAX_BYTES_PER_CALL):
            yield batch
            batch, size = [], 0
        batch.append(entry)
        size += entry.size
    if batch:
        yield batch


class KinesisPublisher:
    def __init__(
        self,
        client: object,
        stream_name: str,
        *,
        max_attempts: int = 6,
        base_delay: float = 0.1,
        max_delay: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.client = client
        self.stream_name = stream_name
        self.max_attempts = max(1, max_attempts)
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._sleep = sleep
        self._jitter = jitter

    def publish(self, quotes: Sequence[Quote]) -> PublishOutcome:
        return self.publish_raw([(quote.to_json(), quote.partition_key) for quote in quotes])

    def publish_raw(self, records: Sequence[tuple[bytes, str]]) -> PublishOutcome:
        """Publish ``(data, partition_key)`` pairs; the outcome's ``accepted`` follows their order."""
        outcome = PublishOutcome(accepted=[False] * len(records))
        pending = []
        for index, (data, key) in enumerate(records):
            entry = _Entry(index, data, key, len(data) + len(key.encode()))
            if entry.size > MAX_RECORD_BYTES:
                outcome.error_codes["RecordTooLarge"] += 1
                continue
            pending.append(entry)
        for attempt in range(1, self.max_attempts + 1):
            if not pending:
                break
            if attempt > 1:
                outcome.retries += len(pending)
                self._sleep(self._jitter(0.0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1))))
            failed: list[_Entry] = []
            for batch in batches(pending):
                failed.extend(self._put(batch, outcome))
                if outcome.fatal:
                    return outcome
            pending = failed
        return outcome

    def _put(self, batch: list[_Entry], outcome: PublishOutcome) -> list[_Entry]:
        """One PutRecords call; returns the entries to try again."""
        outcome.requests += 1
        try:
            response = self.client.put_records(
                StreamName=self.stream_name,
                Records=[{"Data": entry.data, "PartitionKey": entry.partition_key} for entry in batch],
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "ClientError")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            outcome.error_codes[code] += len(batch)
            if code in _RETRYABLE_CALL_ERRORS or status >= 500:
                return batch
            outcome.fatal = f"{code}: {exc.response.get('Error', {}).get('Message', '')}"[:300]
            return batch
        except BotoCoreError as exc:  # connection reset, read timeout: the call may or may not have landed
            outcome.error_codes[type(exc).__name__] += len(batch)
            return batch
        failed = []
        for entry, result in zip(batch, response.get("Records", []), strict=False):
            if result.get("ErrorCode"):
                outcome.error_codes[result["ErrorCode"]] += 1
                failed.append(entry)
            else:
                outcome.accepted[entry.index] = True
        # A response shorter than the request would be a service bug; never count missing answers as accepted.
        failed.extend(batch[len(response.get("Records", [])) :])
        return failed
