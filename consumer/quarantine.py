"""Poison records to the quarantine queue (SQS), 10 per SendMessageBatch, with what an operator needs
to understand and redrive them: reason, original payload, shard, sequence number, partition key."""

from __future__ import annotations

import base64
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from consumer.items import iso_millis
from consumer.records import Rejected
from consumer.stats import BatchStats
from cryptostream_runtime.retry import RetryPolicy, aws_errors, is_transient

logger = logging.getLogger(__name__)

SEND_BATCH_LIMIT = 10  # SendMessageBatch's per-call maximum
SEND_BATCH_MAX_BYTES = 240 * 1024  # under SQS's 256 KiB per request, with room for attributes
MAX_PAYLOAD_BYTES = 64 * 1024  # Kinesis records can be far larger than a queue message


@dataclass(slots=True)
class Quarantined:
    """One poison record on its way to the queue."""

    index: int
    rejected: Rejected
    record: dict  # the record of Lambda's event, for its shard, sequence number and partition key


def quarantine_message(poison: Quarantined, now: float) -> str:
    kinesis = poison.record["kinesis"]
    payload = poison.rejected.payload
    body: dict[str, Any] = {"reason": poison.rejected.reason, "reason_code": poison.rejected.code}
    if isinstance(payload, bytes):
        truncated = len(payload) > MAX_PAYLOAD_BYTES
        if truncated:
            body["payload_bytes"] = len(payload)
            body["payload_truncated"] = True
            payload = payload[:MAX_PAYLOAD_BYTES]
        try:
            body["payload"] = payload.decode()
        except UnicodeDecodeError:
            body["payload"] = base64.b64encode(payload).decode()
            body["payload_encoding"] = "base64"
    else:  # the record's data did not decode from base64: keep it as Lambda delivered it
        body["payload"] = payload[: MAX_PAYLOAD_BYTES * 4 // 3]
        body["payload_encoding"] = "base64-invalid"
    body |= {
        "partition_key": kinesis.get("partitionKey"),
        "sequence_number": kinesis.get("sequenceNumber"),
        "shard_id": poison.record.get("eventID", "").partition(":")[0],
        "event_source_arn": poison.record.get("eventSourceARN"),
        "approximate_arrival": iso_millis(float(kinesis.get("approximateArrivalTimestamp") or 0)),
        "quarantined_at": iso_millis(now),
    }
    return json.dumps(body)  # ASCII-only: every character SQS accepts


def _chunks(entries: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """At most 10 entries and ~240 KiB per request."""
    chunks: list[list[dict[str, Any]]] = []
    size = 0
    for entry in entries:
        entry_size = len(entry["MessageBody"]) + 256
        if not chunks or len(chunks[-1]) == SEND_BATCH_LIMIT or size + entry_size > SEND_BATCH_MAX_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(entry)
        size += entry_size
    return chunks


def send_to_quarantine(
    client: Any, queue_url: str, poison: list[Quarantined], backoff: RetryPolicy, stats: BatchStats
) -> list[int]:
    """Send every poison record; returns the indices that could not be sent (the queue is
    unreachable or refuses them), which Lambda must retry rather than lose."""
    now = time.time()
    entries = [
        {
            "Id": str(item.index),
            "MessageBody": quarantine_message(item, now),
            "MessageAttributes": {"reason": {"DataType": "String", "StringValue": item.rejected.code}},
        }
        for item in poison
    ]
    failed: list[int] = []
    for chunk in _chunks(entries):
        failed += _send_chunk(client, queue_url, chunk, backoff, stats)
    return failed


def _send_chunk(
    client: Any, queue_url: str, pending: list[dict[str, Any]], backoff: RetryPolicy, stats: BatchStats
) -> list[int]:
    refused: list[int] = []
    attempt = 0
    while pending:
        stats.sqs_requests += 1
        try:
            response = client.send_message_batch(QueueUrl=queue_url, Entries=pending)
        except aws_errors() as exc:
            if not is_transient(exc):
                logger.error("quarantine queue refused the batch", extra={"error": str(exc)})
                return refused + [int(entry["Id"]) for entry in pending]
            logger.warning("quarantine queue unavailable", extra={"error": str(exc)})
        else:
            failures = {failure["Id"]: failure for failure in response.get("Failed", [])}
            for entry_id, failure in failures.items():
                if failure.get("SenderFault"):  # resending the same message cannot succeed
                    logger.error("quarantine message refused", extra={"id": entry_id, "code": failure.get("Code")})
                    refused.append(int(entry_id))
            retryable = {entry_id for entry_id, failure in failures.items() if not failure.get("SenderFault")}
            pending = [entry for entry in pending if entry["Id"] in retryable]
            if not pending:
                break
        attempt += 1
        if not backoff.pause(attempt):
            return refused + [int(entry["Id"]) for entry in pending]
        stats.retries += 1
    return refused
