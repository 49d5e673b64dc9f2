"""Serving: the table's keys, index, billing, PITR, TTL and encryption follow cryptostream_model.keys."""

from __future__ import annotations

import pytest

from cryptostream_model.keys import LATEST_INDEX_NAME, LATEST_INDEX_PK, TTL_ATTRIBUTE

pytestmark = pytest.mark.infra


def test_table_keys_billing_recovery_ttl_and_cmk(synth) -> None:
    props = synth.one("AWS::DynamoDB::Table")
    assert props["TableName"] == "cryptostream-quotes"
    assert props["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}
    assert props["DeletionProtectionEnabled"] is True
    key_id = synth.logical_id(synth.stack.table.key)
    assert props["SSESpecification"] == {
        "SSEEnabled": True,
        "SSEType": "KMS",
        "KMSMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]},
    }


def test_sparse_latest_index(synth) -> None:
    (index,) = synth.one("AWS::DynamoDB::Table")["GlobalSecondaryIndexes"]
    assert index["IndexName"] == LATEST_INDEX_NAME
    assert index["KeySchema"] == [
        {"AttributeName": LATEST_INDEX_PK, "KeyType": "HASH"},
        {"AttributeName": "pk", "KeyType": "RANGE"},
    ]
    assert index["Projection"] == {"ProjectionType": "ALL"}


def test_table_is_retained_unless_configured_otherwise(synth, variant) -> None:
    (default,) = synth.resources("AWS::DynamoDB::Table").values()
    (throwaway,) = variant.resources("AWS::DynamoDB::Table").values()
    assert default["DeletionPolicy"] == "Retain"
    assert throwaway["DeletionPolicy"] == "Delete"
    assert throwaway["Properties"]["DeletionProtectionEnabled"] is False
