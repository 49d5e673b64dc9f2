"""Customer-managed KMS keys: one per data class, rotated yearly, retained with the data they protect.

A key costs $1 a month, so a key is made where it separates who may decrypt or how long it lives, not per
resource. Four keys (docs/cost.md, "Fewer keys"):

- quote data (``<prefix>-data``, infra/serving.py): the table, the stream and the quarantine queues hold the
  same quotes for the same pipeline roles; retained with the data;
- archive (``<prefix>-archive``): the Parquet archive, Athena results and spill, which analysts decrypt;
- ingestion (``<prefix>-ingestion``): the Alpha Vantage API key secret (decrypted only through Secrets
  Manager by the producer) and the schedules' dead-letter queue;
- operations (``<prefix>-logs``, infra/log_groups.py): log groups and alarm notifications, used by the
  CloudWatch services and deleted with the stack.
"""

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
