"""Writing many watermarks at once: per pair (one UpdateItem each) or in transactions of up to 100.

Both keep the one rule of a watermark: it never moves backwards. Each write is conditional on the
stored ``ts`` being absent or older, so a write whose condition fails found the watermark already at
or ahead of ``ts`` (a newer run or a replay got there first) and is simply not needed.

Trade-off (see docs/producer.md, "Watermark writes"): a transactional write costs 2 WRU per item
instead of 1, but one request per 100 pairs instead of one per pair. DynamoDB bills write units, not
requests, so ``per_pair`` is the default and ``transaction`` the option for fewer round trips.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cryptostream_model.keys import WATERMARK_SK, table_pk
from producer.settings import PER_PAIR, TRANSACTION
from producer.settings import WATERMARK_WRITE_MODES as WRITE_MODES

__all__ = ["PER_PAIR", "TRANSACTION", "WRITE_MODES", "WatermarkWriteFailed", "advance_in_transactions"]
TRANSACTION_LIMIT = 100  # TransactWriteItems' per-call maximum

WATERMARK_CONDITION = "attribute_not_exists(#ts) OR #ts < :ts"
# Cancellation reasons that mean "not now": the item itself was fine ("None": another item spoiled
# the transaction), or it raced another transaction, or the table was throttled.
_RETRYABLE_REASONS = frozenset(
    {"None", "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
)
_TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
        "TransactionInProgressException",
    }
)


class WatermarkWriteFailed(Exception):
    """Some watermarks could not be saved; their bars are published again by the next run."""

    def __init__(self, failures: Mapping[str, str]) -> None:
        listed = ", ".join(f"{pair} ({reason})" for pair, reason in sorted(failures.items()))
        super().__init__(f"watermarks not saved for {len(failures)} pair(s): {listed}")
        self.failures = dict(failures)


@dataclass
class TransactionBackoff:
    """Bounded exponential backoff with full jitter between transaction attempts."""

    max_attempts: int = 6
    base_seconds: float = 0.05
    cap_seconds: float = 2.0
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[float, float], float] = field(default=random.uniform)

    def pause(self, attempt: int) -> bool:
        """Wait before retry ``attempt`` (1-based); False once the attempts are spent."""
        if attempt >= self.max_attempts:
            return False
        self.sleep(self.jitter(0.0, min(self.cap_seconds, self.base_seconds * 2**attempt)))
        return True


def watermark_key(pair: str, interval: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": table_pk(pair, interval)}, "sk": {"S": WATERMARK_SK}}


def watermark_update(table: str, pair: str, interval: str, ts: str, now: int) -> dict[str, Any]:
    """The conditional update of one watermark: UpdateItem's arguments, also a transaction's Update."""
    return {
        "TableName": table,
        "Key": watermark_key(pair, interval),
        "UpdateExpression": "SET #ts = :ts, updated_at = :now",
        "ConditionExpression": WATERMARK_CONDITION,
        "ExpressionAttributeNames": {"#ts": "ts"},
        "ExpressionAttributeValues": {":ts": {"S": ts}, ":now": {"N": str(now)}},
    }


def advance_in_transactions(
    client: Any,
    table: str,
    interval: str,
    targets: Mapping[str, str],
    backoff: TransactionBackoff,
    *,
    clock: Callable[[], float] = time.time,
) -> dict[str, bool]:
    """Advance ``{pair: ts}`` with conditional TransactWriteItems, up to 100 pairs per call.

    Returns ``{pair: moved}`` (False: already at or past ``ts``). Raises WatermarkWriteFailed naming
    the pairs it could not save (rejected, or still throttled after the backoff), after trying all.
    """
    pairs = list(targets)
    moved: dict[str, bool] = {}
    failures: dict[str, str] = {}
    for start in range(0, len(pairs), TRANSACTION_LIMIT):
        chunk = {pair: targets[pair] for pair in pairs[start : start + TRANSACTION_LIMIT]}
        _transact_chunk(client, table, interval, chunk, backoff, int(clock()), moved, failures)
    if failures:
        raise WatermarkWriteFailed(failures)
    return moved


def _transact_chunk(
    client: Any,
    table: str,
    interval: str,
    pending: dict[str, str],
    backoff: TransactionBackoff,
    now: int,
    moved: dict[str, bool],
    failures: dict[str, str],
) -> None:
    attempt = 0
    while pending:
        items = [{"Update": watermark_update(table, pair, interval, ts, now)} for pair, ts in pending.items()]
        try:
            client.transact_write_items(TransactItems=items)
        except (ClientError, BotoCoreError) as exc:
            pending, resend_now = _sort_out(exc, pending, moved, failures)
            if not pending or resend_now:
                continue
            attempt += 1
            if not backoff.pause(attempt):
                failures.update({pair: f"retries exhausted ({_reason(exc)})" for pair in pending})
                return
        else:
            moved.update({pair: True for pair in pending})
            return


def _sort_out(
    exc: Exception, pending: dict[str, str], moved: dict[str, bool], failures: dict[str, str]
) -> tuple[dict[str, str], bool]:
    """Which pairs to send again after a failed call, and whether at once (True) or after a pause."""
    code = _reason(exc)
    if code != "TransactionCanceledException":
        if isinstance(exc, BotoCoreError) or code in _TRANSIENT_CODES or _status(exc) >= 500:
            return pending, False  # throttled, 5xx, timeout: the whole chunk again, later
        failures.update({pair: code for pair in pending})  # access denied, missing table, ...
        return {}, False
    cancellations = getattr(exc, "response", {}).get("CancellationReasons") or []
    reasons = [reason.get("Code") or "None" for reason in cancellations]
    if len(reasons) != len(pending):  # cannot tell which item failed: retry them all
        reasons = ["TransactionConflict"] * len(pending)
    retry: dict[str, str] = {}
    for (pair, ts), reason in zip(pending.items(), reasons, strict=True):
        if reason == "ConditionalCheckFailed":
            moved[pair] = False  # already at or ahead of ts: nothing to write
        elif reason in _RETRYABLE_REASONS:
            retry[pair] = ts
        else:  # ValidationError and the like: retrying cannot help
            failures[pair] = reason
    # Only up-to-date watermarks spoiled it (each dropped, so this ends): resend the rest at once.
    stale_only = "ConditionalCheckFailed" in reasons and all(r in ("None", "ConditionalCheckFailed") for r in reasons)
    return retry, stale_only


def _reason(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code") or "ClientError"
    return type(exc).__name__


def _status(exc: Exception) -> int:
    if isinstance(exc, ClientError):
        return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return 0
