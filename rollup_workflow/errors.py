"""The rollup steps' errors: one line each; the class name is the ``errorType`` Step Functions retries or catches on."""

from __future__ import annotations


class RollupError(RuntimeError):
    """Base class: the step failed; the watermark was not moved (it is written only by ``commit``)."""


class AthenaQueryFailed(RollupError):
    """Athena ran the query and it FAILED or was CANCELLED (a retry runs it again)."""


class AthenaThrottled(RollupError):
    """Athena refused a call for its rate or concurrency limits after the client's own retries: retry later."""


class AthenaTimeout(RollupError):
    """The query did not finish within ``ATHENA_QUERY_TIMEOUT_SECONDS``; it was cancelled."""


class AthenaCallFailed(RollupError):
    """An Athena call failed (access denied, bad workgroup, unreachable endpoint...)."""


class RollupStorageError(RollupError):
    """An S3 call on the archive or the rollup objects failed."""


class ChangeLogError(RollupError):
    """An SQS call on the change log's queue failed; its messages stay there (nothing was deleted)."""


class ConcurrentRollup(RollupError):
    """A month object changed between this step's read and write (another execution?); a retry recomputes it."""


class PlanTooLarge(RollupError):
    """The plan would not fit in a Step Functions state (256 KB): far more changed partitions than a run expects."""
