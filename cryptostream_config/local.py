"""The local stack's and the CLI's view of the one configuration: cdk.json's ``context.cryptostream`` block.

Reading, defaults and validation are ``cryptostream_config.deployment``'s (the same code the CDK app
uses); this module only picks what the local stack needs and lets environment variables (and ``.env``)
override single values, so a user can point the CLI at other names without editing cdk.json.
``CRYPTOSTREAM_CDK_JSON`` names another cdk.json; outside a checkout, without one, the built-in
defaults (equal to the repository's cdk.json) apply.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptostream_config.deployment import (
    OPTIONAL_DEFAULTS,
    ConfigError,
    ConsumerConfig,
    check_free_tier_of,
    check_sources,
    load_deployment_config,
)
from cryptostream_model.sources import DEFAULT_SOURCE, Series, check_source, encode_owners


@dataclass(frozen=True)
class LocalSettings:
    pairs: tuple[str, ...]
    stream_name: str
    table_name: str
    quarantine_queue_name: str
    archive_bucket_name: str
    history_ttl_days: int
    stream_retention_hours: int
    consumer: ConsumerConfig = field(default_factory=ConsumerConfig)
    region: str = "us-east-1"
    # the producer's WATERMARK_WRITES (cdk.json producer_watermark_writes)
    watermark_writes: str = OPTIONAL_DEFAULTS["producer_watermark_writes"]
    # the producer's SOURCE (default source) and the (pair, interval)s other sources own (SOURCE_OWNERS)
    source: str = DEFAULT_SOURCE
    source_owners: dict[Series, str] = field(default_factory=dict)

    @property
    def producer_source_env(self) -> dict[str, str]:
        """``SOURCE`` and ``SOURCE_OWNERS`` as the CDK app sets them on the producer."""
        return {"SOURCE": self.source, "SOURCE_OWNERS": encode_owners(self.source_owners, self.source)}
    # the producer's ALPHAVANTAGE_DAILY_REQUESTS (cdk.json free_tier / alphavantage_daily_requests)
    daily_request_budget: int | None = None

    @property
    def esm_failure_queue_name(self) -> str:
        """On-failure destination of the consumer's event source mapping."""
        return f"{self.quarantine_queue_name}-esm-failures"


def load_local_settings(cdk_json: Path | None = None) -> LocalSettings:
    """Read cdk.json (this checkout's, or ``CRYPTOSTREAM_CDK_JSON``), then apply env overrides.

    A cdk.json that cannot be read or holds a bad value raises ``ConfigError`` (one line).
    """
    deployed = load_deployment_config(cdk_json)
    env = os.environ
    pairs = tuple(p.strip().upper() for p in (env.get("PAIRS") or ",".join(deployed.pairs)).split(",") if p.strip())
    try:
        source = check_source(env.get("SOURCE") or deployed.source, "SOURCE")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    # PAIRS and SOURCE change what the schedules claim: check the overlap rule and the free tier again with them.
    local = check_free_tier_of(check_sources(dataclasses.replace(deployed, pairs=pairs, source=source)))
    return LocalSettings(
        pairs=pairs,
        stream_name=env.get("STREAM_NAME", deployed.stream_name),
        table_name=env.get("TABLE_NAME", deployed.table_name),
        quarantine_queue_name=env.get("QUARANTINE_QUEUE_NAME", deployed.quarantine_queue_name),
        archive_bucket_name=env.get("ARCHIVE_BUCKET", deployed.archive_bucket_name),
        history_ttl_days=int(env.get("HISTORY_TTL_DAYS", deployed.history_ttl_days)),
        stream_retention_hours=deployed.stream_retention_hours,
        consumer=deployed.consumer,
        region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        watermark_writes=env.get("WATERMARK_WRITES", deployed.producer_watermark_writes),
        source=source,
        source_owners=local.source_owners,
        daily_request_budget=deployed.daily_request_budget,
    )
