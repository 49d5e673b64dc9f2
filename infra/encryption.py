"""Customer-managed KMS keys: one per capability, rotated yearly, retained with the data they protect."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from constructs import Construct


def customer_key(scope: Construct, construct_id: str, *, alias: str, description: str, retain: bool) -> kms.Key:
    """A symmetric key with rotation on; a destroyed key waits the shortest window (7 days)."""
    return kms.Key(
        scope,
        construct_id,
        alias=f"alias/{alias}",
        description=description,
        enable_key_rotation=True,
        pending_window=Duration.days(7),
        removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
    )
