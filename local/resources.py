"""Create the pipeline's resources on a local endpoint, with the same names and settings as in AWS.

Idempotent: a restarted stack whose journal already holds them finds them and moves on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from cryptostream_config.local import LocalSettings
from cryptostream_model.keys import LATEST_INDEX_NAME, LATEST_INDEX_PK, TTL_ATTRIBUTE
from local.clients import Clients

LOCAL_SHARDS = 2  # one provisioned shard in AWS by default; two locally: hash routing and per-shard checkpoints
SECRET_NAME = "cryptostream/alphavantage"


@dataclass(frozen=True)
class LocalResources:
    stream_arn: str
    table_name: str
    quarantine_queue_url: str
    esm_failure_queue_url: str
    bucket: str
    secret_arn: str
    kms_key_id: str


def ensure_resources(clients: Clients, config: LocalSettings, api_key: str) -> LocalResources:
    kms_key_id = _ensure_key(clients)
    stream_arn = _ensure_stream(clients, config, kms_key_id)
    _ensure_table(clients, config, kms_key_id)
    quarantine = _ensure_queue(clients, config.quarantine_queue_name, kms_key_id)
    esm_failures = _ensure_queue(clients, config.esm_failure_queue_name, kms_key_id)
    _ensure_bucket(clients, config.archive_bucket_name, kms_key_id)
    secret_arn = _ensure_secret(clients, api_key, kms_key_id)
    return LocalResources(
        stream_arn=stream_arn,
        table_name=config.table_name,
        quarantine_queue_url=quarantine,
        esm_failure_queue_url=esm_failures,
        bucket=config.archive_bucket_name,
        secret_arn=secret_arn,
        kms_key_id=kms_key_id,
    )


def _ensure_key(clients: Clients) -> str:
    alias = "alias/cryptostream"
    for entry in clients.kms.list_aliases()["Aliases"]:
        if entry["AliasName"] == alias and entry.get("TargetKeyId"):
            return entry["TargetKeyId"]
    key_id = clients.kms.create_key(Description="cryptostream data at rest")["KeyMetadata"]["KeyId"]
    clients.kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    return key_id


def _ensure_stream(clients: Clients, config: LocalSettings, kms_key_id: str) -> str:
    kinesis = clients.kinesis
    try:
        summary = kinesis.describe_stream_summary(StreamName=config.stream_name)["StreamDescriptionSummary"]
        return summary["StreamARN"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
    kinesis.create_stream(StreamName=config.stream_name, ShardCount=LOCAL_SHARDS)
    kinesis.get_waiter("stream_exists").wait(StreamName=config.stream_name, WaiterConfig={"Delay": 0.1})
    kinesis.start_stream_encryption(StreamName=config.stream_name, EncryptionType="KMS", KeyId=kms_key_id)
    if config.stream_retention_hours > 24:
        kinesis.increase_stream_retention_period(
            StreamName=config.stream_name, RetentionPeriodHours=config.stream_retention_hours
        )
    return kinesis.describe_stream_summary(StreamName=config.stream_name)["StreamDescriptionSummary"]["StreamARN"]


def serving_table_definition(table_name: str) -> dict[str, Any]:
    """CreateTable arguments of the serving table: the keys and the sparse latest-quotes index
    (cryptostream_model.keys). The CDK app declares the same; tests create it from here too."""
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", LATEST_INDEX_PK)
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": LATEST_INDEX_NAME,
                "KeySchema": [
                    {"AttributeName": LATEST_INDEX_PK, "KeyType": "HASH"},
                    {"AttributeName": "pk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    }


def _ensure_table(clients: Clients, config: LocalSettings, kms_key_id: str) -> None:
    ddb = clients.dynamodb
    try:
        ddb.describe_table(TableName=config.table_name)
        return
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
    ddb.create_table(
        **serving_table_definition(config.table_name),
        SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": kms_key_id},
    )
    if config.history_ttl_days > 0:
        ddb.update_time_to_live(
            TableName=config.table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
        )


def _ensure_queue(clients: Clients, name: str, kms_key_id: str) -> str:
    try:
        return clients.sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except ClientError as exc:
        if "NonExistentQueue" not in exc.response["Error"]["Code"]:
            raise
    return clients.sqs.create_queue(
        QueueName=name,
        Attributes={"KmsMasterKeyId": kms_key_id, "MessageRetentionPeriod": str(14 * 24 * 3600)},
    )["QueueUrl"]


def _ensure_bucket(clients: Clients, bucket: str, kms_key_id: str) -> None:
    try:
        clients.s3.head_bucket(Bucket=bucket)
        return
    except ClientError:
        pass
    clients.s3.create_bucket(Bucket=bucket)
    clients.s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kms_key_id}}]
        },
    )
    clients.s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )


def _ensure_secret(clients: Clients, api_key: str, kms_key_id: str) -> str:
    sm = clients.secretsmanager
    try:
        return sm.describe_secret(SecretId=SECRET_NAME)["ARN"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
    return sm.create_secret(Name=SECRET_NAME, SecretString=json.dumps({"api_key": api_key}), KmsKeyId=kms_key_id)["ARN"]
