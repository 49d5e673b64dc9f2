"""The local stack's and the CLI's view of the one configuration: cdk.json's ``context.cryptostream`` block.

Reading, defaults and validation are ``cryptostream_config.deployment``'s (the same code the CDK app
uses); this module only picks what the local stack needs and lets environment variables (and ``.env``)
override single values, so a user can point the CLI at other names without editing cdk.json.
``CRYPTOSTREAM_CDK_JSON`` names another cdk.json; outside a checkout, without one, the built-in
defaults (equal to the repository's cdk.json) apply.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptostream_config.deployment import CONSUMER_DEFAULTS, ConsumerConfig, load_deployment_config

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ConsumerMapping:
    """Event source mapping settings of the consumer (same meaning as Lambda's)."""

    batch_size: int = CONSUMER_DEFAULTS["batch_size"]
    batching_window_seconds: float = CONSUMER_DEFAULTS["batching_window_seconds"]
    max_retries: int = CONSUMER_DEFAULTS["max_retries"]
    max_record_age_seconds: int = CONSUMER_DEFAULTS["max_record_age_seconds"]
    bisect_on_error: bool = CONSUMER_DEFAULTS["bisect_on_error"]

    @classmethod
    def of(cls, consumer: ConsumerConfig) -> ConsumerMapping:
        return cls(
            batch_size=consumer.batch_size,
            batching_window_seconds=float(consumer.batching_window_seconds),
            max_retries=consumer.max_retries,
            max_record_age_seconds=consumer.max_record_age_seconds,
            bisect_on_error=consumer.bisect_on_error,
        )


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
    watermark_writes: str = "per_pair"  # the producer's WATERMARK_WRITES (cdk.json producer_watermark_writes)

    @property
    def esm_failure_queue_name(self) -> str:
        """On-failure destination of the consumer's event source mapping."""
        return f"{self.quarantine_queue_name}-esm-failures"


def load_config(cdk_json: Path | None = None) -> Config:
    """Read cdk.json (this checkout's, or ``CRYPTOSTREAM_CDK_JSON``), then apply env overrides.

    A cdk.json that cannot be read or holds a bad value raises ``ConfigError`` (one line).
    """
    deployed = load_deployment_config(cdk_json)
    env = os.environ
    pairs = env.get("PAIRS") or ",".join(deployed.pairs)
    return Config(
        pairs=tuple(p.strip().upper() for p in pairs.split(",") if p.strip()),
        stream_name=env.get("STREAM_NAME", deployed.stream_name),
        table_name=env.get("TABLE_NAME", deployed.table_name),
        quarantine_queue_name=env.get("QUARANTINE_QUEUE_NAME", deployed.quarantine_queue_name),
        archive_bucket_name=env.get("ARCHIVE_BUCKET", deployed.archive_bucket_name),
        history_ttl_days=int(env.get("HISTORY_TTL_DAYS", deployed.history_ttl_days)),
        stream_retention_hours=deployed.stream_retention_hours,
        consumer=ConsumerMapping.of(deployed.consumer),
        region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        watermark_writes=env.get("WATERMARK_WRITES", deployed.producer_watermark_writes),
    )
