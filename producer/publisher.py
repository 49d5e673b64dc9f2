"""Kinesis PutRecords in batches, retrying only the records Kinesis did not accept.

A call carries at most 500 records and 5 MiB (data plus partition keys). A record that comes back
with an ``ErrorCode`` (throughput exceeded, internal failure) is sent again in the next attempt,
after exponential backoff with full jitter; throttling or 5xx on the whole call retries that whole
batch the same way. After ``max_attempts`` the still-failed records are reported, never dropped
silently: the caller advances watermarks only over accepted records, so the next run sends them again.

Takes any object with boto3's ``put_records`` so tests can inject faults (moto never fails one).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import count

from cryptostream_model.record import Quote
from cryptostream_runtime.retry import RetryPolicy, aws_errors, error_code, is_transient

MAX_RECORDS_PER_CALL = 500
MAX_BYTES_PER_CALL = 5 * 1024 * 1024
MAX_RECORD_BYTES = 1024 * 1024
_RETRYABLE_CALL_ERRORS = frozenset(
    {
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
)


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
        sleep: Callable[[float], None] | None = None,
        jitter: Callable[[float, float], float] | None = None,
    ) -> None:
        self.client = client
        self.stream_name = stream_name
        # Retry n waits up to min(max_delay, base_delay * 2**n), full jitter.
        self.retry = RetryPolicy(
            max_attempts=max(1, max_attempts),
            base_seconds=base_delay,
            cap_seconds=max_delay,
            sleep=sleep,
            uniform=jitter,
        )

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
        for retry in count():
            if not pending:
                break
            if retry:
                if not self.retry.pause(retry):
                    break
                outcome.retries += len(pending)
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
        except aws_errors() as exc:  # a connection reset or read timeout may or may not have landed: retried
            code = error_code(exc)
            outcome.error_codes[code] += len(batch)
            if not is_transient(exc, _RETRYABLE_CALL_ERRORS):
                message = getattr(exc, "response", {}).get("Error", {}).get("Message", "")
                outcome.fatal = f"{code}: {message}"[:300]
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
