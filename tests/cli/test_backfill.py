"""``cryptostream backfill`` on the embedded stack: the chunk plan runs through the producer and resumes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from cli.main import app
from cryptostream_model.record import format_ts
from local.stack import LocalStack

runner = CliRunner()
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
PAIRS = ("BTC-USD", "ETH-USD", "SOL-USD")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    patch = pytest.MonkeyPatch()
    patch.setenv("CRYPTOSTREAM_HOME", str(home))
    with LocalStack(home, seed=7) as running:
        running.simulator.clock.set(NOW)
        yield running
    patch.undo()


def backfill(*extra: str):
    args = ["backfill", "--pairs", ",".join(PAIRS), "--interval", "5min",
            "--start", format_ts(NOW - timedelta(hours=3)),
            "--end", format_ts(NOW - timedelta(minutes=5)), "--max-bars-per-run", "40", "--max-pairs-per-run", "2",
            "--requests-per-minute", "6000", *extra]
    return runner.invoke(app, args, catch_exceptions=False)


def test_the_plan_runs_chunk_by_chunk_then_a_rerun_publishes_nothing(stack):
    planned = json.loads(backfill("--dry-run", "--json").output)
    assert len(planned["chunks"]) == 4 and planned["bars"] == 3 * 36  # 2 windows x (2 pairs + 1 pair)

    first = backfill("--json")
    assert first.exit_code == 0, first.output
    report = json.loads(first.output)
    assert report["backfill_id"] == planned["backfill_id"]
    assert [row["chunk"] for row in report["chunks"]] == [c["id"] for c in planned["chunks"]]
    assert sum(row["published"] for row in report["chunks"]) == 3 * 36
    assert all(row["ok"] for row in report["chunks"])

    again = json.loads(backfill("--json").output)
    assert sum(row["published"] for row in again["chunks"]) == 0  # resumed from the chunks' marks
    assert sum(row["skipped_seen"] for row in again["chunks"]) == 3 * 36

    stack.pump(flush=True)
    table = stack.clients.dynamodb
    for pair in PAIRS:
        items = table.query(
            TableName=stack.config.table_name,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :a AND :b",
            ExpressionAttributeValues={":pk": {"S": f"{pair}#5min"}, ":a": {"S": "2026"}, ":b": {"S": "2027"}},
        )["Items"]
        assert len(items) == 36


def test_a_bad_request_is_one_line(stack):
    result = runner.invoke(app, ["backfill", "--pairs", "BTC-USD", "--interval", "spot", "--start", "2026-11-01",
                                 "--end", "2026-11-02"])
    assert isinstance(result.exception, ValueError) and "no history" in str(result.exception)


def test_against_aws_the_command_starts_the_state_machine_with_the_request():
    import boto3
    from botocore.stub import Stubber

    from cli.backfill import start_in_cloud
    from cli.target import Target
    from cryptostream_config.local import load_local_settings
    from cryptostream_model.backfill import plan_backfill

    client = boto3.client("stepfunctions", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:cryptostream-backfill"
    request = {"source": "alphavantage", "pairs": ["BTC-USD"], "interval": "5min", "start": "2026-11-01",
               "end": "2026-11-02"}
    plan = plan_backfill(request)
    with Stubber(client) as stub:
        stub.add_response("list_state_machines", {"stateMachines": [
            {"name": "other", "stateMachineArn": arn.replace("backfill", "other"), "type": "STANDARD",
             "creationDate": NOW},
            {"name": "cryptostream-backfill", "stateMachineArn": arn, "type": "STANDARD", "creationDate": NOW},
        ]})
        stub.add_response(
            "start_execution",
            {"executionArn": f"{arn}:x", "startDate": NOW},
            {"stateMachineArn": arn, "name": StubAny(), "input": json.dumps(request)},
        )

        class Clients:
            def client(self, name):
                assert name == "stepfunctions"
                return client

        target = Target("aws", None, load_local_settings(), Clients())  # type: ignore[arg-type]
        started = start_in_cloud(target, "cryptostream-backfill", request, plan)
    assert started == {"execution_arn": f"{arn}:x", "backfill_id": plan.backfill_id, "chunks": 1, "bars": 289}


class StubAny:
    def __eq__(self, other):
        return isinstance(other, str) and other.startswith(plan_id_prefix())


def plan_id_prefix() -> str:
    from cryptostream_model.backfill import plan_backfill

    request = {"pairs": ["BTC-USD"], "interval": "5min", "start": "2026-11-01", "end": "2026-11-02"}
    return plan_backfill(request).backfill_id
