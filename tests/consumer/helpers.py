"""Run batches through the consumer the way Lambda does, including redelivery after batchItemFailures."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import process_partial_response

from consumer.processor import QuoteBatchProcessor
from consumer.settings import ConsumerSettings
from consumer.stats import BatchStats
from cryptostream_runtime.retry import RetryPolicy
from tests.consumer.conftest import TABLE, Aws, FakeLambdaContext


def consume(
    event: dict[str, Any],
    aws: Aws,
    *,
    dynamodb: Any = None,
    sqs: Any = None,
    ttl_days: int = 30,
    max_attempts: int = 6,
) -> tuple[dict[str, Any], BatchStats]:
    """One invocation with the given (possibly fault-injecting) clients and a backoff that never sleeps."""
    settings = ConsumerSettings(TABLE, aws.queue_url, history_ttl_days=ttl_days, region="us-east-1")
    processor = QuoteBatchProcessor(
        settings,
        dynamodb=dynamodb or aws.dynamodb,
        sqs=sqs or aws.sqs,
        backoff=RetryPolicy(max_attempts=max_attempts, sleep=lambda _: None),
    )
    response = process_partial_response(
        event=event, record_handler=processor.record_handler, processor=processor, context=FakeLambdaContext()
    )
    stats = processor.stats
    assert stats.accounted == stats.records == len(event["Records"]), stats
    assert stats.failed == len(response["batchItemFailures"])
    return response, stats


def failed_sequence_numbers(response: dict[str, Any]) -> list[str]:
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def redeliver_until_done(
    event: dict[str, Any], aws: Aws, *, max_invocations: int = 100, **options: Any
) -> list[BatchStats]:
    """Lambda's behaviour with ReportBatchItemFailures on a Kinesis shard: resume from the lowest
    reported sequence number until a batch succeeds."""
    records = event["Records"]
    history: list[BatchStats] = []
    for _ in range(max_invocations):
        response, stats = consume({"Records": records}, aws, **options)
        history.append(stats)
        failed = failed_sequence_numbers(response)
        if not failed:
            return history
        resume_from = min(int(sequence) for sequence in failed)
        records = [record for record in records if int(record["kinesis"]["sequenceNumber"]) >= resume_from]
    raise AssertionError(f"still failing after {max_invocations} invocations")
