"""Materialized rollups in AWS: the ``rollup_1h``/``rollup_1d`` Glue tables and the state machine that keeps them.

The tables are JSON lines, one object per table, pair and UTC month, rewritten whole by one PutObject
(``rollups/<table>/symbol=<S>/market=<M>/month=<YYYY-MM>/part-0.json``; /work/notes/rollup-contract.md and
docs/architecture.md say why not Parquet, Iceberg ``MERGE`` or CTAS). The ``rollup_workflow`` Lambda does the work in
three actions, which the state machine ``<prefix>-rollups`` sequences:

- ``Plan`` drains the archive's change log (``infra.change_log``: S3 notifications of each object created under the
  quotes prefix, on an SQS queue) and groups the changed (pair, day) partitions into batches; with none, the
  execution ends at ``UpToDate`` and writes nothing. A table without a usable watermark is planned from a full
  listing of the archive, as is an execution started with ``{"full_listing": true}``;
- ``Batches`` (a Map state, ``MAX_CONCURRENCY`` at a time) runs ``rollup`` per batch: one Athena query per table over
  the batch's partitions, then each affected month object rewritten. A batch is idempotent (its months are
  recomputed from the archive), so a failed one is retried whole: Lambda's transient errors quickly, anything
  else (Athena throttling, a query that failed) after a pause;
- ``Commit`` saves the watermarks, after the data, then empties the plan's pending changes: a failed execution only
  repeats work, and fails the alarm.

EventBridge Scheduler starts it on ``rollup_schedule`` (cdk.json, default ``rate(1 hour)``). Its outcome is the state
machine's own AWS/States ``ExecutionsSucceeded``/``ExecutionsFailed`` (no custom series), alarmed and graphed by
``infra.observability`` (``Pipeline.workflows``). The role reads the archive's quotes prefix, writes the rollups
prefix, drains the change-log queue (receive and delete only), queries through the workgroup only; under Lake
Formation it reads the archive through its grants (``Governance.govern_rollups``).
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, Stack
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cryptostream_config.deployment import DeploymentConfig
from cryptostream_model.archive import ARCHIVE_PREFIX, ARCHIVE_TABLE
from infra.archive import Archive
from infra.catalog import PROJECTION_START, Catalog
from infra.change_log import RETENTION as CHANGE_LOG_RETENTION
from infra.change_log import ArchiveChangeLog
from infra.encryption import grant_via
from infra.functions import pipeline_function
from infra.log_groups import encrypted_log_group
from infra.nag import acknowledge, logical_id
from infra.removal import removal_policy

PACKAGE = "rollup_workflow"  # handler: rollup_workflow.handler.lambda_handler
SERVICE_NAME = "cryptostream-rollups"
ROLLUPS_PREFIX = "rollups/"
ROLLUP_TABLES = ("rollup_1h", "rollup_1d")
ROLLUP_OBJECT = "part-0.json"
# What each JSON line holds, in this order (the local Parquet tables' columns); symbol and market are also the
# first partition keys, so the Glue table lists them there only (Hive forbids a name in both lists).
ROLLUP_ROW_FIELDS: tuple[tuple[str, str], ...] = (
    ("symbol", "string"),
    ("market", "string"),
    ("bucket", "timestamp"),
    ("open", "double"),
    ("high", "double"),
    ("low", "double"),
    ("close", "double"),
    ("volume", "double"),
    ("bars", "bigint"),
)
ROLLUP_PARTITION_COLUMNS: tuple[tuple[str, str], ...] = (("symbol", "string"), ("market", "string"),
                                                         ("month", "string"))  # fmt: skip
ROLLUP_COLUMNS = tuple(c for c in ROLLUP_ROW_FIELDS if c[0] not in dict(ROLLUP_PARTITION_COLUMNS))
JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
# Two batches at a time: each runs two Athena queries, and the workgroup's account shares a small DML quota.
MAX_CONCURRENCY = 2
TIMEOUT = Duration.hours(2)  # the first run rolls up the whole archive: many batches of 400 partitions
# One batch: two Athena queries (the handler gives up on one after ATHENA_QUERY_TIMEOUT_SECONDS, 600 by default)
# and the month objects they touch.
FUNCTION_TIMEOUT = Duration.minutes(15)
# What rollup_workflow raises for a batch worth running again (the error is the exception's class name,
# rollup_workflow/errors.py); AthenaQueryFailed (a query Athena failed) gets one more try, ValueError (a bad
# event) none: the execution fails at once.
RETRIED_HANDLER_ERRORS = ("AthenaThrottled", "AthenaTimeout", "RollupStorageError", "ConcurrentRollup",
                          "Sandbox.Timedout")  # fmt: skip
PLAN_RETRIED_ERRORS = ("RollupStorageError", "ConcurrentRollup", "ChangeLogError", "Sandbox.Timedout")
QUERY_FAILED = "AthenaQueryFailed"
ATHENA_QUERY_TIMEOUT = Duration.seconds(780)  # the handler's wait for one query; under the function's timeout
TRANSIENT_LAMBDA_ERRORS = (
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)


def rollup_projection(config: DeploymentConfig, bucket_name: str, table: str) -> dict[str, str]:
    """Partition projection for ``rollups/<table>/symbol=<s>/market=<m>/month=<yyyy-MM>/`` (as the archive's)."""
    return {
        "projection.enabled": "true",
        "projection.symbol.type": "enum",
        "projection.symbol.values": ",".join(config.symbols),
        "projection.market.type": "enum",
        "projection.market.values": ",".join(config.markets),
        "projection.month.type": "date",
        "projection.month.format": "yyyy-MM",
        "projection.month.range": f"{PROJECTION_START[:7]},NOW",
        "projection.month.interval": "1",
        "projection.month.interval.unit": "MONTHS",
        "storage.location.template": (
            f"s3://{bucket_name}/{ROLLUPS_PREFIX}{table}/symbol=${{symbol}}/market=${{market}}/month=${{month}}/"
        ),
    }


class RollupWorkflow(Construct):
    """The rollup function, the two Glue tables, the state machine (``<prefix>-rollups``) and its schedule."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        archive: Archive,
        catalog: Catalog,
        layer: lambda_.ILayerVersion,
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self.tables = [self._table(catalog, archive, name) for name in ROLLUP_TABLES]
        self.change_log = ArchiveChangeLog(self, "ChangeLog", config=config, archive=archive)
        self.function, self.role, self.log_group = pipeline_function(
            self,
            "Function",
            sibling_id_prefix="",
            config=config,
            name_suffix="rollups",
            package=PACKAGE,
            description="Rollup state machine: plans changed archive partitions, rolls them up with Athena, commits",
            role_description="cryptostream rollups: Athena over the archive, writes the rollups prefix",
            layer=layer,
            memory_mb=512,
            timeout=FUNCTION_TIMEOUT,
            environment={
                "ARCHIVE_BUCKET": archive.bucket.bucket_name,
                "ARCHIVE_PREFIX": ARCHIVE_PREFIX,
                "ROLLUPS_PREFIX": ROLLUPS_PREFIX,
                "GLUE_DATABASE": config.glue_database,
                "ARCHIVE_TABLE": ARCHIVE_TABLE,
                "ATHENA_WORKGROUP": config.athena_workgroup,
                "SOURCE_INTERVAL": config.rollup_source_interval,
                "CHANGES_QUEUE_URL": self.change_log.queue.queue_url,
                "CHANGES_RETENTION_SECONDS": str(int(CHANGE_LOG_RETENTION.to_seconds())),
                "ATHENA_QUERY_TIMEOUT_SECONDS": str(int(ATHENA_QUERY_TIMEOUT.to_seconds())),
                "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
                "POWERTOOLS_LOG_LEVEL": "INFO",
            },
        )
        self._grant(archive, catalog)
        self.change_log.grant_drain(self.role)
        name = config.resource_name("rollups")
        self.state_machine_log_group = encrypted_log_group(
            self, "StateMachineLogs", name=f"/aws/vendedlogs/states/{name}", config=config
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=name,
            comment="Bring rollup_1h and rollup_1d up to date from the changed archive partitions (infra/rollups.py)",
            definition_body=sfn.DefinitionBody.from_chainable(self._definition()),
            timeout=TIMEOUT,
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.state_machine_log_group, level=sfn.LogLevel.ALL),
        )
        acknowledge(
            self.state_machine.role,
            f"AwsSolutions-IAM5[Resource::<{logical_id(self.function)}.Arn>:*]",
            "CDK's LambdaInvoke grants lambda:InvokeFunction on the function and its versions (<arn>:*); "
            "the rollup function, no other",
        )
        acknowledge(
            self.state_machine.role,
            "AwsSolutions-IAM5[Resource::*]",
            "Step Functions logging (logs:CreateLogDelivery and the other log-delivery actions) and X-Ray "
            "tracing have no resource-level permissions",
        )
        self.schedule_group = scheduler.ScheduleGroup(
            self, "ScheduleGroup", schedule_group_name=name, removal_policy=removal_policy(config)
        )
        self.scheduler_role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"),
            description="EventBridge Scheduler: start the cryptostream rollups state machine",
        )
        # A start that fails after its retries is not queued: the next one rolls up everything since the watermark.
        self.schedule = scheduler.Schedule(
            self,
            "Schedule",
            schedule_name=name,
            schedule_group=self.schedule_group,
            description=f"rollups: {config.rollup_schedule}",
            schedule=scheduler.ScheduleExpression.expression(config.rollup_schedule),
            target=targets.StepFunctionsStartExecution(
                self.state_machine,
                input=scheduler.ScheduleTargetInput.from_object({"trigger": "schedule"}),
                role=self.scheduler_role,
                retry_attempts=2,
            ),
        )

    # -- tables -----------------------------------------------------------------------------------

    def _table(self, catalog: Catalog, archive: Archive, name: str) -> glue.CfnTable:
        config = self._config
        bucket = archive.bucket.bucket_name
        table = glue.CfnTable(
            self,
            f"Table-{name}",
            catalog_id=Aws.ACCOUNT_ID,
            database_name=config.glue_database,
            table_input=glue.CfnTable.TableInputProperty(
                name=name,
                description=f"{name}: materialized by the {config.resource_name('rollups')} state machine "
                "(JSON lines, one object per pair and month)",
                table_type="EXTERNAL_TABLE",
                parameters={"classification": "json", **rollup_projection(config, bucket, name)},
                partition_keys=[glue.CfnTable.ColumnProperty(name=n, type=t) for n, t in ROLLUP_PARTITION_COLUMNS],
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    columns=[glue.CfnTable.ColumnProperty(name=n, type=t) for n, t in ROLLUP_COLUMNS],
                    location=f"s3://{bucket}/{ROLLUPS_PREFIX}{name}/",
                    input_format="org.apache.hadoop.mapred.TextInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library=JSON_SERDE,
                        # A torn or foreign line fails the query instead of reading as nulls.
                        parameters={"ignore.malformed.json": "false", "case.insensitive": "true"},
                    ),
                ),
            ),
        )
        table.node.add_dependency(catalog.database)
        return table

    # -- permissions ------------------------------------------------------------------------------

    def _grant(self, archive: Archive, catalog: Catalog) -> None:
        """Least privilege: the workgroup, the catalog entries its queries read, two prefixes, the archive key."""
        config, role, stack = self._config, self.role, Stack.of(self)
        workgroup = stack.format_arn(service="athena", resource="workgroup", resource_name=config.athena_workgroup)
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults",
                         "athena:StopQueryExecution"],
                resources=[workgroup],
            )
        )  # fmt: skip
        # What Athena reads of the catalog for the one table the queries name (partition projection: no
        # GetPartitions); the rollup tables are never queried by the workflow, which writes their objects.
        catalog_arns = [stack.format_arn(service="glue", resource="catalog"), catalog.database_arn]
        role.add_to_policy(iam.PolicyStatement(actions=["glue:GetDatabase"], resources=catalog_arns))
        quotes = stack.format_arn(service="glue", resource="table",
                                  resource_name=f"{config.glue_database}/{ARCHIVE_TABLE}")
        role.add_to_policy(iam.PolicyStatement(actions=["glue:GetTable"], resources=[*catalog_arns, quotes]))
        bucket = archive.bucket
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{ARCHIVE_PREFIX}*", f"{ROLLUPS_PREFIX}*"]}},
            )
        )
        # Athena reads the archive's objects with the caller's credentials, or under Lake Formation with those it
        # vends for the caller's grants (Governance.govern_rollups); the workflow itself only lists them.
        read_prefixes = [] if config.lake_formation else [ARCHIVE_PREFIX]
        if read_prefixes:
            role.add_to_policy(
                iam.PolicyStatement(actions=["s3:GetObject"], resources=[bucket.arn_for_objects(f"{ARCHIVE_PREFIX}*")])
            )
            role.add_to_policy(iam.PolicyStatement(actions=["s3:GetBucketLocation"], resources=[bucket.bucket_arn]))
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:PutObject"], resources=[bucket.arn_for_objects(f"{ROLLUPS_PREFIX}*")]
            )
        )
        # Athena writes the query's results with the caller's permissions, and the function reads them back.
        results = catalog.results_bucket
        role.add_to_policy(
            iam.PolicyStatement(actions=["s3:ListBucket", "s3:GetBucketLocation"], resources=[results.bucket_arn])
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[results.arn_for_objects("results/*")],
            )
        )
        # The stack's one key encrypts the archive, the rollups and Athena's results (SSE-KMS with a bucket key):
        # only through S3, so the grant reaches nothing else the key protects (infra/encryption.py).
        grant_via(archive.key, role, "s3", "kms:Decrypt", "kms:GenerateDataKey")
        if config.lake_formation:
            role.add_to_policy(iam.PolicyStatement(actions=["lakeformation:GetDataAccess"], resources=["*"]))
        reason = "objects by key under one prefix of this stack's bucket (pairs and dates are not known in advance)"
        for owner, prefix in ((bucket, ROLLUPS_PREFIX), (results, "results/"), *((bucket, p) for p in read_prefixes)):
            acknowledge(role, f"AwsSolutions-IAM5[Resource::<{logical_id(owner)}.Arn>/{prefix}*]", reason)
        if config.lake_formation:
            acknowledge(
                role,
                "AwsSolutions-IAM5[Resource::*]",
                "lakeformation:GetDataAccess has no resource-level permission (Lake Formation's grants decide what "
                "the credentials it vends read); xray:Put* for active tracing neither",
            )

    # -- the state machine ------------------------------------------------------------------------

    def _definition(self) -> sfn.IChainable:
        plan = tasks.LambdaInvoke(
            self,
            "Plan",
            lambda_function=self.function,
            payload=sfn.TaskInput.from_object({"action": "plan"}),
            payload_response_only=True,
            result_path="$.plan",
        )
        # An execution started with {"full_listing": true} plans from a listing of the whole archive (the fallback
        # of the change log: same tables, more requests).
        plan_listing = tasks.LambdaInvoke(
            self,
            "PlanFromFullListing",
            lambda_function=self.function,
            payload=sfn.TaskInput.from_object({"action": "plan", "full_listing": True}),
            payload_response_only=True,
            result_path="$.plan",
        )
        # A plan is safe to repeat: the change log's messages are deleted only once the pending object holds them.
        # Two plans racing for that object (ConcurrentRollup), S3 or SQS failing for a moment: retried after a pause,
        # not failed (and alarmed) at once.
        for planner in (plan, plan_listing):
            planner.add_retry(errors=list(PLAN_RETRIED_ERRORS), interval=Duration.seconds(30), max_attempts=3,
                              backoff_rate=2)  # fmt: skip
        rollup = tasks.LambdaInvoke(
            self,
            "Rollup",
            lambda_function=self.function,
            payload=sfn.TaskInput.from_object({"action": "rollup", "batch": sfn.JsonPath.object_at("$.batch")}),
            payload_response_only=True,
            retry_on_service_exceptions=False,
        )
        # Lambda's own transient errors (throttled, service errors) at once; the handler's transient ones (Athena
        # throttled or slow, S3 failing, a month object changed under the run) after a pause. A batch is
        # recomputed whole, so a retry never writes a month twice differently.
        rollup.add_retry(errors=list(TRANSIENT_LAMBDA_ERRORS), interval=Duration.seconds(2), max_attempts=6,
                         backoff_rate=2)  # fmt: skip
        rollup.add_retry(errors=list(RETRIED_HANDLER_ERRORS), interval=Duration.seconds(30), max_attempts=4,
                         backoff_rate=2)  # fmt: skip
        rollup.add_retry(errors=[QUERY_FAILED], interval=Duration.seconds(30), max_attempts=1)
        batches = sfn.Map(
            self,
            "Batches",
            items_path="$.plan.batches",
            max_concurrency=MAX_CONCURRENCY,
            item_selector={"batch": sfn.JsonPath.object_at("$$.Map.Item.Value")},
            result_path="$.results",
        )
        batches.item_processor(rollup)
        commit = tasks.LambdaInvoke(
            self,
            "Commit",
            lambda_function=self.function,
            payload=sfn.TaskInput.from_object(
                {
                    "action": "commit",
                    "run_id": sfn.JsonPath.string_at("$.plan.run_id"),
                    "watermarks": sfn.JsonPath.object_at("$.plan.watermarks"),
                    "results": sfn.JsonPath.list_at("$.results"),
                    "source": sfn.JsonPath.string_at("$.plan.source"),
                    "changes": sfn.JsonPath.object_at("$.plan.changes"),
                }
            ),
            payload_response_only=True,
        )
        up_to_date = sfn.Succeed(self, "UpToDate", comment="No archive object past the watermarks: nothing written")
        anything_new = (
            sfn.Choice(self, "AnythingNew?")
            .when(sfn.Condition.is_present("$.plan.batches[0]"), batches.next(commit))
            .otherwise(up_to_date)
        )
        plan.next(anything_new)
        plan_listing.next(anything_new)
        return (
            sfn.Choice(self, "FullListing?")
            .when(sfn.Condition.and_(sfn.Condition.is_present("$.full_listing"),
                                     sfn.Condition.boolean_equals("$.full_listing", True)), plan_listing)
            .otherwise(plan)
        )  # fmt: skip
