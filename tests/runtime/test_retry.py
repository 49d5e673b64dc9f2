"""Backoff: exponential with full jitter, capped, bounded by attempts and by a deadline."""

from __future__ import annotations

import random

from botocore.exceptions import ClientError, ConnectTimeoutError

from consumer.retry import Backoff, is_transient


class FixedRandom(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return b  # the largest delay jitter could pick


def test_delays_double_up_to_the_cap_and_attempts_are_bounded() -> None:
    sleeps: list[float] = []
    backoff = Backoff(max_attempts=6, base_seconds=0.1, cap_seconds=1.0, sleep=sleeps.append, rng=FixedRandom())
    assert [backoff.pause(attempt) for attempt in range(1, 7)] == [True] * 5 + [False]
    assert sleeps == [0.2, 0.4, 0.8, 1.0, 1.0]


def test_no_retry_that_would_end_past_the_deadline() -> None:
    now = [100.0]
    sleeps: list[float] = []
    backoff = Backoff(base_seconds=1.0, cap_seconds=8.0, deadline=103.5, clock=lambda: now[0], sleep=sleeps.append)
    backoff.rng = FixedRandom()
    assert backoff.pause(1)  # 2 s: ends at 102
    now[0] = 102.0
    assert not backoff.pause(2)  # 4 s would end at 106
    assert sleeps == [2.0]


def test_transient_errors() -> None:
    def error(code: str, status: int) -> ClientError:
        return ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")

    assert is_transient(error("ProvisionedThroughputExceededException", 400))
    assert is_transient(error("ThrottlingException", 400))
    assert is_transient(error("SomethingNew", 503))
    assert is_transient(ConnectTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"))
    assert not is_transient(error("ValidationException", 400))
    assert not is_transient(error("AccessDeniedException", 400))
    assert not is_transient(ValueError("a bug"))
