"""The local stack's and the CLI's view of the one configuration: cdk.json's ``context.cryptostream`` block.

Reading, defaults and validation are ``cryptostream_config.deployment``'s (the same code the CDK app
uses); this module only picks what the local stack needs and lets environment variables (and ``.env``)
override single values, so a user can point the CLI at other names without editing cdk.json. Each override
is checked here, once, by ``cryptostream_model.settings`` (one line naming the variable, its value and
what is allowed); without ``AWS_REGION``/``AWS_DEFAULT_REGION`` the local stack's region is us-east-1.
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
from cryptostream_model import settings as read
from cryptostream_model.keys import WATERMARK_WRITE_MODES
from cryptostream_model.sources import DEFAULT_SOURCE, Series, check_source, encode_owners

LOCAL_REGION = "us-east-1"  # what the embedded stack and an emulator use when no region is configured


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
    region: str = LOCAL_REGION
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

    A cdk.json that cannot be read or holds a bad value raises ``ConfigError``, a bad override
    ``SettingError`` (both ValueError, one line).
    """
    deployed = load_deployment_config(cdk_json)
    env = os.environ
    pairs = read.pairs(env, "PAIRS", deployed.pairs)
    try:
        source = check_source(env.get("SOURCE") or deployed.source, "SOURCE")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    # PAIRS and SOURCE change what the schedules claim: check the overlap rule and the free tier again with them.
    local = check_free_tier_of(check_sources(dataclasses.replace(deployed, pairs=pairs, source=source)))
    return LocalSettings(
        pairs=pairs,
        stream_name=read.pattern(env, "STREAM_NAME", deployed.stream_name, read.STREAM_NAME),
        table_name=read.pattern(env, "TABLE_NAME", deployed.table_name, read.TABLE_NAME),
        quarantine_queue_name=read.pattern(
            env, "QUARANTINE_QUEUE_NAME", deployed.quarantine_queue_name, read.QUEUE_NAME
        ),
        archive_bucket_name=read.pattern(env, "ARCHIVE_BUCKET", deployed.archive_bucket_name, read.BUCKET_NAME),
        history_ttl_days=read.history_ttl_days(env, deployed.history_ttl_days),
        stream_retention_hours=deployed.stream_retention_hours,
        consumer=deployed.consumer,
        region=read.pattern(env, "AWS_REGION", "", read.REGION)
        or read.pattern(env, "AWS_DEFAULT_REGION", "", read.REGION)
        or LOCAL_REGION,
        watermark_writes=read.choice(
            env, "WATERMARK_WRITES", deployed.producer_watermark_writes, WATERMARK_WRITE_MODES, lower=True
        ),
        source=source,
        source_owners=local.source_owners,
        daily_request_budget=deployed.daily_request_budget,
    )
