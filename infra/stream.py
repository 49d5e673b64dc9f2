"""Stream: the Kinesis Data Stream every quote passes through, encrypted with the stack's key."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from constructs import Construct

from cryptostream_config.deployment import DeploymentConfig
from infra.nag import acknowledge
from infra.removal import removal_policy


class QuoteStream(Construct):
    """``stream_shards`` provisioned shards (default 1: a shard takes 1,000 records/s, and below about 3 shards of
    peak a provisioned stream costs less than on-demand's stream-hour, docs/cost.md); 0 = on-demand."""

    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig, key: kms.IKey) -> None:
        """``key``: the stack's customer-managed key (infra/encryption.py)."""
        super().__init__(scope, construct_id)
        self.key = key
        provisioned = config.stream_shards > 0
        self.stream = kinesis.Stream(
            self,
            "Stream",
            stream_name=config.stream_name,
            stream_mode=kinesis.StreamMode.PROVISIONED if provisioned else kinesis.StreamMode.ON_DEMAND,
            shard_count=config.stream_shards if provisioned else None,
            retention_period=Duration.hours(config.stream_retention_hours),
            encryption=kinesis.StreamEncryption.KMS,
            encryption_key=self.key,
            removal_policy=removal_policy(config),  # a kept stream keeps its name: a redeploy would clash
        )
        acknowledge(
            self.stream,
            "AwsSolutions-KDS3",
            "deliberately a customer-managed key instead of aws/kinesis: the account controls its key policy, "
            "rotation and audit, as for every other data store of the pipeline",
        )
