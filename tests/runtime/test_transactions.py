"""The one reader of cancelled transactions, as the consumer's LATEST and the producer's watermarks use it."""

from __future__ import annotations

from botocore.exceptions import ClientError

from cryptostream_runtime.transactions import read_cancellation


def cancelled(*reasons: str | None) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": "TransactionCanceledException"},
            "CancellationReasons": [{"Code": reason} if reason else {} for reason in reasons],
        },
        "TransactWriteItems",
    )


def test_reasons_sort_items() -> None:
    result = read_cancellation(
        cancelled("ConditionalCheckFailed", "TransactionConflict", None, "ValidationError"), "abcd"
    )
    assert result is not None
    assert (result.condition_failed, result.retry, result.rejected) == (["a"], ["b", "c"], [("d", "ValidationError")])
    assert not result.resend_now  # a conflict: back off first


def test_only_failed_conditions_resend_at_once() -> None:
    result = read_cancellation(cancelled("None", "ConditionalCheckFailed", "None"), "abc")
    assert result is not None and result.resend_now and result.retry == ["a", "c"]
    # "None" everywhere names no culprit: nothing was dropped, so resending at once could spin for ever
    nobody = read_cancellation(cancelled("None", "None"), "ab")
    assert nobody is not None and not nobody.resend_now


def test_unmatched_reasons_retry_everything_and_other_errors_are_not_cancellations() -> None:
    result = read_cancellation(cancelled("ConditionalCheckFailed"), "ab")
    assert result is not None and result.retry == ["a", "b"] and not result.resend_now
    throttled = ClientError({"Error": {"Code": "ThrottlingException"}}, "TransactWriteItems")
    assert read_cancellation(throttled, "ab") is None
