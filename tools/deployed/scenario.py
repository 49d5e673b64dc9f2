"""What the deployed-app proof does to the deployed pipeline: a backfill, a scheduled run, a poison record.

Everything here talks to the emulator's public AWS APIs as an operator would (root credentials); the
functions themselves run under their own roles inside the emulator.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptostream_model.record import format_ts

BACKFILL_INTERVAL = "5min"
BACKFILL_BARS_PER_PAIR = 23  # 3 pairs -> 69 bars
POISON = b'{"v": 1, "source": "alphavantage", "symbol": "BTC", "market": "USD", "interval": "5min", "ts": "nope"}'


class ScenarioError(RuntimeError):
    """A step of the scenario failed; one line."""


@dataclass(frozen=True)
class Outputs:
    """The stack outputs the scenario needs (``cdk deploy --outputs-file``)."""

    stream: str
    table: str
    quarantine_url: str
    failure_queue_url: str
    archive_bucket: str
    secret: str
    producer: str
    schedule_group: str
    backfill_state_machine: str
    rollups_state_machine: str
    analyst_role: str

    @classmethod
    def from_stack(cls, outputs: dict[str, str], schedule_group: str) -> Outputs:
        try:
            return cls(
                stream=outputs["StreamName"],
                table=outputs["TableName"],
                quarantine_url=outputs["QuarantineQueueUrl"],
                failure_queue_url=outputs["EsmFailureQueueUrl"],
                archive_bucket=outputs["ArchiveBucket"],
                secret=outputs["AlphaVantageSecretArn"],
                producer=outputs["ProducerFunction"],
                schedule_group=schedule_group,
                backfill_state_machine=outputs["BackfillStateMachineArn"],
                rollups_state_machine=outputs["RollupsStateMachineArn"],
                analyst_role=outputs["AnalystRoleArn"],
            )
        except KeyError as missing:
            raise ScenarioError(f"the deployed stack has no output {missing}") from None


def market_moment(now: float | None = None) -> datetime:
    """The simulator's frozen clock: the current 5-minute boundary, so every backfilled bar is closed."""
    moment = datetime.fromtimestamp(now if now is not None else time.time(), UTC)
    return moment.replace(minute=moment.minute - moment.minute % 5, second=0, microsecond=0)


def backfill_event(pairs: list[str], frozen_at: datetime) -> dict[str, Any]:
    """A full-mode run over the ``BACKFILL_BARS_PER_PAIR`` closed bars ending 10 minutes before the clock."""
    end = frozen_at - timedelta(minutes=10)
    start = end - timedelta(minutes=5 * (BACKFILL_BARS_PER_PAIR - 1))
    return {"mode": "full", "interval": BACKFILL_INTERVAL, "pairs": pairs, "start": format_ts(start),
            "end": format_ts(end)}  # fmt: skip


def invoke(lambda_client: Any, function: str, event: dict[str, Any]) -> dict[str, Any]:
    response = lambda_client.invoke(FunctionName=function, Payload=json.dumps(event).encode())
    payload = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        message = payload.get("errorMessage", payload) if isinstance(payload, dict) else payload
        raise ScenarioError(f"{function} failed: {str(message)[:300]}")
    return payload


def invoke_when_lease_free(lambda_client: Any, function: str, event: dict[str, Any], *, timeout: float = 180,
                           every: float = 10) -> dict[str, Any]:
    """``invoke``, again while the answer is that a run of the interval holds its lease (a scheduled run that
    fired before the schedules were paused: the emulator fires a due schedule as soon as it is created)."""
    deadline = time.monotonic() + timeout
    while True:
        summary = invoke(lambda_client, function, event)
        if "skipped" not in summary or time.monotonic() + every > deadline:
            return summary
        time.sleep(every)


def wait_for(condition: Callable[[], Any], *, timeout: float, every: float = 1.0, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise ScenarioError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def pause_schedules(scheduler: Any, group: str) -> list[str]:
    """Disable every schedule of the group, so the hops can be counted while nothing else arrives."""
    names = []
    for page in scheduler.get_paginator("list_schedules").paginate(GroupName=group):
        for summary in page["Schedules"]:
            schedule = scheduler.get_schedule(GroupName=group, Name=summary["Name"])
            update = {k: schedule[k] for k in ("ScheduleExpression", "FlexibleTimeWindow", "Target") if k in schedule}
            scheduler.update_schedule(GroupName=group, Name=summary["Name"], State="DISABLED", **update)
            names.append(summary["Name"])
    return names


def put_poison(kinesis: Any, stream: str) -> None:
    kinesis.put_record(StreamName=stream, Data=POISON, PartitionKey="POISON-USD")
