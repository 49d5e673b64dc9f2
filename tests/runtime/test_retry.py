"""The one retry policy: exponential backoff with jitter, capped, bounded by attempts and by a deadline;
and which AWS errors are transient."""

from __future__ import annotations

import math

from botocore.exceptions import ClientError, ConnectTimeoutError

from cryptostream_runtime.retry import RetryPolicy, error_code, is_transient


def top(low: float, high: float) -> float:
    return high  # the largest delay jitter could pick


def test_delays_double_up_to_the_cap_and_attempts_are_bounded() -> None:
    sleeps: list[float] = []
    policy = RetryPolicy(max_attempts=6, base_seconds=0.1, cap_seconds=1.0, sleep=sleeps.append, uniform=top)
    assert [policy.pause(retry) for retry in range(1, 7)] == [True] * 5 + [False]
    assert sleeps == [0.2, 0.4, 0.8, 1.0, 1.0]


def test_full_jitter_by_default_and_a_floor_when_asked() -> None:
    windows: list[tuple[float, float]] = []

    def record(low: float, high: float) -> float:
        windows.append((low, high))
        return low

    RetryPolicy(base_seconds=1.0, cap_seconds=60.0, uniform=record).delay(1)
    RetryPolicy(base_seconds=1.0, cap_seconds=60.0, jitter_floor=0.5, uniform=record).delay(1)
    RetryPolicy(base_seconds=0.025, cap_seconds=0.05, jitter_floor=1.0, uniform=record).delay(3)
    assert windows == [(0.0, 2.0), (1.0, 2.0), (0.05, 0.05)]


def test_no_retry_that_would_end_past_the_deadline() -> None:
    now = [100.0]
    sleeps: list[float] = []
    policy = RetryPolicy(
        base_seconds=1.0, cap_seconds=8.0, deadline=103.5, clock=lambda: now[0], sleep=sleeps.append, uniform=top
    )
    assert policy.pause(1)  # 2 s: ends at 102
    now[0] = 102.0
    assert not policy.pause(2)  # 4 s would end at 106
    assert sleeps == [2.0]


def test_only_the_deadline_bounds_a_policy_without_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=None, base_seconds=1.0, cap_seconds=math.inf, deadline=1e9, clock=lambda: 0.0)
    assert policy.delay(20) is not None


def error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")


def test_transient_errors() -> None:
    assert is_transient(error("ProvisionedThroughputExceededException", 400))
    assert is_transient(error("ThrottlingException", 400))
    assert is_transient(error("SomethingNew", 503))
    assert is_transient(ConnectTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"))
    assert not is_transient(error("ValidationException", 400))
    assert not is_transient(error("AccessDeniedException", 400))
    assert not is_transient(ValueError("a bug"))
    assert is_transient(error("LimitExceededException", 400), codes={"LimitExceededException"})  # a caller's own set
    assert not is_transient(error("ThrottlingException", 400), codes={"LimitExceededException"})


def test_error_codes() -> None:
    assert error_code(error("ThrottlingException", 400)) == "ThrottlingException"
    assert error_code(ConnectTimeoutError(endpoint_url="https://x")) == "ConnectTimeoutError"
