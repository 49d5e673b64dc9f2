"""Log groups created up front, so retention is set before the first invocation writes a line."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import LOG_RETENTION_DAYS, Config

# jsii enum values are names, not days: pair them with CloudWatch's list (same order).
_RETENTION = dict(zip(LOG_RETENTION_DAYS, list(logs.RetentionDays), strict=False))


def retention(days: int) -> logs.RetentionDays:
    return _RETENTION[days]


def function_log_group(scope: Construct, construct_id: str, *, function_name: str, config: Config) -> logs.LogGroup:
    """``/aws/lambda/<name>`` with the configured retention; logs go with the stack."""
    return logs.LogGroup(
        scope,
        construct_id,
        log_group_name=f"/aws/lambda/{function_name}",
        retention=retention(config.log_retention_days),
        removal_policy=RemovalPolicy.DESTROY,
    )
