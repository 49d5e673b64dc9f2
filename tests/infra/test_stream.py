"""Stream: on-demand (or provisioned), customer-managed KMS encryption, configured retention."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

pytestmark = pytest.mark.infra


def test_stream_is_on_demand_encrypted_with_its_own_key(synth) -> None:
    key_id = synth.logical_id(synth.stack.stream.key)
    synth.template.has_resource_properties(
        "AWS::Kinesis::Stream",
        {
            "Name": "cryptostream-quotes",
            "RetentionPeriodHours": 24,
            "StreamModeDetails": {"StreamMode": "ON_DEMAND"},
            "StreamEncryption": {"EncryptionType": "KMS", "KeyId": {"Fn::GetAtt": [key_id, "Arn"]}},
            "ShardCount": Match.absent(),
        },
    )
    synth.template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


def test_shard_count_switches_to_provisioned(variant) -> None:
    variant.template.has_resource_properties(
        "AWS::Kinesis::Stream", {"ShardCount": 2, "StreamModeDetails": {"StreamMode": "PROVISIONED"}}
    )
