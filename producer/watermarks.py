"""Per-(pair, interval) watermarks and the run lease, kept in the serving table.

- Watermark: ``pk = BTC-USD#5min``, ``sk = WATERMARK``, attribute ``ts`` = the newest bar Kinesis
  accepted, and ``source``, the source that set it (one source owns a pair and interval; after a change
  of owner the new source goes on from the old one's watermark). It only moves forward: the update is
  conditional on the stored ``ts`` being older, so a slow run, a replay or a backfill can never move it back.
- Lease: ``pk = PRODUCER#alphavantage#5min`` (source and interval), ``sk = LEASE``, taken with a
  conditional put that succeeds only when no lease exists or the existing one has expired, so two
  overlapping scheduled runs never fetch and publish the same bars twice. A crashed run's lease expires
  by itself.

Timestamps are the contract's ISO strings (``2026-11-22T09:05:00Z``), which sort like the moments.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from botocore.exceptions import ClientError

from cryptostream_model.keys import LEASE_SK, TTL_ATTRIBUTE, WATERMARK_SK, lease_pk, table_pk
from cryptostream_model.sources import DEFAULT_SOURCE
from cryptostream_runtime.retry import RetryPolicy
from producer.watermark_writes import PER_PAIR, TRANSACTION, WRITE_MODES, advance_in_transactions, watermark_update

_BATCH_GET_LIMIT = 100


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class WatermarkStore:
    """Reads and advances watermarks. ``writes`` picks how ``advance_many`` writes: ``per_pair``
    (one conditional UpdateItem each, 1 WRU) or ``transaction`` (conditional TransactWriteItems of up
    to 100, 2 WRU per item); ``backoff`` bounds the transactions' retries of throttling and conflicts,
    and its ``sleep`` also paces the re-reads of unprocessed keys."""

    def __init__(
        self,
        client: object,
        table_name: str,
        *,
        writes: str = PER_PAIR,
        backoff: RetryPolicy | None = None,
    ) -> None:
        if writes not in WRITE_MODES:
            raise ValueError(f"unknown watermark write mode {writes!r}; expected one of {', '.join(WRITE_MODES)}")
        self.client = client
        self.table_name = table_name
        self.writes = writes
        self.backoff = backoff or RetryPolicy()
        # BatchGetItem's UnprocessedKeys: asked for again, up to 8 calls in all, 50 ms apart (no jitter).
        self._rereads = RetryPolicy(
            max_attempts=8, base_seconds=0.025, cap_seconds=0.05, jitter_floor=1.0, sleep=self.backoff.sleep
        )

    def get_many(self, pairs: list[str], interval: str) -> dict[str, str]:
        """``{pair: ts}`` for the pairs that have a watermark (one BatchGetItem per 100 pairs)."""
        by_pk = {table_pk(pair, interval): pair for pair in pairs}
        found: dict[str, str] = {}
        pks = list(by_pk)
        for start in range(0, len(pks), _BATCH_GET_LIMIT):
            keys = [{"pk": {"S": pk}, "sk": {"S": WATERMARK_SK}} for pk in pks[start : start + _BATCH_GET_LIMIT]]
            request = {self.table_name: {"Keys": keys, "ProjectionExpression": "pk, ts", "ConsistentRead": True}}
            retry = 0
            while request:
                response = self.client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table_name, []):
                    found[by_pk[item["pk"]["S"]]] = item["ts"]["S"]
                request = response.get("UnprocessedKeys") or {}
                retry += 1
                if request and not self._rereads.pause(retry):
                    break  # still unread: treated as no watermark, so those bars are published again
        return found

    def advance(self, pair: str, interval: str, ts: str, source: str = DEFAULT_SOURCE) -> bool:
        """Move the watermark forward to ``ts``; False when it already is at or past ``ts``."""
        try:
            self.client.update_item(**watermark_update(self.table_name, pair, interval, ts, int(time.time()), source))
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def advance_many(self, targets: Mapping[str, str], interval: str, source: str = DEFAULT_SOURCE) -> dict[str, bool]:
        """Move each ``{pair: ts}`` watermark forward; ``{pair: moved}`` (False: already at or past).

        ``per_pair`` raises the first error as ``advance`` does; ``transaction`` tries every pair and
        raises WatermarkWriteFailed naming those it could not save."""
        if self.writes == TRANSACTION:
            return advance_in_transactions(self.client, self.table_name, interval, targets, self.backoff, source=source)
        return {pair: self.advance(pair, interval, ts, source) for pair, ts in targets.items()}


@dataclass(frozen=True)
class Lease:
    interval: str
    owner: str
    until: int
    source: str = DEFAULT_SOURCE


class LeaseHeld(Exception):
    def __init__(self, owner: str, until: int) -> None:
        super().__init__(f"lease held by {owner}")
        self.owner = owner
        self.until = until


class RunLease:
    """At most one producer run per (source, interval) at a time: two sources' runs of one interval
    publish different pairs (one source per pair and interval), so they need not wait for each other."""

    def __init__(self, client: object, table_name: str, *, clock=time.time) -> None:
        self.client = client
        self.table_name = table_name
        self._clock = clock

    def acquire(self, interval: str, seconds: int, owner: str | None = None, *, source: str = DEFAULT_SOURCE) -> Lease:
        """Take the lease or raise LeaseHeld naming the current owner."""
        now = int(self._clock())
        owner = owner or f"run-{uuid.uuid4().hex[:12]}"
        lease = Lease(interval=interval, owner=owner, until=now + max(1, seconds), source=source)
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    "pk": {"S": lease_pk(interval, source)},
                    "sk": {"S": LEASE_SK},
                    "owner": {"S": lease.owner},
                    "lease_until": {"N": str(lease.until)},
                    # TTL tidies up leases of runs that died; a day later is plenty.
                    TTL_ATTRIBUTE: {"N": str(lease.until + 86400)},
                },
                ConditionExpression="attribute_not_exists(pk) OR lease_until < :now",
                ExpressionAttributeValues={":now": {"N": str(now)}},
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
            holder = self._holder(interval, source)
            raise LeaseHeld(*holder) from None
        return lease

    def release(self, lease: Lease) -> None:
        """Give the lease back if it is still ours (an expired one may belong to another run now)."""
        try:
            self.client.delete_item(
                TableName=self.table_name,
                Key={"pk": {"S": lease_pk(lease.interval, lease.source)}, "sk": {"S": LEASE_SK}},
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": {"S": lease.owner}},
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise

    def _holder(self, interval: str, source: str) -> tuple[str, int]:
        item = self.client.get_item(
            TableName=self.table_name,
            Key={"pk": {"S": lease_pk(interval, source)}, "sk": {"S": LEASE_SK}},
            ConsistentRead=True,
        ).get("Item", {})
        return item.get("owner", {}).get("S", "unknown"), int(item.get("lease_until", {}).get("N", "0"))
