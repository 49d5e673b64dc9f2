"""Log groups created up front, so retention is set before the first invocation writes a line.

Every log group is encrypted with one customer-managed key per stack (``<prefix>-logs``), like every
other store of the pipeline; the alarm topic shares it (operational data, deleted with the stack, used by
AWS services: infra/encryption.py). CloudWatch Logs uses the key itself, as ``logs.<region>.amazonaws.com``:
the key policy lets that service principal use the key only with the encryption context of this
stack's log groups (``kms:EncryptionContext:aws:logs:arn``), so writers and readers of the logs need
no KMS permission of their own.
"""

from __future__ import annotations

import jsii
from aws_cdk import ArnFormat, IStableListProducer, Lazy, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from cryptostream_config.deployment import LOG_RETENTION_DAYS, DeploymentConfig
from infra.encryption import customer_key

# jsii enum values are names, not days: pair them with CloudWatch's list (same order).
_RETENTION = dict(zip(LOG_RETENTION_DAYS, list(logs.RetentionDays), strict=False))
LOGS_KEY_ID = "LogsKey"  # one per stack, at its root
# What CloudWatch Logs does with a log group's key (CloudWatch Logs User Guide, "Encrypt log data ... using AWS KMS").
LOGS_KEY_ACTIONS = ("kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*")


def retention(days: int) -> logs.RetentionDays:
    return _RETENTION[days]


@jsii.implements(IStableListProducer)
class _LogGroupArns:
    """The ARNs of the log groups made so far, rendered into the key policy at synthesis."""

    def __init__(self) -> None:
        self.arns: list[str] = []

    def produce(self, context: object = None) -> list[str]:
        return list(self.arns)


class LogsKey(Construct):
    """The stack's log key. Log groups go with the stack (``DESTROY``), so the key does too: nothing it
    protects outlives it (a destroyed key waits 7 days, like every other key here)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.key = customer_key(
            self, "Key", alias=config.resource_name("logs"),
            description="cryptostream operations: CloudWatch log groups, alarm topic", retain=False,
        )  # fmt: skip
        self._arns = _LogGroupArns()
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogsForThisStacksLogGroups",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=list(LOGS_KEY_ACTIONS),
                resources=["*"],  # in a key policy, "*" is this key
                conditions={"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": Lazy.list(self._arns)}},
            )
        )

    def allow(self, log_group_name: str) -> None:
        """Let CloudWatch Logs use the key for ``log_group_name`` (the ARN without ``:*``, as Logs sends it)."""
        self._arns.arns.append(
            Stack.of(self).format_arn(
                service="logs",
                resource="log-group",
                resource_name=log_group_name,
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
        )

    @classmethod
    def of(cls, scope: Construct, config: DeploymentConfig) -> LogsKey:
        """The stack's log key, made on first use."""
        stack = Stack.of(scope)
        existing = stack.node.try_find_child(LOGS_KEY_ID)
        return existing if isinstance(existing, LogsKey) else cls(stack, LOGS_KEY_ID, config=config)


def encrypted_log_group(scope: Construct, construct_id: str, *, name: str, config: DeploymentConfig) -> logs.LogGroup:
    """``name`` with the configured retention, encrypted with the stack's log key; logs go with the stack."""
    key = LogsKey.of(scope, config)
    key.allow(name)
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
    """The stack's log key if a log group made it (tests and acknowledgements)."""
    found = Stack.of(scope).node.try_find_child(LOGS_KEY_ID)
    return found.key if isinstance(found, LogsKey) else None
