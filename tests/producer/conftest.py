"""Fixtures for the producer: recorded bodies, an in-process moto account, the market simulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cryptostream_model.record import Quote, parse_record
from cryptostream_runtime import clients as runtime_clients
from local.market import MarketSimulator

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alphavantage"
STREAM = "cryptostream-quotes"
TABLE = "cryptostream-quotes"
REGION = "us-east-1"
API_KEY = "SIMKEY0123456789"


def body(name: str) -> dict:
    """A recorded Alpha Vantage body from tests/fixtures/alphavantage/."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


@dataclass
class FakeContext:
    remaining_ms: int = 60_000
    function_name: str = "cryptostream-producer"
    aws_request_id: str = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@dataclass
class MotoClients:
    """The shape producer.handler.run expects of ``clients`` (``client(service)``)."""

    session: Any
    made: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        if service not in self.made:
            self.made[service] = self.session.client(service, region_name=REGION)
        return self.made[service]

    def secrets(self) -> Any:
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        return SecretsProvider(boto3_client=self.client("secretsmanager"))


def create_resources(session: Any) -> None:
    dynamodb = session.client("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    kinesis = session.client("kinesis", region_name=REGION)
    kinesis.create_stream(StreamName=STREAM, ShardCount=2)


def stream_quotes(kinesis: Any) -> list[Quote]:
    """Every record in the stream, decoded and validated, in shard order."""
    quotes = []
    for shard in kinesis.list_shards(StreamName=STREAM)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=STREAM, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            response = kinesis.get_records(ShardIterator=iterator, Limit=10000)
            quotes.extend(parse_record(record["Data"]) for record in response["Records"])
            if not response["Records"]:
                break
            iterator = response.get("NextShardIterator")
    return quotes


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "ALPHAVANTAGE_API_KEY", "ALPHAVANTAGE_SECRET_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    runtime_clients.clear()


@pytest.fixture
def moto() -> Iterator[MotoClients]:
    with mock_aws():
        clients = MotoClients(boto3.session.Session())
        create_resources(clients.session)
        yield clients


@pytest.fixture
def simulator() -> Iterator[MarketSimulator]:
    with MarketSimulator(seed=11, full_bars=600) as sim:
        sim.clock.set("2026-11-22T09:07:30Z")
        yield sim
