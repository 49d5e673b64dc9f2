"""Batched DynamoDB writes: history with BatchWriteItem, LATEST with conditional TransactWriteItems.

Each function returns the batch indices of the records it could not write durably; the processor
turns the lowest of them into Lambda's retry point.
"""

from __future__ import annotations

import logging
from typing import Any

from consumer.items import Item
from consumer.stats import BatchStats
from cryptostream_runtime.retry import RetryPolicy, aws_errors, is_transient
from cryptostream_runtime.transactions import TRANSACTION_LIMIT, read_cancellation

logger = logging.getLogger(__name__)

BATCH_WRITE_LIMIT = 25  # BatchWriteItem's per-call maximum

# A late or replayed record never moves LATEST backwards; an equal one rewrites an identical item.
LATEST_CONDITION = "attribute_not_exists(pk) OR #ts < :ts OR (#ts = :ts AND #fetched_at <= :fetched_at)"
_LATEST_NAMES = {"#ts": "ts", "#fetched_at": "fetched_at"}


def _item_key(item: Item) -> tuple[str, str]:
    return item["pk"]["S"], item["sk"]["S"]


def _indices(chunk: list[tuple[int, Item]], requests: list[dict[str, Any]]) -> list[int]:
    """Batch indices of the records behind unwritten put requests."""
    index_of = {_item_key(item): index for index, item in chunk}
    return sorted(index_of[_item_key(request["PutRequest"]["Item"])] for request in requests)


def write_bars(
    client: Any, table: str, entries: list[tuple[int, Item]], backoff: RetryPolicy, stats: BatchStats
) -> list[int]:
    """Write history items (``entries`` in stream order) 25 per call, retrying UnprocessedItems and
    throttling with backoff. Stops at the first chunk that cannot be written: every later record
    would be retried by Lambda anyway. Returns the indices not written."""
    for start in range(0, len(entries), BATCH_WRITE_LIMIT):
        chunk = entries[start : start + BATCH_WRITE_LIMIT]
        unwritten = _write_chunk(client, table, chunk, backoff, stats)
        if unwritten:
            return unwritten + [index for index, _ in entries[start + BATCH_WRITE_LIMIT :]]
    return []


def _write_chunk(
    client: Any, table: str, chunk: list[tuple[int, Item]], backoff: RetryPolicy, stats: BatchStats
) -> list[int]:
    pending = [{"PutRequest": {"Item": item}} for _, item in chunk]
    attempt = 0
    while True:
        stats.dynamodb_requests += 1
        try:
            response = client.batch_write_item(RequestItems={table: pending})
        except aws_errors() as exc:
            if not is_transient(exc):
                logger.error("BatchWriteItem failed permanently", extra={"error": str(exc), "items": len(pending)})
                return _indices(chunk, pending)
            logger.warning("BatchWriteItem throttled or failed transiently", extra={"error": str(exc)})
        else:
            pending = response.get("UnprocessedItems", {}).get(table, [])
            if not pending:
                return []
        attempt += 1
        if not backoff.pause(attempt):
            logger.warning("BatchWriteItem retries exhausted", extra={"unwritten": len(pending)})
            return _indices(chunk, pending)
        stats.retries += 1


def _conditional_put(table: str, item: Item) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": table,
            "Item": item,
            "ConditionExpression": LATEST_CONDITION,
            "ExpressionAttributeNames": _LATEST_NAMES,
            "ExpressionAttributeValues": {":ts": item["ts"], ":fetched_at": item["fetched_at"]},
        }
    }


def write_latest(
    client: Any, table: str, entries: list[tuple[int, Item]], backoff: RetryPolicy, stats: BatchStats
) -> list[int]:
    """Move each pk's LATEST item forward, up to 100 conditional puts per transaction. Items whose
    condition fails are stale (a newer LATEST is already stored) and dropped; the others are
    retried. Returns the indices whose LATEST could not be written."""
    failed: list[int] = []
    for start in range(0, len(entries), TRANSACTION_LIMIT):
        failed += _transact_chunk(client, table, entries[start : start + TRANSACTION_LIMIT], backoff, stats)
    return failed


def _transact_chunk(
    client: Any, table: str, pending: list[tuple[int, Item]], backoff: RetryPolicy, stats: BatchStats
) -> list[int]:
    failed: list[int] = []
    attempt = 0
    while pending:
        stats.dynamodb_requests += 1
        try:
            client.transact_write_items(TransactItems=[_conditional_put(table, item) for _, item in pending])
        except aws_errors() as exc:
            cancellation = read_cancellation(exc, pending)
            if cancellation is not None:
                stats.stale_latest_skipped += len(cancellation.condition_failed)  # a newer LATEST is stored
                for entry, reason in cancellation.rejected:
                    logger.error("LATEST write rejected", extra={"reason": reason, "pk": entry[1]["pk"]["S"]})
                    failed.append(entry[0])
                pending = cancellation.retry
                if not pending:
                    break
                if cancellation.resend_now:
                    stats.retries += 1
                    continue
            elif not is_transient(exc):
                logger.error("TransactWriteItems failed permanently", extra={"error": str(exc)})
                return failed + [index for index, _ in pending]
            attempt += 1
            if not backoff.pause(attempt):
                logger.warning("TransactWriteItems retries exhausted", extra={"unwritten": len(pending)})
                return failed + [index for index, _ in pending]
            stats.retries += 1
        else:
            stats.latest_written += len(pending)
            pending = []
    return failed
