"""Bounded retries: one policy (exponential backoff with jitter, an attempt budget and a deadline) and
which AWS errors are worth retrying.

Retry ``n`` (1-based) waits a random time in ``[floor × ceiling, ceiling]`` with
``ceiling = min(cap, base × 2ⁿ)``: ``floor = 0`` is the "full jitter" of the AWS Architecture Blog,
``0.5`` waits at least half. No wait starts when ``max_attempts`` calls were made or when it would end
at or past ``deadline``. Sleep, clock and randomness are injectable so tests and the soak never wait.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

# Error codes that mean "not now" rather than "never": throttling, capacity, transaction races, 5xx.
TRANSIENT_ERROR_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "TransactionConflictException",
        "TransactionInProgressException",
        "RequestThrottled",
        "AWS.SimpleQueueService.RequestThrottled",
        "KMS.ThrottlingException",
    }
)


@dataclass
class RetryPolicy:
    max_attempts: int | None = 6  # calls in all, the first included; None: only the deadline bounds them
    base_seconds: float = 0.05
    cap_seconds: float = 2.0
    jitter_floor: float = 0.0  # share of each ceiling always waited: 0 full jitter, 0.5 equal jitter, 1 none
    deadline: float | None = None  # a clock() value no wait may reach
    sleep: Callable[[float], None] | None = None  # default time.sleep, looked up when called
    clock: Callable[[], float] | None = None  # default time.monotonic, looked up when called
    uniform: Callable[[float, float], float] | None = None  # default random.uniform, looked up when called

    def delay(self, retry: int) -> float | None:
        """How long to wait before retry number ``retry`` (1-based); None when the budget is spent."""
        if self.max_attempts is not None and retry >= self.max_attempts:
            return None
        ceiling = min(self.cap_seconds, self.base_seconds * 2**retry)
        wait = (self.uniform or random.uniform)(ceiling * self.jitter_floor, ceiling)
        if self.deadline is not None and (self.clock or time.monotonic)() + wait >= self.deadline:
            return None
        return wait

    def wait(self, seconds: float) -> None:
        (self.sleep or time.sleep)(seconds)

    def pause(self, retry: int) -> bool:
        """Wait before retry number ``retry`` (1-based); False, without waiting, when the budget is spent."""
        wait = self.delay(retry)
        if wait is None:
            return False
        self.wait(wait)
        return True


def aws_errors() -> tuple[type[Exception], ...]:
    """botocore's error types, imported on first failure only: keeps botocore out of a handler's
    import (boto3 brings it when the first client is created)."""
    from botocore.exceptions import BotoCoreError, ClientError

    return ClientError, BotoCoreError


def error_code(error: BaseException) -> str:
    """The AWS error code of a failed call (``ThrottlingException``), else the exception's type name."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        return response.get("Error", {}).get("Code") or "ClientError"
    return type(error).__name__


def is_transient(error: BaseException, codes: frozenset[str] | set[str] = TRANSIENT_ERROR_CODES) -> bool:
    """Throttling (``codes``), 5xx, timeouts and connection failures: retry later, never give up on the data."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code", "")
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0
        return code in codes or int(status) >= 500
    # botocore's connection and timeout errors carry no response
    from botocore.exceptions import BotoCoreError

    return isinstance(error, BotoCoreError)
