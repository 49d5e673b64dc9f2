"""The deployed state machines, executed in the emulator: the backfill workflow runs a small range, then again.

The first execution plans the range into chunks (the ``backfill_workflow`` Lambda), runs each through the
deployed producer (the Map state) and reports; the second, with the same input, is the same backfill resumed:
every chunk's marks say its bars were accepted, so it publishes nothing.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import Any

from cryptostream_model.record import format_ts
from tools.deployed.scenario import BACKFILL_INTERVAL, ScenarioError, wait_for

WORKFLOW_BARS_PER_PAIR = 12
WORKFLOW_PAIRS = 2
TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
PROOF_PREFIX = "proof-"  # the executions the proof starts (others: the schedule's)


def workflow_request(pairs: list[str], frozen_at: datetime) -> dict[str, Any]:
    """Twelve 5-minute bars a pair, an hour before the producer's own backfill; two chunks of six bar slots."""
    end = frozen_at - timedelta(hours=3)
    start = end - timedelta(minutes=5 * (WORKFLOW_BARS_PER_PAIR - 1))
    return {
        "source": "alphavantage", "pairs": pairs[:WORKFLOW_PAIRS], "interval": BACKFILL_INTERVAL,
        "start": format_ts(start), "end": format_ts(end),
        "max_bars_per_run": WORKFLOW_BARS_PER_PAIR, "requests_per_minute": 600,
    }  # fmt: skip


def execute(stepfunctions: Any, arn: str, request: dict[str, Any], *, timeout: float = 120,
            what: str = "backfill") -> dict[str, Any]:
    """Start one execution and wait for it; its output (the report) or a ScenarioError with its error."""
    name = f"{PROOF_PREFIX}{int(time.time() * 1000)}"
    execution = stepfunctions.start_execution(stateMachineArn=arn, name=name, input=json.dumps(request))["executionArn"]

    def finished() -> dict[str, Any] | None:
        described = stepfunctions.describe_execution(executionArn=execution)
        return described if described["status"] in TERMINAL else None

    described = wait_for(finished, timeout=timeout, every=2, what=f"the {what} execution {name}")
    if described["status"] != "SUCCEEDED":
        raise ScenarioError(f"{what} execution {described['status']}: {described.get('error')}: "
                            f"{str(described.get('cause'))[:300]}")  # fmt: skip
    return json.loads(described["output"])


def prove_backfill_workflow(stepfunctions: Any, arn: str, pairs: list[str], frozen_at: datetime) -> list[str]:
    """Run the backfill twice; the differences from what it must do (empty when it did)."""
    request = workflow_request(pairs, frozen_at)
    expected = WORKFLOW_BARS_PER_PAIR * len(request["pairs"])
    first = execute(stepfunctions, arn, request)
    again = execute(stepfunctions, arn, request)
    differences = []
    if (first.get("published"), first.get("chunks"), first.get("chunks_failed")) != (expected, 2, []):
        differences.append(f"the backfill state machine reported {first}, expected {expected} bars in 2 chunks")
    if (again.get("published"), again.get("skipped_seen")) != (0, expected):
        differences.append(f"the resumed backfill reported {again}, expected 0 published and {expected} skipped")
    return differences
