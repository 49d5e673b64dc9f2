"""The one configuration: ``cdk.json``'s ``context.cryptostream`` block, shared by CDK and the local stack.

Environment variables (and ``.env``) override single values, so a user can point the CLI at other
names without editing cdk.json. Defaults here mirror cdk.json for when the CLI runs outside a checkout.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent

_DEFAULTS: dict[str, Any] = {
    "prefix": "cryptostream",
    "pairs": ["BTC-USD", "ETH-USD", "SOL-USD"],
    "stream_name": "cryptostream-quotes",
    "stream_shards": 0,
    "stream_retention_hours": 24,
    "table_name": "cryptostream-quotes",
    "history_ttl_days": 30,
    "quarantine_queue_name": "cryptostream-quarantine",
    "archive_bucket_name": "cryptostream-archive",
    "consumer": {
        "batch_size": 500,
        "batching_window_seconds": 5,
        "parallelization_factor": 1,
        "max_retries": 5,
        "max_record_age_seconds": 3600,
        "bisect_on_error": True,
    },
}


@dataclass(frozen=True)
class ConsumerMapping:
    """Event source mapping settings of the consumer (same meaning as Lambda's)."""

    batch_size: int = 500
    batching_window_seconds: float = 5
    max_retries: int = 5
    max_record_age_seconds: int = 3600
    bisect_on_error: bool = True


@dataclass(frozen=True)
class Config:
    pairs: tuple[str, ...]
    stream_name: str
    table_name: str
    quarantine_queue_name: str
    archive_bucket_name: str
    history_ttl_days: int
    stream_retention_hours: int
    consumer: ConsumerMapping = field(default_factory=ConsumerMapping)
    region: str = "us-east-1"

    @property
    def esm_failure_queue_name(self) -> str:
        """On-failure destination of the consumer's event source mapping."""
        return f"{self.quarantine_queue_name}-esm-failures"


def _context_block(cdk_json: Path) -> dict[str, Any]:
    try:
        return json.loads(cdk_json.read_text())["context"]["cryptostream"]
    except (OSError, KeyError, ValueError):
        return {}


def load_config(cdk_json: Path | None = None) -> Config:
    """Read cdk.json (this checkout's, or ``CRYPTOSTREAM_CDK_JSON``), then apply env overrides."""
    path = cdk_json or Path(os.environ.get("CRYPTOSTREAM_CDK_JSON", REPO_ROOT / "cdk.json"))
    raw = {**_DEFAULTS, **_context_block(path)}
    esm = {**_DEFAULTS["consumer"], **raw.get("consumer", {})}
    env = os.environ
    pairs = env.get("PAIRS") or ",".join(raw["pairs"])
    return Config(
        pairs=tuple(p.strip().upper() for p in pairs.split(",") if p.strip()),
        stream_name=env.get("STREAM_NAME", raw["stream_name"]),
        table_name=env.get("TABLE_NAME", raw["table_name"]),
        quarantine_queue_name=env.get("QUARANTINE_QUEUE_NAME", raw["quarantine_queue_name"]),
        archive_bucket_name=env.get("ARCHIVE_BUCKET", raw["archive_bucket_name"]),
        history_ttl_days=int(env.get("HISTORY_TTL_DAYS", raw["history_ttl_days"])),
        stream_retention_hours=int(raw["stream_retention_hours"]),
        consumer=ConsumerMapping(
            batch_size=int(esm["batch_size"]),
            batching_window_seconds=float(esm["batching_window_seconds"]),
            max_retries=int(esm["max_retries"]),
            max_record_age_seconds=int(esm["max_record_age_seconds"]),
            bisect_on_error=bool(esm["bisect_on_error"]),
        ),
        region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
    )
