"""The backfill workflow: a state machine that plans chunks, runs each through the producer, and reports."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.infra


def _definition(synth) -> dict[str, Any]:
    """The state machine's ASL with each Fn::GetAtt of a function ARN replaced by ``<logical id>``."""
    (machine,) = [r for r in synth.resources("AWS::StepFunctions::StateMachine").values()
                  if r["Properties"]["StateMachineName"] == "cryptostream-backfill"]
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else f"<{p['Fn::GetAtt'][0]}>" for p in parts)
    return json.loads(text)


def test_plan_then_chunks_one_at_a_time_then_report(synth) -> None:
    workflow = synth.stack.backfill
    definition = _definition(synth)
    planner = f"<{synth.logical_id(workflow.function)}>"
    producer = f"<{synth.logical_id(synth.stack.ingestion.function)}>"
    states = definition["States"]
    assert definition["StartAt"] == "Plan" and states["Plan"]["Resource"] == planner
    assert states["Plan"]["Parameters"] == {"action": "plan", "request.$": "$"}
    chunks = states["Chunks"]
    assert chunks["Type"] == "Map" and chunks["MaxConcurrency"] == 1 and chunks["ItemsPath"] == "$.plan.chunks"
    inner = chunks["ItemProcessor"]["States"]
    run = inner["RunChunk"]
    assert run["Resource"] == producer
    assert run["Parameters"]["mode"] == "full"
    assert run["Parameters"]["backfill.$"] == "States.Format('{}/{}', $.backfill_id, $.chunk.id)"
    assert run["Retry"][0]["ErrorEquals"] == ["States.ALL"] and run["Retry"][0]["MaxAttempts"] >= 1
    assert run["Catch"][0]["Next"] == "ChunkFailed"  # a failed chunk is reported, the others still run
    lease, budget = inner["LeaseFree?"]["Choices"]
    assert lease["Next"] == "LeaseHeld"
    assert {"Variable": "$.run.skipped", "StringMatches": "lease held by *"} in lease["And"]
    assert budget == {"Variable": "$.run.skipped", "IsPresent": True, "Next": "ChunkNotRun"}
    assert inner["LeaseHeld"]["Next"] == "RunChunk"
    assert inner["Pace"]["SecondsPath"] == "$.pause_seconds"
    assert states["Report"]["Resource"] == planner and states["Report"]["End"] is True


def test_executions_are_logged_traced_and_alarmed(synth) -> None:
    machine = synth.raw["Resources"][synth.logical_id(synth.stack.backfill.state_machine)]["Properties"]
    assert machine["TracingConfiguration"] == {"Enabled": True}
    assert machine["LoggingConfiguration"]["Level"] == "ALL"
    alarms = [a["Properties"] for a in synth.resources("AWS::CloudWatch::Alarm").values()]
    (failed,) = [a for a in alarms if a["AlarmName"] == "cryptostream-backfill-failed"]
    assert failed["MetricName"] == "ExecutionsFailed" and failed["Namespace"] == "AWS/States"
    assert failed["Threshold"] == 1 and failed["AlarmActions"]


def test_the_state_machine_may_invoke_the_planner_and_the_producer_only(synth) -> None:
    role = synth.stack.backfill.state_machine.role
    invoked = {
        json.dumps(resource)
        for statement in synth.statements_of(role)
        if "lambda:InvokeFunction" in statement["Action"]
        for resource in statement["Resource"]
    }
    for function in (synth.stack.backfill.function, synth.stack.ingestion.function):
        assert any(synth.logical_id(function) in resource for resource in invoked)
    assert all(
        synth.logical_id(synth.stack.backfill.function) in r or synth.logical_id(synth.stack.ingestion.function) in r
        for r in invoked
    )


def test_the_planner_role_has_nothing_but_logs_and_tracing(synth) -> None:
    assert synth.actions_of(synth.stack.backfill.role) <= {
        "xray:PutTraceSegments", "xray:PutTelemetryRecords", "logs:CreateLogStream", "logs:PutLogEvents"
    }
