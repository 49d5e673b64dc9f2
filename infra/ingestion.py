"""Ingestion: the producer Lambda, the shared dependency layer, its schedules and the API key secret."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cryptostream_config.deployment import DeploymentConfig, ScheduleConfig
from cryptostream_model.sources import encode_owners
from infra.assets import ARCHITECTURE, RUNTIME, dependency_layer_code
from infra.encryption import grant_via, pipeline_key
from infra.functions import pipeline_function
from infra.nag import acknowledge, acknowledge_kms_grant_wildcards, logical_id
from infra.removal import removal_policy
from infra.serving import QuoteTable
from infra.stream import QuoteStream

PRODUCER_TIMEOUT = Duration.minutes(2)
LEASE_MARGIN_SECONDS = 30
SECRET_SUFFIX = "alphavantage"  # same name as the local stack's secret: <prefix>/alphavantage


class Ingestion(Construct):
    """Producer on EventBridge Scheduler; overlapping runs are stopped by the producer's DynamoDB lease.

    Reserved concurrency (default: one per schedule) caps the cost of a runaway schedule; it does not
    serialise runs itself, the lease item ``PRODUCER#<source>#<interval>``/``LEASE`` does.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        stream: QuoteStream,
        table: QuoteTable,
        skip_layer_bundling: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        # The stack's one key (infra/encryption.py): the producer decrypts the secret only through Secrets Manager.
        self.key = pipeline_key(self, config)
        self.layer = lambda_.LayerVersion(
            self,
            "DependencyLayer",
            layer_version_name=config.resource_name("dependencies"),
            description="aws-lambda-powertools, alpha_vantage (sync client), requests and cryptostream_model",
            code=dependency_layer_code(RUNTIME, stub=skip_layer_bundling),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            # Kept with the data (a running function may still use the previous version); else removed.
            removal_policy=removal_policy(config),
        )
        self.secret = self._api_key_secret(config)
        self.function = self._producer(config, stream, table)
        self.dead_letter_queue = sqs.Queue(
            self,
            "ScheduleDeadLetterQueue",
            queue_name=config.resource_name("schedule-dlq"),
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        acknowledge(
            self.dead_letter_queue,
            "AwsSolutions-SQS3",
            "this queue is itself the dead-letter queue of the EventBridge schedules (a Scheduler DLQ, which "
            "cdk-nag cannot see because it is not an SQS redrive policy)",
        )
        self.scheduler_role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"),
            description="EventBridge Scheduler: invoke the cryptostream producer",
        )
        acknowledge(
            self.scheduler_role,
            f"AwsSolutions-IAM5[Resource::<{logical_id(self.function)}.Arn>:*]",
            "CDK's LambdaInvoke target grants lambda:InvokeFunction on the producer and its versions (<arn>:*); "
            "one function, no other",
        )
        acknowledge_kms_grant_wildcards(self.scheduler_role)
        self.schedule_group = scheduler.ScheduleGroup(
            self, "ScheduleGroup", schedule_group_name=config.resource_name("producer"),
            removal_policy=removal_policy(config),
        )  # fmt: skip
        self.schedules = [self._schedule(config, s) for s in config.schedules]

    def _api_key_secret(self, config: DeploymentConfig) -> secretsmanager.ISecret:
        existing = config.extra.get("alphavantage_secret_arn")
        if existing:
            return secretsmanager.Secret.from_secret_complete_arn(self, "AlphaVantageApiKey", existing)
        secret = secretsmanager.Secret(
            self,
            "AlphaVantageApiKey",
            secret_name=f"{config.prefix}/{SECRET_SUFFIX}",
            description='Alpha Vantage API key (plain string or {"api_key": "..."}); set it after deploying',
            encryption_key=self.key,
            removal_policy=RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY,
        )
        acknowledge(
            secret,
            "AwsSolutions-SMG4",
            "a third-party Alpha Vantage API key: AWS cannot rotate it; rotate it at Alpha Vantage and "
            "put-secret-value (docs/infrastructure.md)",
        )
        return secret

    def _producer(self, config: DeploymentConfig, stream: QuoteStream, table: QuoteTable) -> lambda_.Function:
        environment = {
            "STREAM_NAME": stream.stream.stream_name,
            "TABLE_NAME": table.table.table_name,
            "PAIRS": ",".join(config.pairs),
            "INTERVAL": config.default_interval,
            "ALPHAVANTAGE_SECRET_ARN": self.secret.secret_arn,
            "POWERTOOLS_SERVICE_NAME": "cryptostream-producer",
            "POWERTOOLS_METRICS_NAMESPACE": "cryptostream",
            "POWERTOOLS_LOG_LEVEL": "INFO",
            # A run that dies with its Lambda frees the schedule's lease soon after the timeout, not 15 min later.
            "PRODUCER_LEASE_SECONDS": str(int(PRODUCER_TIMEOUT.to_seconds()) + LEASE_MARGIN_SECONDS),
            "WATERMARK_WRITES": config.producer_watermark_writes,
            # the default source and which (pair, interval)s other sources own (cryptostream_model.sources)
            "SOURCE": config.source,
            "SOURCE_OWNERS": encode_owners(config.source_owners, config.source),
        }
        if config.daily_request_budget is not None:  # free_tier: never send a request a free key would refuse
            environment["ALPHAVANTAGE_DAILY_REQUESTS"] = str(config.daily_request_budget)
        base_url = config.extra.get("alphavantage_base_url")
        if base_url:
            environment["ALPHAVANTAGE_BASE_URL"] = str(base_url)
        reserved = config.producer_reserved_concurrency
        if reserved is None:
            reserved = max(1, len(config.schedules))
        function, self.role, _ = pipeline_function(
            self,
            "Producer",
            config=config,
            name_suffix="producer",
            package="producer",
            description="Pulls quotes from Alpha Vantage into the Kinesis stream",
            role_description="cryptostream producer",
            layer=self.layer,
            # A run waits on the network (the source's HTTP answers, Kinesis, DynamoDB): its own CPU is 16-23 ms for
            # 3 pairs on one core (python -m bench.producer_cpu), ~0.11 s at 256 MB's seventh of a vCPU, against
            # ~1 s of waiting; 512 MB paid twice for the same run (docs/cost.md).
            memory_mb=256,
            timeout=PRODUCER_TIMEOUT,
            environment=environment,
            # 0 means "do not reserve": reserving 0 would throttle every invocation.
            reserved_concurrent_executions=reserved or None,
            # Scheduler invokes asynchronously; the next tick catches up from the watermark instead.
            retry_attempts=0,
        )
        # Exactly what the producer calls (proven by tests/infra/test_permissions.py): PutRecords, with a data key
        # of the stream's key for each put; the watermarks (BatchGetItem, UpdateItem or transactions of Updates)
        # and the lease (PutItem, DeleteItem, GetItem of the holder); the daily request budget (GetItem, conditional
        # UpdateItem of PRODUCER#<source>/BUDGET#<day>); the API key secret.
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["kinesis:PutRecords"], resources=[stream.stream.stream_arn])
        )
        if stream.stream.encryption_key is not None:
            grant_via(stream.stream.encryption_key, function, "kinesis", "kms:GenerateDataKey")
        table.grant_items(
            self.role,
            "dynamodb:BatchGetItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
        )
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["secretsmanager:GetSecretValue"], resources=[self.secret.secret_arn])
        )
        if self.secret.encryption_key is not None:  # decrypting the value, only through Secrets Manager
            via = f"secretsmanager.{Stack.of(self).region}.amazonaws.com"
            self.secret.encryption_key.grant_decrypt(kms.ViaServicePrincipal(via, function.grant_principal))
        return function

    def _schedule(self, config: DeploymentConfig, schedule: ScheduleConfig) -> scheduler.Schedule:
        if schedule.rate_minutes is not None:
            expression = scheduler.ScheduleExpression.rate(Duration.minutes(schedule.rate_minutes))
            # A run older than its own period is superseded by the next one.
            max_age = Duration.seconds(min(max(schedule.rate_minutes * 60, 60), 86_400))
        else:
            expression = scheduler.ScheduleExpression.expression(f"cron({schedule.cron})")
            max_age = Duration.hours(1)
        payload = {"interval": schedule.interval, "source": config.schedule_source(schedule), **schedule.payload}
        return scheduler.Schedule(
            self,
            f"Schedule-{schedule.name}",
            schedule_name=config.resource_name(schedule.name),
            schedule_group=self.schedule_group,
            description=f"producer {schedule.interval}: {payload}",
            schedule=expression,
            target=targets.LambdaInvoke(
                self.function,
                input=scheduler.ScheduleTargetInput.from_object(payload),
                dead_letter_queue=self.dead_letter_queue,
                role=self.scheduler_role,
                retry_attempts=2,
                max_event_age=max_age,
            ),
        )
