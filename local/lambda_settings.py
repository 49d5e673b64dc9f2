"""The Lambdas' settings, checked before the local stack starts anything.

The local stack runs the real handlers in-process with the user's environment plus what the CDK app
would set (names, pairs, TTL from cdk.json). Each handler reads its settings on every invocation, so
a bad ``INTERVAL`` or ``ALPHAVANTAGE_TIMEOUT_SECONDS`` would otherwise surface only after the stack
started, or, for the consumer, as batch after batch sent to the failure queue. Here both handlers'
settings models read that same environment once, up front; a bad value raises their one-line error.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from consumer.settings import ConsumerSettings
from cryptostream_config.local import LocalSettings
from producer.settings import Settings

# Filled in by the stack once its resources exist; any well-formed value stands in for them here.
_PLACEHOLDERS = {
    "QUARANTINE_QUEUE_URL": "http://127.0.0.1/000000000000/placeholder",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
}


def check_lambda_settings(config: LocalSettings, env: Mapping[str, str] | None = None) -> None:
    """Raise the producer's ``ConfigError`` or the consumer's ``SettingsError`` for a bad value."""
    merged = {
        **(os.environ if env is None else env),
        **_PLACEHOLDERS,
        "STREAM_NAME": config.stream_name,
        "TABLE_NAME": config.table_name,
        "PAIRS": ",".join(config.pairs),
        "HISTORY_TTL_DAYS": str(config.history_ttl_days),
        "WATERMARK_WRITES": config.watermark_writes,
        "AWS_REGION": config.region,
        "AWS_DEFAULT_REGION": config.region,
    }
    if config.daily_request_budget is not None:
        merged["ALPHAVANTAGE_DAILY_REQUESTS"] = str(config.daily_request_budget)
    Settings.from_env(merged)
    ConsumerSettings.from_env(merged)
