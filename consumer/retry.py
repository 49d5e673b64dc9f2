"""Bounded retries with exponential backoff and full jitter, and which AWS errors are worth retrying."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

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


def aws_errors() -> tuple[type[Exception], ...]:
    """botocore's error types, imported on first failure only: keeps botocore out of the handler's
    import (boto3 brings it when the first client is created)."""
    from botocore.exceptions import BotoCoreError, ClientError

    return ClientError, BotoCoreError


def is_transient(error: BaseException) -> bool:
    """Throttling, 5xx, timeouts and connection failures: retry later, never quarantine."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code", "")
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0
        return code in TRANSIENT_ERROR_CODES or status >= 500
    # botocore's connection and timeout errors carry no response
    from botocore.exceptions import BotoCoreError

    return isinstance(error, BotoCoreError)


@dataclass
class Backoff:
    """Exponential backoff with full jitter (AWS Architecture Blog), bounded by attempts and a deadline."""

    max_attempts: int = 6
    base_seconds: float = 0.05
    cap_seconds: float = 2.0
    deadline: float | None = None  # time.monotonic() value after which we stop retrying
    sleep: Callable[[float], None] | None = None  # default time.sleep, looked up when called
    clock: Callable[[], float] | None = None  # default time.monotonic, looked up when called
    rng: random.Random = field(default_factory=random.Random)

    def pause(self, attempt: int) -> bool:
        """Sleep before retry number ``attempt`` (1-based); False when the budget is spent."""
        if attempt >= self.max_attempts:
            return False
        delay = self.rng.uniform(0, min(self.cap_seconds, self.base_seconds * 2**attempt))
        if self.deadline is not None and (self.clock or time.monotonic)() + delay >= self.deadline:
            return False
        (self.sleep or time.sleep)(delay)
        return True
