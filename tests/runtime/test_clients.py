"""The one client factory: clients cached per options, endpoint, region and environment, honouring
AWS_ENDPOINT_URL and the caller's botocore settings."""

from __future__ import annotations

import pytest

from cryptostream_runtime import clients
from cryptostream_runtime.clients import ClientOptions

OPTIONS = ClientOptions(max_attempts=2, connect_timeout=3, read_timeout=10, tcp_keepalive=True)


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    clients.clear()


def test_clients_are_cached_per_service_endpoint_and_region() -> None:
    local = clients.clients(OPTIONS, endpoint_url="http://127.0.0.1:4566", region="us-east-1").client("dynamodb")
    assert (
        clients.clients(OPTIONS, endpoint_url="http://127.0.0.1:4566", region="us-east-1").client("dynamodb") is local
    )
    assert local.meta.endpoint_url == "http://127.0.0.1:4566"
    other = clients.clients(OPTIONS, endpoint_url="http://127.0.0.1:5000", region="us-east-1").client("dynamodb")
    assert other is not local and other.meta.endpoint_url == "http://127.0.0.1:5000"
    aws = clients.clients(OPTIONS, region="eu-west-1").client("dynamodb")
    assert aws.meta.endpoint_url == "https://dynamodb.eu-west-1.amazonaws.com"
    assert clients.clients(OPTIONS, region="eu-west-1").client("sqs") is not aws


def test_the_environment_is_part_of_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    first = clients.clients(OPTIONS)
    assert clients.clients(OPTIONS) is first
    assert first.client("kinesis").meta.region_name == "us-east-1"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")  # boto3 honours it itself
    moved = clients.clients(OPTIONS)
    assert moved is not first and moved.client("kinesis").meta.endpoint_url == "http://127.0.0.1:1"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "y")  # other credentials: other clients
    assert clients.clients(OPTIONS) is not moved


def test_options_become_botocore_config() -> None:
    made = clients.clients(ClientOptions(max_attempts=3, read_timeout=15, user_agent_extra="cryptostream-producer"))
    config = made.client("dynamodb").meta.config
    assert config.retries == {"mode": "standard", "total_max_attempts": 4}  # botocore counts the first call too
    assert (config.read_timeout, config.connect_timeout) == (15, 60)  # None keeps botocore's default
    assert "cryptostream-producer" in config.user_agent_extra
    assert made.secrets() is made.secrets()  # one Powertools provider (and its value cache) per factory
