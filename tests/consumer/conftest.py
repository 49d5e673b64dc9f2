"""A moto account with the table (keys, sparse LATEST index) and quarantine queue the consumer expects."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cryptostream_model.keys import TTL_ATTRIBUTE
from cryptostream_runtime import clients as runtime_clients
from cryptostream_runtime.retry import RetryPolicy
from local.resources import serving_table_definition

TABLE = "cryptostream-quotes"
QUEUE = "cryptostream-quarantine"


@dataclass
class FakeLambdaContext:
    function_name: str = "cryptostream-consumer"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:cryptostream-consumer"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    remaining_ms: int = 60_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@dataclass
class Aws:
    dynamodb: Any
    sqs: Any
    queue_url: str

    def table_items(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": TABLE}
        while True:
            page = self.dynamodb.scan(**kwargs)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                return sorted(items, key=lambda item: (item["pk"]["S"], item["sk"]["S"]))
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def item(self, pk: str, sk: str) -> dict[str, Any] | None:
        return self.dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True).get(
            "Item"
        )

    def quarantine_messages(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
            ).get("Messages", [])
            if not batch:
                return messages
            messages += batch
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
            )


@pytest.fixture
def no_sleep() -> RetryPolicy:
    """A retry policy that never sleeps, with the production attempt budget."""
    return RetryPolicy(sleep=lambda _: None)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "WARNING")
    runtime_clients.clear()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(**serving_table_definition(TABLE))
        dynamodb.update_time_to_live(
            TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
        )
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue_url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
        monkeypatch.setenv("TABLE_NAME", TABLE)
        monkeypatch.setenv("QUARANTINE_QUEUE_URL", queue_url)
        monkeypatch.setenv("HISTORY_TTL_DAYS", "30")
        yield Aws(dynamodb=dynamodb, sqs=sqs, queue_url=queue_url)
    runtime_clients.clear()
