"""Reading a cancelled DynamoDB transaction: which items to drop, which to send again, which to give up.

``TransactWriteItems`` either writes every item or none. When it is cancelled, ``CancellationReasons``
holds one reason per item, in request order: ``ConditionalCheckFailed`` (the item's condition is
false: for a forward-only write, something newer is stored), ``None`` (the item was fine, another
spoiled the transaction), a race or throttling (worth another try), or anything else (a
``ValidationError``: retrying cannot help).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from cryptostream_runtime.retry import error_code

TRANSACTION_LIMIT = 100  # TransactWriteItems' per-call maximum
CONDITION_FAILED = "ConditionalCheckFailed"
# Cancellation reasons that mean "not now": the item itself was fine ("None": another item spoiled
# the transaction), or it raced another transaction, or the table was throttled.
RETRYABLE_REASONS = frozenset(
    {"None", "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
)

Item = TypeVar("Item")


@dataclass
class Cancellation(Generic[Item]):
    """A cancelled transaction's items, sorted by what to do with each."""

    condition_failed: list[Item] = field(default_factory=list)  # the condition is false: drop the item
    retry: list[Item] = field(default_factory=list)
    rejected: list[tuple[Item, str]] = field(default_factory=list)  # (item, reason): retrying cannot help
    # Only items whose condition failed spoiled it (each now dropped, so resending ends): send the
    # rest again at once rather than after a backoff.
    resend_now: bool = False


def read_cancellation(error: BaseException, items: Sequence[Item]) -> Cancellation[Item] | None:
    """Sort ``items`` (in request order) by ``error``'s cancellation reasons; None when ``error`` is not
    a cancelled transaction. When the reasons do not match the items one to one, every item is retried."""
    if error_code(error) != "TransactionCanceledException":
        return None
    response = getattr(error, "response", None) or {}
    reasons = [reason.get("Code") or "None" for reason in response.get("CancellationReasons") or []]
    if len(reasons) != len(items):  # cannot tell which item failed
        reasons = ["TransactionConflict"] * len(items)
    sorted_out: Cancellation[Item] = Cancellation()
    for item, reason in zip(items, reasons, strict=True):
        if reason == CONDITION_FAILED:
            sorted_out.condition_failed.append(item)
        elif reason in RETRYABLE_REASONS:
            sorted_out.retry.append(item)
        else:
            sorted_out.rejected.append((item, reason))
    sorted_out.resend_now = CONDITION_FAILED in reasons and all(r in ("None", CONDITION_FAILED) for r in reasons)
    return sorted_out
