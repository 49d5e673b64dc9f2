"""The stack's customer-managed KMS key: one key, rotated yearly, retained with the data it protects.

A key costs $1 a month, and a second key buys a separation only where a principal could otherwise decrypt
data it may not read. None can here, because every read of ciphertext needs two permissions:

- the service permission on the resource (``s3:GetObject`` under one prefix, ``dynamodb:*`` on the table,
  ``kinesis:GetRecords`` on the stream, ``secretsmanager:GetSecretValue`` on the secret, ``sqs:ReceiveMessage``
  on a queue), granted per role and per resource (``tests/infra/test_permissions.py`` checks every call);
- ``kms:Decrypt`` on the key, which the service asks for with the caller's credentials.

So one key protects the table, the stream, the queues, the archive, Athena's results and spill, the API key
secret, the log groups and the alarm topic (docs/cost.md, "One key, one series, fewer alarms"). What a key per
data class used to add is kept by conditions instead:

- every key grant of the pipeline roles holds only through the service it is for (``grant_via``: the producer's
  table grant through DynamoDB, its stream grant through Kinesis; the consumer's and the rollup role's likewise;
  the connector's table grant and Lake Formation's data-access roles through DynamoDB and S3). The exceptions are
  roles only an AWS service assumes, locked by tests/infra/test_security.py: Firehose's source and destination
  roles and Flink's (CDK's L2 grants), and the Athena DynamoDB connector's spill grant (it encrypts spilled pages
  itself with data keys it asks KMS for);
- the analyst's ``kms:Decrypt``/``GenerateDataKey`` hold only through S3 (``kms:ViaService``,
  infra/analyst_access.py): the archive and Athena's results, never the secret through Secrets Manager nor the
  table through DynamoDB, even with a future grant on either;
- the producer decrypts the secret only through Secrets Manager (``kms:ViaService``, in a key-policy statement
  naming its role);
- CloudWatch Logs may use the key only with the encryption context of this stack's log groups
  (``kms:EncryptionContext:aws:logs:arn``), and CloudWatch only for this stack's alarms publishing to the
  encrypted topic (``aws:SourceArn``, ``aws:SourceAccount``): neither service principal can decrypt anything
  else the key protects.

The key protects retained data (the table, the archive, the secret), so it is retained with them
(``retain_data``); a destroyed key waits the shortest window (7 days).
"""

from __future__ import annotations

import jsii
from aws_cdk import ArnFormat, Duration, IStableListProducer, Lazy, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from cryptostream_config.deployment import DeploymentConfig

PIPELINE_KEY_ID = "PipelineKey"  # one per stack, at its root
# What CloudWatch Logs does with a log group's key (CloudWatch Logs User Guide, "Encrypt log data ... using AWS KMS").
LOGS_KEY_ACTIONS = ("kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*")
# What CloudWatch needs to publish an alarm to a KMS-encrypted topic (SNS developer guide, "Enable compatibility
# between event sources from AWS services and encrypted topics").
ALARM_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey*")


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


@jsii.implements(IStableListProducer)
class _LogGroupArns:
    """The ARNs of the log groups made so far, rendered into the key policy at synthesis."""

    def __init__(self) -> None:
        self.arns: list[str] = []

    def produce(self, context: object = None) -> list[str]:
        return list(self.arns)


class PipelineKey(Construct):
    """``<prefix>-pipeline``: the one key of the stack (module docstring), made on first use by ``of``."""

    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.key = customer_key(
            self, "Key", alias=config.resource_name("pipeline"),
            description="cryptostream: quote table, stream, queues, archive, Athena results, API key secret, "
            "log groups, alarm topic",
            retain=config.retain_data,
        )  # fmt: skip
        self._log_groups = _LogGroupArns()
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogsForThisStacksLogGroups",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=list(LOGS_KEY_ACTIONS),
                resources=["*"],  # in a key policy, "*" is this key
                conditions={"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": Lazy.list(self._log_groups)}},
            )
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsOfThisStackToTheAlarmTopic",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=list(ALARM_KEY_ACTIONS),
                resources=["*"],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {
                        "aws:SourceArn": stack.format_arn(
                            service="cloudwatch",
                            resource="alarm",
                            resource_name=f"{config.prefix}-*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    },
                },
            )
        )

    def allow_log_group(self, log_group_name: str) -> None:
        """Let CloudWatch Logs use the key for ``log_group_name`` (the ARN without ``:*``, as Logs sends it)."""
        self._log_groups.arns.append(
            Stack.of(self).format_arn(
                service="logs",
                resource="log-group",
                resource_name=log_group_name,
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
        )

    @classmethod
    def of(cls, scope: Construct, config: DeploymentConfig) -> PipelineKey:
        """The stack's key, made on first use."""
        stack = Stack.of(scope)
        existing = stack.node.try_find_child(PIPELINE_KEY_ID)
        return existing if isinstance(existing, PipelineKey) else cls(stack, PIPELINE_KEY_ID, config=config)


def pipeline_key(scope: Construct, config: DeploymentConfig) -> kms.Key:
    """The stack's one customer-managed key (module docstring)."""
    return PipelineKey.of(scope, config).key


def via_service(scope: Construct, *services: str) -> dict[str, dict[str, str | list[str]]]:
    """An IAM condition: a key action only when one of ``services`` asks KMS for the caller (``kms:ViaService``)."""
    stack = Stack.of(scope)
    names = [f"{service}.{stack.region}.{stack.url_suffix}" for service in services]
    return {"StringEquals": {"kms:ViaService": names[0] if len(names) == 1 else names}}


def grant_via(key: kms.IKey, grantee: iam.IGrantable, service: str, *actions: str) -> None:
    """``actions`` on ``key`` for ``grantee``, only when ``service`` asks KMS for it (``kms:ViaService``).

    Every grant on the stack's one key goes through the service the role is granted on: a role that writes the
    table cannot use its key grant to decrypt the secret, the stream or the archive (module docstring).
    """
    grantee.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(actions=sorted(actions), resources=[key.key_arn], conditions=via_service(key, service))
    )
