"""The embedded stack's TransactWriteItems patch keeps moto's all-or-nothing semantics."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from local.moto_server import EmbeddedMotoServer


@pytest.fixture(scope="module")
def ddb():
    server = EmbeddedMotoServer(None)
    endpoint = server.start()
    client = boto3.client(
        "dynamodb", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    client.create_table(
        TableName="t",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
    )
    yield client
    server.stop()


def put(pk: str, ts: str, condition: bool = True) -> dict:
    op = {"TableName": "t", "Item": {"pk": {"S": pk}, "sk": {"S": "LATEST"}, "ts": {"S": ts}}}
    if condition:
        op |= {
            "ConditionExpression": "attribute_not_exists(pk) OR ts < :ts",
            "ExpressionAttributeValues": {":ts": {"S": ts}},
        }
    return {"Put": op}


def items(ddb) -> dict[str, str]:
    return {i["pk"]["S"]: i["ts"]["S"] for i in ddb.scan(TableName="t")["Items"]}


def test_cancelled_transaction_changes_nothing(ddb):
    ddb.transact_write_items(TransactItems=[put("a", "2"), put("b", "2")])
    with pytest.raises(ClientError) as caught:
        # c is new and a moves forward, but b's condition fails: nothing may be applied
        ddb.transact_write_items(TransactItems=[put("c", "1"), put("a", "3"), put("b", "1")])
    assert caught.value.response["Error"]["Code"] == "TransactionCanceledException"
    reasons = [r["Code"] for r in caught.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "ConditionalCheckFailed"]
    assert items(ddb) == {"a": "2", "b": "2"}


def test_successful_transaction_applies_everything(ddb):
    ddb.transact_write_items(TransactItems=[put("a", "5"), put("d", "1")])
    assert items(ddb)["a"] == "5" and items(ddb)["d"] == "1"
