"""Consumer settings come from the environment on every invocation."""

from __future__ import annotations

import pytest

from consumer.settings import ConsumerSettings, SettingsError


def test_settings_from_the_environment() -> None:
    env = {
        "TABLE_NAME": "quotes",
        "QUARANTINE_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/1/q",
        "HISTORY_TTL_DAYS": " 7 ",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
        "AWS_REGION": "eu-west-1",
    }
    assert ConsumerSettings.from_env(env) == ConsumerSettings(
        "quotes", "https://sqs.eu-west-1.amazonaws.com/1/q", 7, "http://127.0.0.1:4566", "eu-west-1"
    )
    defaults = ConsumerSettings.from_env({"TABLE_NAME": "t", "QUARANTINE_QUEUE_URL": "q"})
    assert (defaults.history_ttl_days, defaults.endpoint_url) == (30, None)
    with pytest.raises(SettingsError, match=r"missing setting\(s\): TABLE_NAME, QUARANTINE_QUEUE_URL"):
        ConsumerSettings.from_env({})
