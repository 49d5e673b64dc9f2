"""The exact DynamoDB requests, checked with botocore's Stubber: transaction cancellations with mixed
reasons, and a throttled BatchWriteItem through the Lambda handler."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from consumer import handler
from consumer.dynamodb_writer import LATEST_CONDITION, write_latest
from consumer.stats import BatchStats
from cryptostream_runtime.retry import RetryPolicy
from tests.consumer.conftest import FakeLambdaContext
from tests.consumer.events import kinesis_event, quote, sequence_numbers

TABLE = "cryptostream-quotes"


def latest(pk: str, ts: str = "2026-11-22T09:05:00Z") -> dict[str, Any]:
    return {
        "pk": {"S": pk},
        "sk": {"S": "LATEST"},
        "ts": {"S": ts},
        "fetched_at": {"S": "2026-11-22T09:10:02Z"},
        "latest_interval": {"S": "5min"},
    }


def put(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": TABLE,
            "Item": item,
            "ConditionExpression": LATEST_CONDITION,
            "ExpressionAttributeNames": {"#ts": "ts", "#fetched_at": "fetched_at"},
            "ExpressionAttributeValues": {":ts": item["ts"], ":fetched_at": item["fetched_at"]},
        }
    }


@pytest.fixture
def dynamodb() -> Any:
    return boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def cancelled(stubber: Stubber, items: list[dict[str, Any]], reasons: list[str]) -> None:
    stubber.add_client_error(
        "transact_write_items",
        service_error_code="TransactionCanceledException",
        http_status_code=400,
        modeled_fields={"CancellationReasons": [{"Code": reason} for reason in reasons]},
        expected_params={"TransactItems": [put(item) for item in items]},
    )


def test_stale_items_are_dropped_and_the_rest_resent(dynamodb: Any) -> None:
    a, b, c, d = (latest(pk) for pk in ("A-USD#5min", "B-USD#5min", "C-USD#5min", "D-USD#5min"))
    sleeps: list[float] = []
    stats = BatchStats()
    with Stubber(dynamodb) as stubber:
        cancelled(stubber, [a, b, c, d], ["ConditionalCheckFailed", "TransactionConflict", "None", "None"])
        cancelled(stubber, [b, c, d], ["None", "ConditionalCheckFailed", "None"])  # c went stale meanwhile
        stubber.add_response("transact_write_items", {}, {"TransactItems": [put(b), put(d)]})
        failed = write_latest(
            dynamodb, TABLE, [(0, a), (1, b), (2, c), (3, d)], RetryPolicy(sleep=sleeps.append), stats
        )
        stubber.assert_no_pending_responses()
    assert failed == []
    assert (stats.stale_latest_skipped, stats.latest_written, stats.dynamodb_requests) == (2, 2, 3)
    assert len(sleeps) == 1  # backoff after the conflict; a purely stale cancellation is resent at once


def test_unretryable_cancellation_reports_only_its_item(dynamodb: Any) -> None:
    a, b = latest("A-USD#5min"), latest("B-USD#5min")
    stats = BatchStats()
    with Stubber(dynamodb) as stubber:
        cancelled(stubber, [a, b], ["None", "ValidationError"])
        stubber.add_response("transact_write_items", {}, {"TransactItems": [put(a)]})
        failed = write_latest(dynamodb, TABLE, [(4, a), (9, b)], RetryPolicy(sleep=lambda _: None), stats)
    assert failed == [9]
    assert stats.latest_written == 1


def test_more_than_100_latest_items_use_several_transactions(dynamodb: Any) -> None:
    items = [(n, latest(f"P{n}-USD#5min")) for n in range(150)]
    stats = BatchStats()
    with Stubber(dynamodb) as stubber:
        stubber.add_response("transact_write_items", {}, {"TransactItems": [put(item) for _, item in items[:100]]})
        stubber.add_response("transact_write_items", {}, {"TransactItems": [put(item) for _, item in items[100:]]})
        assert write_latest(dynamodb, TABLE, items, RetryPolicy(), stats) == []
    assert stats.dynamodb_requests == 2


def test_handler_retries_a_throttled_batch_write(monkeypatch: pytest.MonkeyPatch, dynamodb: Any) -> None:
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.setenv("QUARANTINE_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/q")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    monkeypatch.setattr("cryptostream_runtime.retry.time.sleep", lambda _: None)
    consume = handler.make_handler(clients=lambda _: dynamodb)
    event = kinesis_event([quote(), quote(ts="2026-11-22T09:05:00Z")])
    with Stubber(dynamodb) as stubber:
        stubber.add_client_error(
            "batch_write_item", service_error_code="ProvisionedThroughputExceededException", http_status_code=400
        )
        stubber.add_response("batch_write_item", {"UnprocessedItems": {}}, {"RequestItems": {TABLE: ANY}})
        stubber.add_response("transact_write_items", {}, {"TransactItems": ANY})
        response = consume(event, FakeLambdaContext())
        stubber.assert_no_pending_responses()
    assert response == {"batchItemFailures": []}

    with Stubber(dynamodb) as stubber:  # still throttled after every retry: Lambda must retry it all
        for _ in range(RetryPolicy().max_attempts or 0):
            stubber.add_client_error(
                "batch_write_item", service_error_code="ProvisionedThroughputExceededException", http_status_code=400
            )
        response = consume(event, FakeLambdaContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": seq} for seq in sequence_numbers(event)]}
