"""Serving: the DynamoDB table the consumer upserts into and the CLI reads (keys in cryptostream_model.keys)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from cryptostream_config.deployment import DeploymentConfig
from cryptostream_model.keys import LATEST_INDEX_NAME, LATEST_INDEX_PK, TTL_ATTRIBUTE
from infra.encryption import grant_via, pipeline_key

# What DynamoDB asks KMS for, with the caller's permissions, when it reads or writes items of a table with a
# customer-managed key (decrypting the table key; a writer also gets the data-key actions CDK's grantWriteData
# gives, without ReEncrypt*/DescribeKey, which no item call uses). tests/iam/needs.py holds the same rule.
KEY_ACTIONS_TO_READ = ("kms:Decrypt",)
KEY_ACTIONS_TO_WRITE = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey")
ITEM_READS = frozenset(
    {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:Query", "dynamodb:Scan"}
)


class QuoteTable(Construct):
    """``pk``/``sk`` on demand, PITR, TTL on ``expires_at``, and the sparse latest-quotes index."""

    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig) -> None:
        super().__init__(scope, construct_id)
        self.key = pipeline_key(self, config)  # the stack's one key (infra/encryption.py)
        self.table = dynamodb.Table(
            self,
            "Table",
            table_name=config.table_name,
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=TTL_ATTRIBUTE,
            deletion_protection=config.table_deletion_protection,
            removal_policy=RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY,
        )
        # Only LATEST items carry latest_interval, so the index holds one item per pair and interval.
        self.table.add_global_secondary_index(
            index_name=LATEST_INDEX_NAME,
            partition_key=dynamodb.Attribute(name=LATEST_INDEX_PK, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )

    def grant_items(self, role: iam.Role, *actions: str) -> None:
        """``actions`` on the table's items and the key actions DynamoDB needs of the caller for them.

        The index is not granted (no function queries it). TransactWriteItems is no IAM action: DynamoDB
        authorizes each item of a transaction as its own action (a Put as ``dynamodb:PutItem``), so grant those.
        """
        if "dynamodb:TransactWriteItems" in actions or any("*" in action for action in actions):
            raise ValueError(
                f"grant item actions by name, not {actions}: a transaction's items are authorized one by one"
            )
        role.add_to_principal_policy(iam.PolicyStatement(actions=sorted(actions), resources=[self.table.table_arn]))
        writes = any(action not in ITEM_READS for action in actions)
        # Only through DynamoDB: the key is the stack's one key, and this grant must not reach its other data.
        grant_via(self.key, role, "dynamodb", *(KEY_ACTIONS_TO_WRITE if writes else KEY_ACTIONS_TO_READ))
