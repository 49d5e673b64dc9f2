"""The archive's change log: S3 ``ObjectCreated`` notifications for the quotes prefix, on an SQS queue.

The rollups plan (``rollup_workflow.changes``) drains it instead of listing the whole archive every run, so an
incremental plan costs what changed, not what exists (docs/architecture.md, "Cloud rollups").

- The queue is encrypted with the stack's one key (``alias/<prefix>-pipeline``); the queue policy lets S3 send only
  notifications of this stack's archive bucket in this account (``aws:SourceArn``, ``aws:SourceAccount``), over
  TLS. The key policy lets S3 use the key (GenerateDataKey, Decrypt) without conditions, in the form AWS documents
  for S3 notifications to an encrypted queue and CDK's ``SqsDestination`` writes: whether S3 passes the source keys
  on to KMS when SQS asks it for a data key is not documented, and if it did not, S3's check of the destination
  would fail and with it the deploy. The grant serves only this: S3 encrypts objects with the caller's
  credentials, not its own, and the queue policy above decides who may send.
- Retention 4 days: a day of failed executions (and a weekend of a broken plan) loses nothing; the visibility
  timeout (15 minutes, the function's timeout) keeps a message received by a plan from coming back while that plan
  still runs. A message no plan could record in ``MAX_RECEIVES`` receives (two days of hourly failures) moves to the
  dead-letter queue (14 days) and raises its alarm: redrive it once the plan works (the change it names would
  otherwise only be taken by a full listing if its object is past the watermark).
- The notification is the bucket's own ``NotificationConfiguration`` (CloudFormation applies it), not CDK's
  ``bucket.add_event_notification``: that one writes the configuration through a custom resource whose Python
  handler imports boto3, which an emulator's Lambda runtime (MiniStack) lacks, and it adds a function and a role
  with ``s3:PutBucketNotification`` on ``*``. Its queue ARN and policy name the bucket by name (its ARN is known
  before the bucket exists), so the bucket can depend on the queue policy without a cycle: S3 checks the
  destination when the configuration is applied.
"""

from __future__ import annotations

from aws_cdk import Aws, CfnResource, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cryptostream_config.deployment import DeploymentConfig
from cryptostream_model.archive import ARCHIVE_PREFIX
from infra.archive import Archive, unique_bucket_name

RETENTION = Duration.days(4)
DEAD_LETTER_RETENTION = Duration.days(14)
VISIBILITY_TIMEOUT = Duration.minutes(15)  # the rollup function's timeout: a plan's receive outlasts the plan
MAX_RECEIVES = 48  # hourly plans: two days of failures before a message is parked
EVENTS = ("s3:ObjectCreated:*",)
# What S3 needs of the queue's key to send an encrypted notification (and to verify the destination).
S3_KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")


class ArchiveChangeLog(Construct):
    """The queue (and its dead-letter queue) S3 notifies of every object created under the archive's quotes prefix."""

    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig, archive: Archive) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        key = archive.key
        name = config.resource_name("rollup-changes")
        self.dead_letters = sqs.Queue(
            self, "DeadLetters", queue_name=f"{name}-dlq", encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key, enforce_ssl=True, retention_period=DEAD_LETTER_RETENTION,
        )  # fmt: skip
        self.queue = sqs.Queue(
            self,
            "Queue",
            queue_name=name,
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            data_key_reuse=Duration.hours(1),  # one data key an hour, not one per notification
            enforce_ssl=True,
            retention_period=RETENTION,
            visibility_timeout=VISIBILITY_TIMEOUT,
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dead_letters, max_receive_count=MAX_RECEIVES),
        )
        # The bucket by name: its ARN without a reference to the bucket, which depends on this policy.
        bucket_arn = f"arn:{Aws.PARTITION}:s3:::{unique_bucket_name(config.archive_bucket_name)}"
        from_this_bucket = {"ArnEquals": {"aws:SourceArn": bucket_arn},
                            "StringEquals": {"aws:SourceAccount": stack.account}}  # fmt: skip
        self.queue.add_to_resource_policy(
            iam.PolicyStatement(
                sid="ArchiveObjectCreatedNotifications",
                principals=[iam.ServicePrincipal("s3.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[self.queue.queue_arn],
                conditions=from_this_bucket,
            )
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="S3NotificationsOfTheArchiveToTheChangeLog",
                principals=[iam.ServicePrincipal("s3.amazonaws.com")],
                actions=list(S3_KEY_ACTIONS),
                resources=["*"],  # in a key policy, "*" is this key; no conditions: see the module's docstring
            )
        )
        self._notify(archive.bucket)

    def _notify(self, bucket: s3.Bucket) -> None:
        cfn_bucket = bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        cfn_bucket.add_property_override(
            "NotificationConfiguration.QueueConfigurations",
            [{
                "Event": event,
                "Queue": self.queue.queue_arn,
                "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": ARCHIVE_PREFIX}]}},
            } for event in EVENTS],
        )  # fmt: skip
        policy = self.queue.node.try_find_child("Policy")  # the QueuePolicy of enforce_ssl and the statement above
        assert isinstance(policy, sqs.QueuePolicy)
        cfn_policy = policy.node.default_child
        assert isinstance(cfn_policy, CfnResource)
        cfn_bucket.add_resource_dependency(cfn_policy)  # S3 sends its test event when the configuration is applied

    def grant_drain(self, grantee: iam.IGrantable) -> None:
        """Exactly what the plan calls: ReceiveMessage, DeleteMessageBatch (authorized as DeleteMessage), and the
        key's Decrypt through SQS (infra/encryption.grant_via)."""
        from infra.encryption import grant_via

        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=["sqs:DeleteMessage", "sqs:ReceiveMessage"],
                                resources=[self.queue.queue_arn])
        )  # fmt: skip
        key = self.queue.encryption_master_key
        assert key is not None
        grant_via(key, grantee, "sqs", "kms:Decrypt")
