"""Log groups created up front, so retention is set before the first invocation writes a line.

Every log group is encrypted with the stack's one customer-managed key (infra/encryption.py), like every
other store of the pipeline. CloudWatch Logs uses the key itself, as ``logs.<region>.amazonaws.com``: the key
policy lets that service principal use the key only with the encryption context of this stack's log groups
(``kms:EncryptionContext:aws:logs:arn``, one ARN per group made here), so writers and readers of the logs need
no KMS permission of their own, and the service cannot decrypt the key's other data.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from cryptostream_config.deployment import LOG_RETENTION_DAYS, DeploymentConfig
from infra.encryption import LOGS_KEY_ACTIONS, PIPELINE_KEY_ID, PipelineKey

# jsii enum values are names, not days: pair them with CloudWatch's list (same order).
_RETENTION = dict(zip(LOG_RETENTION_DAYS, list(logs.RetentionDays), strict=False))
LOGS_KEY_ID = PIPELINE_KEY_ID  # the log groups' key is the stack's key
__all__ = ["LOGS_KEY_ACTIONS", "LOGS_KEY_ID", "encrypted_log_group", "function_log_group", "logs_key", "retention"]


def retention(days: int) -> logs.RetentionDays:
    return _RETENTION[days]


def encrypted_log_group(scope: Construct, construct_id: str, *, name: str, config: DeploymentConfig) -> logs.LogGroup:
    """``name`` with the configured retention, encrypted with the stack's key; logs go with the stack."""
    key = PipelineKey.of(scope, config)
    key.allow_log_group(name)
    return logs.LogGroup(
        scope,
        construct_id,
        log_group_name=name,
        retention=retention(config.log_retention_days),
        encryption_key=key.key,
        removal_policy=RemovalPolicy.DESTROY,
    )


def function_log_group(
    scope: Construct, construct_id: str, *, function_name: str, config: DeploymentConfig
) -> logs.LogGroup:
    """``/aws/lambda/<name>`` with the configured retention; logs go with the stack."""
    return encrypted_log_group(scope, construct_id, name=f"/aws/lambda/{function_name}", config=config)


def logs_key(scope: Construct) -> kms.IKey | None:
    """The stack's key if a log group (or anything else) made it (tests and acknowledgements)."""
    found = Stack.of(scope).node.try_find_child(LOGS_KEY_ID)
    return found.key if isinstance(found, PipelineKey) else None
