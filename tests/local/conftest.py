from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from cryptostream_config.deployment import ConsumerConfig
from local.checkpoints import CheckpointStore
from local.shard_reader import ShardReader


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    for key in ("AWS_ENDPOINT_URL",):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield


@pytest.fixture
def stream(aws):
    kinesis = boto3.client("kinesis", region_name="us-east-1")
    kinesis.create_stream(StreamName="s", ShardCount=1)
    return kinesis


def put(kinesis, payloads: list[bytes], key: str = "BTC-USD") -> None:
    kinesis.put_records(StreamName="s", Records=[{"Data": p, "PartitionKey": key} for p in payloads])


def reader(kinesis, checkpoints: CheckpointStore | None = None, name: str = "esm") -> ShardReader:
    return ShardReader(kinesis, "s", name, checkpoints or CheckpointStore())


def mapping_settings(**overrides) -> ConsumerConfig:
    base = {
        "batch_size": 10,
        "batching_window_seconds": 0,
        "max_retries": 2,
        "max_record_age_seconds": 3600,
        "bisect_on_error": True,
    }
    return ConsumerConfig(**{**base, **overrides})
