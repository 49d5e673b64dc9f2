"""Processing: the consumer, its Kinesis event source settings, and the KMS-encrypted queues."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.infra


def _arn(synth, construct) -> dict:
    return {"Fn::GetAtt": [synth.logical_id(construct), "Arn"]}


def test_event_source_mapping_settings(synth) -> None:
    props = synth.one("AWS::Lambda::EventSourceMapping")
    assert props["FunctionName"] == {"Ref": synth.logical_id(synth.stack.processing.function)}
    assert props["EventSourceArn"] == _arn(synth, synth.stack.stream.stream)
    assert props["StartingPosition"] == "TRIM_HORIZON"
    assert props["BatchSize"] == 500
    assert props["MaximumBatchingWindowInSeconds"] == 5
    assert props["ParallelizationFactor"] == 1
    assert props["BisectBatchOnFunctionError"] is True
    assert props["MaximumRetryAttempts"] == 5
    assert props["MaximumRecordAgeInSeconds"] == 3600
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["DestinationConfig"] == {
        "OnFailure": {"Destination": _arn(synth, synth.stack.processing.esm_failures)}
    }


def test_consumer_handler_and_environment(synth) -> None:
    props = synth.raw["Resources"][synth.logical_id(synth.stack.processing.function)]["Properties"]
    assert props["Handler"] == "consumer.handler.lambda_handler"
    assert props["Runtime"] == "python3.14"
    env = props["Environment"]["Variables"]
    assert env["TABLE_NAME"] == {"Ref": synth.logical_id(synth.stack.table.table)}
    assert env["QUARANTINE_QUEUE_URL"] == {"Ref": synth.logical_id(synth.stack.processing.quarantine)}
    assert env["HISTORY_TTL_DAYS"] == "30"
    assert env["POWERTOOLS_SERVICE_NAME"] == "cryptostream-consumer"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "cryptostream"
    assert props["Layers"] == [{"Ref": synth.logical_id(synth.stack.ingestion.layer)}]


def test_consumer_permissions(synth) -> None:
    """History (BatchWriteItem), LATEST (a transaction of Puts: PutItem), poison (SendMessage), the mapping's reads."""
    actions = synth.actions_of(synth.stack.processing.role)
    assert {"dynamodb:BatchWriteItem", "dynamodb:PutItem", "sqs:SendMessage"} <= actions
    assert {"kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards", "kms:Decrypt"} <= actions
    # TransactWriteItems is no IAM action; the rest is never called by the consumer or its mapping.
    never_called = {"dynamodb:TransactWriteItems", "dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:Query"}
    never_called |= {"sqs:GetQueueAttributes", "sqs:GetQueueUrl"}
    never_called |= {"kinesis:ListStreams", "kinesis:DescribeStreamConsumer"}  # enhanced fan-out only
    assert not actions & never_called
    assert not any(a in ("dynamodb:DeleteTable", "dynamodb:Scan", "sqs:DeleteQueue", "kms:ReEncrypt*") for a in actions)


def test_queues_are_kms_encrypted_tls_only_with_dead_letter_handling(synth) -> None:
    processing = synth.stack.processing
    key = _arn(synth, processing.key)
    queues = {q["Properties"]["QueueName"]: q["Properties"] for q in synth.resources("AWS::SQS::Queue").values()}
    for name in ("cryptostream-quarantine", "cryptostream-quarantine-dlq", "cryptostream-quarantine-esm-failures"):
        assert queues[name]["KmsMasterKeyId"] == key, name
        assert queues[name]["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert queues["cryptostream-quarantine"]["RedrivePolicy"] == {
        "deadLetterTargetArn": _arn(synth, processing.quarantine_dead_letters),
        "maxReceiveCount": 5,
    }
    for policy in synth.resources("AWS::SQS::QueuePolicy").values():
        # TLS only; the one Allow is S3's on the rollups' change log (tests/infra/test_change_log.py).
        statement, *allows = policy["Properties"]["PolicyDocument"]["Statement"]
        assert statement["Effect"] == "Deny"
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert [a["Sid"] for a in allows] in ([], ["ArchiveObjectCreatedNotifications"])
    assert len(synth.resources("AWS::SQS::QueuePolicy")) == len(queues)
