"""Clients are cached per endpoint and region (the local stack re-points the process); settings come
from the environment on every invocation."""

from __future__ import annotations

import pytest

from consumer import clients
from consumer.settings import ConsumerSettings, SettingsError


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    clients.clear()


def test_clients_are_cached_per_service_endpoint_and_region() -> None:
    local = clients.client("dynamodb", "http://127.0.0.1:4566", "us-east-1")
    assert clients.client("dynamodb", "http://127.0.0.1:4566", "us-east-1") is local
    assert local.meta.endpoint_url == "http://127.0.0.1:4566"
    other = clients.client("dynamodb", "http://127.0.0.1:5000", "us-east-1")
    assert other is not local and other.meta.endpoint_url == "http://127.0.0.1:5000"
    aws = clients.client("dynamodb", None, "eu-west-1")
    assert aws.meta.endpoint_url == "https://dynamodb.eu-west-1.amazonaws.com"
    assert clients.client("sqs", None, "eu-west-1") is not aws


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
