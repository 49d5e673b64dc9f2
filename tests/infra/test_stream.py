"""Stream: one provisioned shard (or on-demand), customer-managed KMS encryption, configured retention."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

pytestmark = pytest.mark.infra


def test_stream_is_one_provisioned_shard_encrypted_with_the_quote_data_key(synth) -> None:
    """One shard by default: below about 3 shards of peak, on-demand's stream-hour costs more (docs/cost.md)."""
    key_id = synth.logical_id(synth.stack.table.key)  # the stream holds the table's data: one key for both
    assert synth.stack.stream.key is synth.stack.table.key is synth.stack.processing.key
    synth.template.has_resource_properties(
        "AWS::Kinesis::Stream",
        {
            "Name": "cryptostream-quotes",
            "RetentionPeriodHours": 24,
            "ShardCount": 1,
            "StreamModeDetails": {"StreamMode": "PROVISIONED"},
            "StreamEncryption": {"EncryptionType": "KMS", "KeyId": {"Fn::GetAtt": [key_id, "Arn"]}},
        },
    )
    synth.template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


def test_zero_shards_switches_to_on_demand(variant) -> None:
    variant.template.has_resource_properties(
        "AWS::Kinesis::Stream", {"StreamModeDetails": {"StreamMode": "ON_DEMAND"}, "ShardCount": Match.absent()}
    )
