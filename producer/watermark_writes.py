"""Writing many watermarks at once: per pair (one UpdateItem each) or in transactions of up to 100.

Both keep the one rule of a watermark: it never moves backwards. Each write is conditional on the
stored ``ts`` being absent or older, so a write whose condition fails found the watermark already at
or ahead of ``ts`` (a newer run or a replay got there first) and is simply not needed.

Trade-off (see docs/producer.md, "Watermark writes"): a transactional write costs 2 WRU per item
instead of 1, but one request per 100 pairs instead of one per pair. DynamoDB bills write units, not
requests, so ``per_pair`` is the default and ``transaction`` the option for fewer round trips.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from cryptostream_model.keys import WATERMARK_PER_PAIR as PER_PAIR
from cryptostream_model.keys import WATERMARK_SK, table_pk
from cryptostream_model.keys import WATERMARK_TRANSACTION as TRANSACTION
from cryptostream_model.keys import WATERMARK_WRITE_MODES as WRITE_MODES
from cryptostream_model.sources import DEFAULT_SOURCE
from cryptostream_runtime.retry import RetryPolicy, aws_errors, error_code, is_transient
from cryptostream_runtime.transactions import TRANSACTION_LIMIT, read_cancellation

__all__ = ["PER_PAIR", "TRANSACTION", "WRITE_MODES", "WatermarkWriteFailed", "advance_in_transactions"]

WATERMARK_CONDITION = "attribute_not_exists(#ts) OR #ts < :ts"


class WatermarkWriteFailed(Exception):
    """Some watermarks could not be saved; their bars are published again by the next run."""

    def __init__(self, failures: Mapping[str, str]) -> None:
        listed = ", ".join(f"{pair} ({reason})" for pair, reason in sorted(failures.items()))
        super().__init__(f"watermarks not saved for {len(failures)} pair(s): {listed}")
        self.failures = dict(failures)


def watermark_key(pair: str, interval: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": table_pk(pair, interval)}, "sk": {"S": WATERMARK_SK}}


def watermark_update(
    table: str, pair: str, interval: str, ts: str, now: int, source: str = DEFAULT_SOURCE
) -> dict[str, Any]:
    """The conditional update of one watermark: UpdateItem's arguments, also a transaction's Update.
    ``source`` records which source set it (one source owns a pair and interval)."""
    return {
        "TableName": table,
        "Key": watermark_key(pair, interval),
        "UpdateExpression": "SET #ts = :ts, updated_at = :now, #source = :source",
        "ConditionExpression": WATERMARK_CONDITION,
        "ExpressionAttributeNames": {"#ts": "ts", "#source": "source"},
        "ExpressionAttributeValues": {":ts": {"S": ts}, ":now": {"N": str(now)}, ":source": {"S": source}},
    }


def advance_in_transactions(
    client: Any,
    table: str,
    interval: str,
    targets: Mapping[str, str],
    backoff: RetryPolicy,
    *,
    clock: Callable[[], float] = time.time,
    source: str = DEFAULT_SOURCE,
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
        _transact_chunk(client, table, interval, chunk, backoff, int(clock()), moved, failures, source)
    if failures:
        raise WatermarkWriteFailed(failures)
    return moved


def _transact_chunk(
    client: Any,
    table: str,
    interval: str,
    pending: dict[str, str],
    backoff: RetryPolicy,
    now: int,
    moved: dict[str, bool],
    failures: dict[str, str],
    source: str = DEFAULT_SOURCE,
) -> None:
    attempt = 0
    while pending:
        items = [{"Update": watermark_update(table, pair, interval, ts, now, source)} for pair, ts in pending.items()]
        try:
            client.transact_write_items(TransactItems=items)
        except aws_errors() as exc:
            pending, resend_now = _sort_out(exc, pending, moved, failures)
            if not pending or resend_now:
                continue
            attempt += 1
            if not backoff.pause(attempt):
                failures.update({pair: f"retries exhausted ({error_code(exc)})" for pair in pending})
                return
        else:
            moved.update({pair: True for pair in pending})
            return


def _sort_out(
    exc: Exception, pending: dict[str, str], moved: dict[str, bool], failures: dict[str, str]
) -> tuple[dict[str, str], bool]:
    """Which pairs to send again after a failed call, and whether at once (True) or after a pause."""
    cancellation = read_cancellation(exc, list(pending.items()))
    if cancellation is None:
        if is_transient(exc):
            return pending, False  # throttled, 5xx, timeout: the whole chunk again, later
        failures.update({pair: error_code(exc) for pair in pending})  # access denied, missing table, ...
        return {}, False
    moved.update({pair: False for pair, _ in cancellation.condition_failed})  # already at or ahead of ts
    failures.update({pair: reason for (pair, _), reason in cancellation.rejected})  # ValidationError and the like
    return dict(cancellation.retry), cancellation.resend_now
