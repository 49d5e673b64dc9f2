"""Backfill workflow: a Step Functions state machine that runs a long range as chunks of producer runs.

Input ``{source, pairs, interval, start, end}`` (optional ``max_bars_per_run``, ``max_pairs_per_run``,
``requests_per_minute``). ``Plan`` (the ``backfill_workflow`` Lambda, which runs ``cryptostream_model.backfill``,
the planner ``cryptostream backfill`` runs locally) splits it into chunks that each fit one producer run and the
source's rate budget. ``Chunks`` (a Map state, ``MAX_CONCURRENCY``) invokes the producer Lambda with each chunk's
backfill event (``mode: full`` plus ``backfill: <id>/<chunk>``, so the producer keeps per-pair marks and a rerun
resumes without republishing what Kinesis accepted), waits while a scheduled run holds the interval's lease,
retries a failed invocation, then waits ``pause_seconds`` so the next run's requests stay in the rate budget.
Each chunk's result (published, skipped, failed pairs, or the error after retries) is collected; ``Report``
adds them up and fails the execution when a chunk failed (the alarm in ``infra.observability``).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cryptostream_config.deployment import DeploymentConfig
from infra.functions import pipeline_function
from infra.log_groups import encrypted_log_group
from infra.nag import acknowledge, logical_id

PACKAGE = "backfill_workflow"  # handler: backfill_workflow.handler.lambda_handler
SERVICE_NAME = "cryptostream-backfill"
# Runs of one interval exclude each other through the producer's lease, so chunks run one at a time;
# the bound is what keeps a long backfill from fanning out over the source's rate budget.
MAX_CONCURRENCY = 1
LEASE_WAIT = Duration.seconds(30)  # a scheduled run of the interval holds the lease for at most its timeout
TIMEOUT = Duration.days(7)  # 500 chunks at a minute's rate budget each, with room for lease waits


class BackfillWorkflow(Construct):
    """The planning/reporting function and the state machine (``<prefix>-backfill``)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        producer: lambda_.IFunction,
        layer: lambda_.ILayerVersion,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function, self.role, self.log_group = pipeline_function(
            self,
            "Function",
            sibling_id_prefix="",
            config=config,
            name_suffix="backfill-plan",
            package=PACKAGE,
            description="Backfill state machine: splits a range into producer runs, reports the outcome",
            role_description="cryptostream backfill planner (no AWS calls)",
            layer=layer,
            memory_mb=256,
            timeout=Duration.seconds(30),
            environment={"POWERTOOLS_SERVICE_NAME": SERVICE_NAME, "POWERTOOLS_LOG_LEVEL": "INFO"},
        )
        name = config.resource_name("backfill")
        self.state_machine_log_group = encrypted_log_group(
            self, "StateMachineLogs", name=f"/aws/vendedlogs/states/{name}", config=config
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=name,
            comment="Backfill a range in chunks of producer runs (docs/infrastructure.md, Workflows)",
            definition_body=sfn.DefinitionBody.from_chainable(self._definition(producer)),
            timeout=TIMEOUT,
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.state_machine_log_group, level=sfn.LogLevel.ALL),
        )
        role = self.state_machine.role
        for function in (self.function, producer):
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::<{logical_id(function)}.Arn>:*]",
                "CDK's LambdaInvoke grants lambda:InvokeFunction on the function and its versions (<arn>:*); "
                "the planner and the producer, no other",
            )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "Step Functions logging (logs:CreateLogDelivery and the other log-delivery actions) and X-Ray "
            "tracing have no resource-level permissions",
        )

    def _definition(self, producer: lambda_.IFunction) -> sfn.IChainable:
        plan = tasks.LambdaInvoke(
            self,
            "Plan",
            lambda_function=self.function,
            payload=sfn.TaskInput.from_object({"action": "plan", "request": sfn.JsonPath.entire_payload}),
            payload_response_only=True,
            result_path="$.plan",
        )
        run = tasks.LambdaInvoke(
            self,
            "RunChunk",
            lambda_function=producer,
            payload=sfn.TaskInput.from_object(
                {
                    "mode": "full",
                    "pairs": sfn.JsonPath.list_at("$.chunk.pairs"),
                    "interval": sfn.JsonPath.string_at("$.chunk.interval"),
                    "start": sfn.JsonPath.string_at("$.chunk.start"),
                    "end": sfn.JsonPath.string_at("$.chunk.end"),
                    "backfill": sfn.JsonPath.format(
                        "{}/{}", sfn.JsonPath.string_at("$.backfill_id"), sfn.JsonPath.string_at("$.chunk.id")
                    ),
                }
            ),
            payload_response_only=True,
            retry_on_service_exceptions=False,
            result_path="$.run",
        )
        # A crashed or timed-out run resumes from its marks: retrying it never republishes what was accepted.
        run.add_retry(errors=[sfn.Errors.ALL], interval=Duration.seconds(10), max_attempts=2, backoff_rate=2)
        failed = sfn.Pass(
            self,
            "ChunkFailed",
            parameters={
                "id": sfn.JsonPath.string_at("$.chunk.id"),
                "error": sfn.JsonPath.string_at("$.error.Error"),
                "cause": sfn.JsonPath.string_at("$.error.Cause"),
            },
        )
        run.add_catch(failed, errors=[sfn.Errors.ALL], result_path="$.error")
        done = sfn.Pass(
            self,
            "ChunkDone",
            parameters={
                "id": sfn.JsonPath.string_at("$.chunk.id"),
                "published": sfn.JsonPath.number_at("$.run.published"),
                "skipped_seen": sfn.JsonPath.number_at("$.run.skipped_seen"),
                "failed_pairs": sfn.JsonPath.object_at("$.run.failed_pairs"),
                # pairs the source's daily request budget left unrequested: not done, the next run resumes them
                "deferred_pairs": sfn.JsonPath.object_at("$.run.deferred_pairs"),
            },
        )
        pace = sfn.Wait(self, "Pace", time=sfn.WaitTime.seconds_path("$.pause_seconds"))
        lease_wait = sfn.Wait(self, "LeaseHeld", time=sfn.WaitTime.duration(LEASE_WAIT))
        lease_wait.next(run)
        # "skipped" is either a held lease (wait for that run) or the source's daily request budget spent
        # (reported as a failed chunk: the same request, run again another day, resumes it).
        not_run = sfn.Pass(
            self,
            "ChunkNotRun",
            parameters={
                "id": sfn.JsonPath.string_at("$.chunk.id"),
                "error": "Skipped",
                "cause": sfn.JsonPath.string_at("$.run.skipped"),
            },
        )
        outcome = (
            sfn.Choice(self, "LeaseFree?")
            .when(
                sfn.Condition.and_(
                    sfn.Condition.is_present("$.run.skipped"),
                    sfn.Condition.string_matches("$.run.skipped", "lease held by *"),
                ),
                lease_wait,
            )
            .when(sfn.Condition.is_present("$.run.skipped"), not_run)
            .otherwise(pace.next(done))
        )
        chunks = sfn.Map(
            self,
            "Chunks",
            items_path="$.plan.chunks",
            max_concurrency=MAX_CONCURRENCY,
            item_selector={
                "chunk": sfn.JsonPath.object_at("$$.Map.Item.Value"),
                "backfill_id": sfn.JsonPath.string_at("$.plan.backfill_id"),
                "pause_seconds": sfn.JsonPath.number_at("$.plan.pause_seconds"),
            },
            result_path="$.results",
        )
        chunks.item_processor(run.next(outcome))
        report = tasks.LambdaInvoke(
            self,
            "Report",
            lambda_function=self.function,
            payload=sfn.TaskInput.from_object(
                {
                    "action": "report",
                    "backfill_id": sfn.JsonPath.string_at("$.plan.backfill_id"),
                    "results": sfn.JsonPath.list_at("$.results"),
                }
            ),
            payload_response_only=True,
        )
        return plan.next(chunks).next(report)
