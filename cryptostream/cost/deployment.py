"""The deployed pipeline's cost-relevant settings, from ``cdk.json`` in the current directory.

``cryptostream.config`` reads names and the consumer mapping for the local stack; the cost model also
needs the stream mode, Firehose buffering and the spot schedule's rate, so it reads the same
``context.cryptostream`` block itself. Built-in defaults mirror the repository's cdk.json.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CDK_JSON = "cdk.json"


class DeploymentError(ValueError):
    """cdk.json exists but cannot be used (one-line message)."""


@dataclass(frozen=True, slots=True)
class Deployment:
    stream_shards: int = 0
    stream_retention_hours: int = 24
    history_ttl_days: int = 30
    firehose_buffer_seconds: int = 300
    firehose_buffer_mib: int = 64
    consumer_batch_size: int = 500
    consumer_batching_window_seconds: float = 5
    consumer_parallelization_factor: int = 1
    spot_rate_minutes: int = 1
    schedules: int = 3
    source: str = "built-in defaults"


def _spot_rate_minutes(schedules: Any, default: int) -> int:
    for schedule in schedules or ():
        if isinstance(schedule, dict) and schedule.get("interval") == "spot" and "rate_minutes" in schedule:
            return int(schedule["rate_minutes"])
    return default


def deployment_from_context(block: dict[str, Any], source: str) -> Deployment:
    """Settings from a ``context.cryptostream`` block; absent keys keep their defaults."""
    base = Deployment()
    consumer = block.get("consumer") or {}
    try:
        return Deployment(
            stream_shards=int(block.get("stream_shards", base.stream_shards)),
            stream_retention_hours=int(block.get("stream_retention_hours", base.stream_retention_hours)),
            history_ttl_days=int(block.get("history_ttl_days", base.history_ttl_days)),
            firehose_buffer_seconds=int(block.get("firehose_buffer_seconds", base.firehose_buffer_seconds)),
            firehose_buffer_mib=int(block.get("firehose_buffer_mib", base.firehose_buffer_mib)),
            consumer_batch_size=int(consumer.get("batch_size", base.consumer_batch_size)),
            consumer_batching_window_seconds=float(
                consumer.get("batching_window_seconds", base.consumer_batching_window_seconds)
            ),
            consumer_parallelization_factor=int(
                consumer.get("parallelization_factor", base.consumer_parallelization_factor)
            ),
            spot_rate_minutes=_spot_rate_minutes(block.get("schedules"), base.spot_rate_minutes),
            schedules=len(block["schedules"]) if "schedules" in block else base.schedules,
            source=source,
        )
    except (TypeError, ValueError, AttributeError) as exc:
        raise DeploymentError(f"{source}: bad value in context.cryptostream ({exc})") from None


def load_deployment(directory: Path | None = None) -> Deployment:
    """``./cdk.json`` when present, else the built-in defaults."""
    path = (directory or Path.cwd()) / CDK_JSON
    if not path.is_file():
        return Deployment()
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DeploymentError(f"cannot read {path}: {exc}") from None
    block = (document.get("context") or {}).get("cryptostream") if isinstance(document, dict) else None
    if not isinstance(block, dict):
        return Deployment()
    return deployment_from_context(block, str(path))
