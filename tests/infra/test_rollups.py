"""The rollup workflow: Glue tables, a state machine (plan, bounded Map of retried batches, commit), its schedule."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cryptostream_config.deployment import DEFAULT_CONTEXT, ConfigError, config_from_context
from infra.rollups import MAX_CONCURRENCY, ROLLUP_ROW_FIELDS

pytestmark = pytest.mark.infra


def _definition(synth) -> dict[str, Any]:
    (machine,) = [r for r in synth.resources("AWS::StepFunctions::StateMachine").values()
                  if r["Properties"]["StateMachineName"] == "cryptostream-rollups"]  # fmt: skip
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    return json.loads("".join(p if isinstance(p, str) else f"<{p['Fn::GetAtt'][0]}>" for p in parts))


def _table(synth, name: str) -> dict[str, Any]:
    (table,) = [r["Properties"]["TableInput"] for r in synth.resources("AWS::Glue::Table").values()
                if r["Properties"]["TableInput"]["Name"] == name]  # fmt: skip
    return table


def test_plan_then_batches_two_at_a_time_then_commit(synth) -> None:
    function = f"<{synth.logical_id(synth.stack.rollups.function)}>"
    definition = _definition(synth)
    states = definition["States"]
    # {"full_listing": true} in the execution's input plans from a listing of the archive; else the change log.
    assert definition["StartAt"] == "FullListing?"
    start = states["FullListing?"]
    assert start["Default"] == "Plan" and [c["Next"] for c in start["Choices"]] == ["PlanFromFullListing"]
    assert start["Choices"][0]["And"] == [{"Variable": "$.full_listing", "IsPresent": True},
                                          {"Variable": "$.full_listing", "BooleanEquals": True}]  # fmt: skip
    assert states["PlanFromFullListing"]["Parameters"] == {"action": "plan", "full_listing": True}
    for name in ("Plan", "PlanFromFullListing"):
        assert states[name]["Resource"] == function and states[name]["ResultPath"] == "$.plan"
        assert states[name]["Next"] == "AnythingNew?"
    assert states["Plan"]["Parameters"] == {"action": "plan"}
    # Nothing new: the execution ends without a commit, so a rerun writes nothing (not even the watermarks).
    choice = states["AnythingNew?"]
    assert choice["Choices"] == [{"Variable": "$.plan.batches[0]", "IsPresent": True, "Next": "Batches"}]
    assert states[choice["Default"]]["Type"] == "Succeed"
    batches = states["Batches"]
    assert batches["Type"] == "Map" and batches["MaxConcurrency"] == MAX_CONCURRENCY == 2
    assert batches["ItemsPath"] == "$.plan.batches" and batches["ItemSelector"] == {"batch.$": "$$.Map.Item.Value"}
    assert batches["ResultPath"] == "$.results" and batches["Next"] == "Commit"
    rollup = batches["ItemProcessor"]["States"]["Rollup"]
    assert rollup["Resource"] == function and rollup["Parameters"] == {"action": "rollup", "batch.$": "$.batch"}
    commit = states["Commit"]
    assert commit["Resource"] == function and commit["End"] is True
    assert commit["Parameters"] == {"action": "commit", "run_id.$": "$.plan.run_id",
                                    "watermarks.$": "$.plan.watermarks", "results.$": "$.results",
                                    "source.$": "$.plan.source", "changes.$": "$.plan.changes"}  # fmt: skip


def test_a_batch_is_retried_with_backoff_on_transient_and_handler_errors(synth) -> None:
    transient, handler, failed = _definition(synth)["States"]["Batches"]["ItemProcessor"]["States"]["Rollup"]["Retry"]
    assert "Lambda.TooManyRequestsException" in transient["ErrorEquals"]
    assert "Lambda.ServiceException" in transient["ErrorEquals"]
    assert transient["BackoffRate"] > 1 and transient["MaxAttempts"] >= 3
    # The handler's transient errors are retried later (a batch is idempotent); a failed query or a bad event is not.
    assert {"AthenaThrottled", "AthenaTimeout", "ConcurrentRollup"} <= set(handler["ErrorEquals"])
    assert not {"States.ALL", "AthenaQueryFailed", "ValueError"} & set(handler["ErrorEquals"])
    assert handler["IntervalSeconds"] >= 10
    assert handler["BackoffRate"] > 1 and 1 <= handler["MaxAttempts"] <= 4
    assert failed["ErrorEquals"] == ["AthenaQueryFailed"] and failed["MaxAttempts"] == 1  # once more, then fail


def test_a_plan_is_retried_after_a_pause_on_a_race_or_a_storage_or_queue_failure(synth) -> None:
    states = _definition(synth)["States"]
    for name in ("Plan", "PlanFromFullListing"):
        retried = [r for r in states[name].get("Retry", []) if "ConcurrentRollup" in r["ErrorEquals"]]
        assert len(retried) == 1, name
        assert {"RollupStorageError", "ChangeLogError"} <= set(retried[0]["ErrorEquals"])
        assert not {"States.ALL", "PlanTooLarge", "ValueError"} & set(retried[0]["ErrorEquals"])
        assert retried[0]["IntervalSeconds"] >= 10 and retried[0]["MaxAttempts"] <= 3


def test_the_function_runs_the_rollup_package_with_the_contract_environment(synth) -> None:
    props = synth.raw["Resources"][synth.logical_id(synth.stack.rollups.function)]["Properties"]
    assert props["FunctionName"] == "cryptostream-rollups"
    assert props["Handler"] == "rollup_workflow.handler.lambda_handler"
    env = props["Environment"]["Variables"]
    assert {k: env[k] for k in ("ARCHIVE_PREFIX", "ROLLUPS_PREFIX", "GLUE_DATABASE", "ARCHIVE_TABLE",
                                "ATHENA_WORKGROUP", "SOURCE_INTERVAL", "POWERTOOLS_SERVICE_NAME")} == {
        "ARCHIVE_PREFIX": "quotes/", "ROLLUPS_PREFIX": "rollups/", "GLUE_DATABASE": "cryptostream",
        "ARCHIVE_TABLE": "quotes", "ATHENA_WORKGROUP": "cryptostream", "SOURCE_INTERVAL": "5min",
        "POWERTOOLS_SERVICE_NAME": "cryptostream-rollups",
    }  # fmt: skip
    assert env["ARCHIVE_BUCKET"] == {"Ref": synth.logical_id(synth.stack.archive.bucket)}
    assert props["TracingConfig"] == {"Mode": "Active"}
    # The handler gives up on a query before Lambda gives up on the handler.
    assert int(env["ATHENA_QUERY_TIMEOUT_SECONDS"]) < props["Timeout"] == 900


def test_the_asset_carries_the_sql_the_handler_reads(synth) -> None:
    asset = synth.asset_dir(synth.stack.rollups.function) / "rollup_workflow"
    assert (asset / "handler.py").is_file()
    assert {p.name for p in (asset / "sql").glob("*.sql")} == {"rollup_1h.sql", "rollup_1d.sql"}


@pytest.mark.parametrize("name", ["rollup_1h", "rollup_1d"])
def test_tables_are_json_lines_projected_by_pair_and_month(synth, name: str) -> None:
    table = _table(synth, name)
    descriptor = table["StorageDescriptor"]
    assert [(c["Name"], c["Type"]) for c in descriptor["Columns"]] == [
        ("bucket", "timestamp"), ("open", "double"), ("high", "double"), ("low", "double"), ("close", "double"),
        ("volume", "double"), ("bars", "bigint"),
    ]  # fmt: skip
    assert [(c["Name"], c["Type"]) for c in table["PartitionKeys"]] == [
        ("symbol", "string"), ("market", "string"), ("month", "string")
    ]
    # The JSON lines carry every field the local tables have; the partition keys come from the object's key.
    assert [n for n, _ in ROLLUP_ROW_FIELDS] == ["symbol", "market", *(c["Name"] for c in descriptor["Columns"])]
    assert descriptor["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    assert descriptor["InputFormat"] == "org.apache.hadoop.mapred.TextInputFormat"
    params = table["Parameters"]
    assert params["projection.enabled"] == "true"
    assert params["projection.symbol.values"] == "BTC,ETH,SOL" and params["projection.market.values"] == "USD"
    assert (params["projection.month.type"], params["projection.month.format"]) == ("date", "yyyy-MM")
    assert params["projection.month.interval.unit"] == "MONTHS" and params["projection.month.range"].endswith(",NOW")
    template = params["storage.location.template"]["Fn::Join"][1]
    assert template[-1] == f"/rollups/{name}/symbol=${{symbol}}/market=${{market}}/month=${{month}}/"


def test_scheduled_by_eventbridge_scheduler_on_the_configured_expression(synth) -> None:
    (schedule,) = [s["Properties"] for s in synth.resources("AWS::Scheduler::Schedule").values()
                   if s["Properties"]["Name"] == "cryptostream-rollups"]  # fmt: skip
    assert schedule["ScheduleExpression"] == "rate(1 hour)" and schedule["State"] == "ENABLED"
    target = schedule["Target"]
    assert target["Arn"] == {"Ref": synth.logical_id(synth.stack.rollups.state_machine)}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 2
    role = synth.stack.rollups.scheduler_role
    assert synth.actions_of(role) == {"states:StartExecution"}


def test_rollup_schedule_is_validated() -> None:
    def config(value: str):
        return config_from_context({**DEFAULT_CONTEXT, "rollup_schedule": value})

    assert config("rate(15 minutes)").rollup_schedule == "rate(15 minutes)"
    assert config("cron(5 * * * ? *)").rollup_schedule == "cron(5 * * * ? *)"
    for bad in ("rate(1 hours)", "rate(0 minutes)", "every hour", "cron(5 * * *)", "rate(2 hour)"):
        with pytest.raises(ConfigError, match="rollup_schedule"):
            config(bad)
    with pytest.raises(ConfigError, match="rollup_source_interval"):
        config_from_context({**DEFAULT_CONTEXT, "rollup_source_interval": "1d"})


def test_failures_alarm_and_outcome_is_on_the_dashboard(synth) -> None:
    alarms = [a["Properties"] for a in synth.resources("AWS::CloudWatch::Alarm").values()]
    (failed,) = [a for a in alarms if a["AlarmName"] == "cryptostream-rollups-failed"]
    assert (failed["Namespace"], failed["MetricName"], failed["Threshold"]) == ("AWS/States", "ExecutionsFailed", 1)
    assert failed["AlarmActions"]
    body = json.dumps(synth.one("AWS::CloudWatch::Dashboard")["DashboardBody"])
    assert "Rollups executions" in body and "ExecutionsSucceeded" in body and "ExecutionsFailed" in body
    machine = synth.raw["Resources"][synth.logical_id(synth.stack.rollups.state_machine)]["Properties"]
    assert machine["TracingConfiguration"] == {"Enabled": True} and machine["LoggingConfiguration"]["Level"] == "ALL"


def _resources(statement: dict[str, Any]) -> list[str]:
    value = statement["Resource"]
    return [json.dumps(r) for r in (value if isinstance(value, list) else [value])]


def _by_action(synthesized) -> dict[str, list[str]]:
    by_action: dict[str, list[str]] = {}
    for statement in synthesized.statements_of(synthesized.stack.rollups.role):
        actions = statement["Action"]
        for action in [actions] if isinstance(actions, str) else actions:
            by_action.setdefault(action, []).extend(_resources(statement))
    return by_action


# What the handler calls (cloudroll's list, checked call by call in tests/iam) and what Athena does with its role.
BASE_ACTIONS = {
    "logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments", "xray:PutTelemetryRecords",
    "athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults", "athena:StopQueryExecution",
    "glue:GetDatabase", "glue:GetTable",
    "s3:ListBucket", "s3:GetBucketLocation", "s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload",
    "kms:Decrypt", "kms:GenerateDataKey",
    "sqs:ReceiveMessage", "sqs:DeleteMessage",  # the change log (DeleteMessageBatch is authorized as DeleteMessage)
}  # fmt: skip


def test_the_function_role_is_least_privilege(synth) -> None:
    by_action = _by_action(synth)
    assert set(by_action) == BASE_ACTIONS | {"lakeformation:GetDataAccess"}
    archive = synth.logical_id(synth.stack.archive.bucket)
    results = synth.logical_id(synth.stack.catalog.results_bucket)
    # Writes go under rollups/ of the archive bucket and results/ of Athena's: nowhere else (not quotes/).
    puts = by_action["s3:PutObject"]
    assert len(puts) == 2 and any(archive in r and "/rollups/*" in r for r in puts)
    assert any(results in r and "/results/*" in r for r in puts)
    # Under Lake Formation the archive's objects are read with the credentials it vends, not the role's.
    gets = by_action["s3:GetObject"]
    assert all(archive in r and "/rollups/*" in r or results in r for r in gets)
    assert all(r != '"*"' for a, rs in by_action.items() if not a.startswith(("xray:", "lakeformation:")) for r in rs)
    assert all(":workgroup/cryptostream" in r for r in by_action["athena:StartQueryExecution"])
    tables = [r for r in by_action["glue:GetTable"] if ":table/" in r]
    assert len(tables) == 1 and "table/cryptostream/quotes" in tables[0]  # never the rollup tables: it writes S3
    assert not any(":table/" in r for r in by_action["glue:GetDatabase"])
    statements = synth.statements_of(synth.stack.rollups.role)
    (listing,) = [s for s in statements if s["Action"] == "s3:ListBucket" and archive in json.dumps(s["Resource"])]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["quotes/*", "rollups/*"]}}
    key = synth.logical_id(synth.stack.archive.key)
    assert all(key in r for r in by_action["kms:Decrypt"] + by_action["kms:GenerateDataKey"])
    # Nothing may delete: a rerun replaces months whole with PutObject.
    assert not any(a.startswith(("s3:Delete", "glue:Delete", "glue:Update", "glue:Create")) for a in by_action)


def test_without_lake_formation_athena_reads_the_archive_with_the_role(emulator) -> None:
    by_action = _by_action(emulator)
    assert set(by_action) == BASE_ACTIONS
    archive = emulator.logical_id(emulator.stack.archive.bucket)
    assert any(archive in r and "/quotes/*" in r for r in by_action["s3:GetObject"])


def test_the_state_machine_invokes_the_rollup_function_only(synth) -> None:
    role = synth.stack.rollups.state_machine.role
    invoked = [r for s in synth.statements_of(role) if "lambda:InvokeFunction" in s["Action"] for r in _resources(s)]
    assert invoked and all(synth.logical_id(synth.stack.rollups.function) in r for r in invoked)


def test_the_stack_names_the_state_machine(synth) -> None:
    assert "RollupsStateMachineArn" in synth.raw["Outputs"]


@pytest.mark.parametrize("table", ["rollup_1h", "rollup_1d"])
def test_the_named_query_reads_the_materialized_table(synth, table: str) -> None:
    (query,) = [q["Properties"] for q in synth.resources("AWS::Athena::NamedQuery").values()
                if q["Properties"]["Name"] == f"cryptostream-{table}"]  # fmt: skip
    sql = query["QueryString"]
    assert f"cryptostream.{table}" in sql and "cryptostream.quotes" not in sql
