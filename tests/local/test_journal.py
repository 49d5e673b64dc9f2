"""The embedded moto server keeps its state across a restart through its journal."""

from __future__ import annotations

import boto3
import pytest

from local.journal import is_state_changing
from local.moto_server import EmbeddedMotoServer


def clients(endpoint: str):
    kw = {"endpoint_url": endpoint, "region_name": "us-east-1", "aws_access_key_id": "x", "aws_secret_access_key": "y"}
    return boto3.client("kinesis", **kw), boto3.client("dynamodb", **kw), boto3.client("s3", **kw)


@pytest.mark.parametrize(
    ("target", "method", "expected"),
    [
        ("Kinesis_20131202.PutRecords", "POST", True),
        ("Kinesis_20131202.GetRecords", "POST", False),
        ("DynamoDB_20120810.BatchWriteItem", "POST", True),
        ("DynamoDB_20120810.Query", "POST", False),
        ("AmazonSQS.ReceiveMessage", "POST", False),
        (None, "PUT", True),
        (None, "GET", False),
    ],
)
def test_only_state_changing_requests_are_journaled(target, method, expected):
    environ = {"REQUEST_METHOD": method, "PATH_INFO": "/"}
    if target:
        environ["HTTP_X_AMZ_TARGET"] = target
    assert is_state_changing(environ, b"") is expected


def test_restart_replays_the_journal(tmp_path):
    journal = tmp_path / "journal.jsonl"
    server = EmbeddedMotoServer(journal)
    kinesis, ddb, s3 = clients(server.start())
    kinesis.create_stream(StreamName="s", ShardCount=1)
    sequence = kinesis.put_records(StreamName="s", Records=[{"Data": b"a", "PartitionKey": "k"}] * 3)
    ddb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName="t", Item={"pk": {"S": "x"}, "n": {"N": "1.50"}})
    s3.create_bucket(Bucket="bucket-one")
    s3.put_object(Bucket="bucket-one", Key="quotes/symbol=BTC/a.parquet", Body=b"\x00\x01binary")
    server.stop()

    again = EmbeddedMotoServer(journal)
    kinesis, ddb, s3 = clients(again.start())
    try:
        assert again.replayed >= 6
        shard = kinesis.list_shards(StreamName="s")["Shards"][0]["ShardId"]
        iterator = kinesis.get_shard_iterator(StreamName="s", ShardId=shard, ShardIteratorType="TRIM_HORIZON")
        records = kinesis.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
        assert [r["SequenceNumber"] for r in records] == [r["SequenceNumber"] for r in sequence["Records"]]
        assert ddb.get_item(TableName="t", Key={"pk": {"S": "x"}})["Item"]["n"] == {"N": "1.50"}
        assert s3.get_object(Bucket="bucket-one", Key="quotes/symbol=BTC/a.parquet")["Body"].read() == b"\x00\x01binary"
    finally:
        again.stop()
