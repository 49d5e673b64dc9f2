"""The Lambda entry point as the local stack calls it: env vars, AWS_ENDPOINT_URL at a moto server,
the market simulator behind ALPHAVANTAGE_BASE_URL, the real alpha_vantage path."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

from producer import aws as producer_aws
from producer.handler import lambda_handler
from tests.producer.conftest import API_KEY, REGION, STREAM, TABLE, FakeContext, create_resources, stream_quotes


@pytest.fixture
def moto_server() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    requests.post(f"{url}/moto-api/reset", timeout=10)  # moto's backends are process-wide: start empty
    yield url
    requests.post(f"{url}/moto-api/reset", timeout=10)
    server.stop()


@pytest.fixture
def local_env(moto_server, simulator, monkeypatch) -> boto3.session.Session:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    session = boto3.session.Session(region_name=REGION)
    create_resources(session)
    secret = session.client("secretsmanager").create_secret(
        Name="cryptostream/alphavantage", SecretString=json.dumps({"api_key": API_KEY})
    )["ARN"]
    for name, value in {
        "STREAM_NAME": STREAM,
        "TABLE_NAME": TABLE,
        "PAIRS": "BTC-USD,ETH-USD,SOL-EUR",
        "INTERVAL": "1min",
        "ALPHAVANTAGE_SECRET_ARN": secret,
        "ALPHAVANTAGE_BASE_URL": simulator.base_url,
    }.items():
        monkeypatch.setenv(name, value)
    return session


def test_lambda_handler_end_to_end(local_env, simulator):
    first = lambda_handler({}, FakeContext())
    assert first["failed_pairs"] == {} and first["published"] == 300
    simulator.clock.advance(10 * 60)
    second = lambda_handler({"mode": "incremental"}, FakeContext())
    assert second["published"] == 30
    spot = lambda_handler({"interval": "spot", "pairs": "BTC-USD"}, FakeContext())
    assert spot["published"] == 1

    quotes = stream_quotes(local_env.client("kinesis"))
    assert len(quotes) == 331
    bars = [q for q in quotes if q.interval == "1min"]
    assert len({(q.pair, q.ts) for q in bars}) == 330
    assert {q.pair for q in bars} == {"BTC-USD", "ETH-USD", "SOL-EUR"}
    assert simulator.stats["CRYPTO_INTRADAY"] == 6 and simulator.stats["CURRENCY_EXCHANGE_RATE"] == 1
    watermark = local_env.client("dynamodb").get_item(
        TableName=TABLE, Key={"pk": {"S": "SOL-EUR#1min"}, "sk": {"S": "WATERMARK"}}
    )["Item"]["ts"]["S"]
    assert watermark == "2026-11-22T09:16:00Z"


def test_clients_are_cached_per_endpoint(local_env, moto_server, monkeypatch):
    first = producer_aws.aws_clients()
    assert producer_aws.aws_clients() is first
    assert first.client("kinesis") is first.client("kinesis")
    assert first.client("kinesis").meta.endpoint_url == moto_server
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    moved = producer_aws.aws_clients()
    assert moved is not first and moved.client("kinesis").meta.endpoint_url == "http://127.0.0.1:1"
