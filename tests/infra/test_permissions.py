"""Permissions, proven both ways: each Lambda's role allows every AWS call the function makes, and nothing else.

The calls are not listed by hand: they are recorded at botocore while the real handlers run on the
embedded stack (``tests/iam/pipeline_run.py``), mapped to the IAM actions and resources they need, KMS
keys included (``tests/iam/needs.py``), and evaluated against the synthesized template's identity, key
and queue policies (``tests/iam/policy.py``). See docs/infrastructure.md, "Permissions, proven".
"""

from __future__ import annotations

import pytest

from tests.iam.audit import RoleAudit, audit, denials, grants_in_use, unused
from tests.iam.needs import ON_BEHALF, NeedMapper
from tests.iam.pipeline_run import FUNCTIONS, POISON, RecordedRun, recorded_pipeline_run
from tests.iam.template import StackTemplate

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def run() -> RecordedRun:
    return recorded_pipeline_run()


@pytest.fixture(scope="module")
def template(synth) -> StackTemplate:
    return StackTemplate(synth.raw)


@pytest.fixture(scope="module")
def audits(template: StackTemplate, run: RecordedRun) -> dict[str, RoleAudit]:
    return audit(template, run.calls, FUNCTIONS)


def test_the_recorded_run_takes_every_path_that_calls_aws(run: RecordedRun) -> None:
    """Guards the harness, not the roles: a path the run stopped taking would leave its calls unchecked."""
    operations = {function: {(c.service, c.operation) for c in run.of(function)} for function in FUNCTIONS}
    assert {("kinesis", "PutRecords"), ("secretsmanager", "GetSecretValue")} <= operations["producer"]
    # lease put/delete, watermarks read, written per pair and in a transaction, the held lease's holder read
    producer_items = {"PutItem", "DeleteItem", "BatchGetItem", "UpdateItem", "TransactWriteItems", "GetItem"}
    assert {("dynamodb", op) for op in producer_items} <= operations["producer"]
    consumer_calls = {("dynamodb", "BatchWriteItem"), ("dynamodb", "TransactWriteItems"), ("sqs", "SendMessageBatch")}
    assert consumer_calls <= operations["consumer"]
    assert operations["archive_transform"] == set(), "the transformation calls no AWS API: Firehose invokes it"
    assert operations["backfill_workflow"] == set(), "the backfill planner only plans and adds up"
    # plan lists, reads watermarks and drains the change log into the pending object; rollup queries Athena (a
    # failed query stops the other) and rewrites months
    rollup_calls = {("s3", "ListObjectsV2"), ("s3", "GetObject"), ("s3", "PutObject"),
                    ("sqs", "ReceiveMessage"), ("sqs", "DeleteMessageBatch"),
                    *(("athena", op) for op in ("StartQueryExecution", "GetQueryExecution", "GetQueryResults",
                                                "StopQueryExecution"))}
    assert operations["rollup_workflow"] == rollup_calls
    assert run.summaries["rollup_workflow_failed"]["stopped"] >= 1
    assert run.summaries["rollup_workflow"]["source"] == "full_listing"  # the first run: no watermark yet
    assert run.summaries["rollup_workflow_again"]["source"] == "change_log"
    assert run.summaries["rollup_workflow_again"]["pending_changes_emptied"]
    assert run.summaries["backfill_workflow"]["chunks"] > 0
    assert run.summaries["backfill"]["published"] > 0 and run.summaries["incremental"]["published"] > 0
    assert run.summaries["lease_held"]["skipped"].startswith("lease held")
    assert list(run.summaries["budgeted"]["deferred_pairs"]) == ["SOL-USD"]  # the budget's UpdateItem refused
    assert run.summaries["budget_spent"]["skipped"].startswith("daily request budget spent: 2 of 2")
    assert run.summaries["consumer"].quarantined == POISON
    results = [record["result"] for record in run.summaries["archive_transform"]["records"]]
    assert results.count("ProcessingFailed") == POISON and results.count("Ok") > 0
    assert run.unattributed > 0  # the harness's own calls were seen, and kept apart


def test_transactions_are_authorized_item_by_item(template: StackTemplate, run: RecordedRun, audits) -> None:
    mapper = NeedMapper(template)
    from_transactions = {
        function: {need.action for call in run.of(function) if call.operation == "TransactWriteItems"
                   for need in mapper.needs(call)}
        for function in ("producer", "consumer")
    }  # fmt: skip
    assert from_transactions["producer"] >= {"dynamodb:UpdateItem"}  # watermarks, WATERMARK_WRITES=transaction
    assert from_transactions["consumer"] >= {"dynamodb:PutItem"}  # LATEST
    actions = {need.action for result in audits.values() for need in result.needs}
    assert "dynamodb:TransactWriteItems" not in actions and "sqs:SendMessageBatch" not in actions
    assert {"sqs:SendMessage", "kms:GenerateDataKey", "kms:Decrypt"} <= actions


def test_every_recorded_call_is_allowed_by_its_functions_role(template: StackTemplate, audits) -> None:
    assert denials(template, audits) == []


def test_what_lambda_does_with_each_role_is_allowed(template: StackTemplate, audits) -> None:
    """Runtime logs, active tracing, and the consumer's event source mapping and its on-failure queue."""
    assert denials(template, audits, on_behalf=True) == []


def test_removing_any_grant_a_call_depends_on_makes_the_check_fail(template: StackTemplate, audits) -> None:
    """Each action of each statement (identity, key or queue policy) some need rests on, removed one at a time."""
    used = grants_in_use(audits)
    recorded = {grant for result in audits.values() for need in result.needs for grant in result.decisions[need].grants}
    assert len(recorded) >= 10 and recorded <= set(used)
    unnoticed = []
    for grant, users in sorted(used.items()):
        weaker = template.without(grant)
        reported = denials(weaker, audits) + denials(weaker, audits, on_behalf=True)
        if not all(any(f"{function}: {need} DENIED" in line for line in reported) for function, need in users):
            unnoticed.append(f"without {grant}: {[str(need) for _, need in users]} still allowed")
    assert unnoticed == [], "redundant grants: remove one of each pair"


def test_no_role_grants_what_no_call_needs(template: StackTemplate, audits) -> None:
    """The converse: every granted (action, resource) is needed by a recorded call or named in ON_BEHALF."""
    excess = {
        function: [f"{grant.action} on {resource} ({grant.at})" for grant, resource in unused(template, result)]
        for function, result in audits.items()
    }
    assert excess == {function: [] for function in FUNCTIONS}


def test_every_exception_is_used_and_explained(audits: dict[str, RoleAudit]) -> None:
    used = {entry.name for result in audits.values() for entry, _ in result.on_behalf}
    assert used == {entry.name for entry in ON_BEHALF}, "an exception no role uses: remove it"
    assert all(len(entry.reason) >= 60 for entry in ON_BEHALF)
