"""Log groups: each encrypted with the stack's one customer-managed key, which CloudWatch Logs may use
for this stack's log groups only (CloudWatch Logs User Guide, "Encrypt log data in CloudWatch Logs
using AWS Key Management Service"), and CloudWatch for this stack's alarms only."""

from __future__ import annotations

from typing import Any

import pytest

from infra.log_groups import LOGS_KEY_ACTIONS, LOGS_KEY_ID

pytestmark = pytest.mark.infra

FIXTURES = ["synth", "regional", "variant", "throwaway"]


def _render(value: Any) -> str:
    """A template string value with intrinsic functions written out: ``{"Ref": "AWS::Region"}`` -> ``<AWS::Region>``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_render(part) for part in parts)
    raise AssertionError(f"unexpected value {value!r}")


def _logs_key(synthesized) -> tuple[str, dict[str, Any]]:
    (found,) = [(k, v) for k, v in synthesized.resources("AWS::KMS::Key").items() if k.startswith(LOGS_KEY_ID)]
    return found


@pytest.mark.parametrize("fixture", FIXTURES)
def test_every_log_group_is_encrypted_with_the_stack_key(request: pytest.FixtureRequest, fixture: str) -> None:
    synthesized = request.getfixturevalue(fixture)
    key_id, key = _logs_key(synthesized)
    groups = synthesized.resources("AWS::Logs::LogGroup")
    assert len(groups) >= 4  # producer, consumer, archive transform, Firehose (+ connector, Studio, auto-delete)
    for logical_id, group in groups.items():
        assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}, logical_id
        assert group["DeletionPolicy"] == "Delete", logical_id
    assert key["Properties"]["EnableKeyRotation"] is True
    # The key also protects the retained data (table, archive, secret): it stays with them.
    assert key["DeletionPolicy"] == ("Retain" if synthesized.stack.config.retain_data else "Delete")


@pytest.mark.parametrize("fixture", FIXTURES)
def test_cloudwatch_logs_may_use_the_key_for_this_stacks_log_groups_only(
    request: pytest.FixtureRequest, fixture: str
) -> None:
    synthesized = request.getfixturevalue(fixture)
    _, key = _logs_key(synthesized)
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    (logs,) = [s for s in statements if s.get("Sid") == "CloudWatchLogsForThisStacksLogGroups"]
    assert _render(logs["Principal"]["Service"]) == f"logs.{_region(synthesized)}.amazonaws.com"
    assert sorted(logs["Action"]) == sorted(LOGS_KEY_ACTIONS) and logs["Effect"] == "Allow"
    (operator,) = logs["Condition"]
    assert operator == "ArnEquals"
    allowed = sorted(_render(arn) for arn in logs["Condition"][operator]["kms:EncryptionContext:aws:logs:arn"])
    names = sorted(g["Properties"]["LogGroupName"] for g in synthesized.resources("AWS::Logs::LogGroup").values())
    partition = "aws" if _concrete(synthesized) else "<AWS::Partition>"
    prefix = f"arn:{partition}:logs:{_region(synthesized)}:{_account(synthesized)}:log-group:"
    assert allowed == sorted(prefix + name for name in names)
    # Beyond the account's default administration statement, only CloudWatch, for this stack's alarms, S3, for the
    # archive's notifications to the change log (tests/infra/test_change_log.py), and Secrets Manager's
    # statements, each held to kms:ViaService.
    others = [s for s in statements if s is not logs]
    (admin,) = [s for s in others if s["Action"] == "kms:*"]
    assert "AWS" in admin["Principal"] and "Condition" not in admin
    (notifications,) = [s for s in others if s["Principal"] == {"Service": "s3.amazonaws.com"}]
    assert notifications["Sid"] == "S3NotificationsOfTheArchiveToTheChangeLog"
    assert sorted(notifications["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    others.remove(notifications)
    (alarms,) = [s for s in others if "Service" in s["Principal"]]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert sorted(alarms["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert _render(alarms["Condition"]["ArnLike"]["aws:SourceArn"]).endswith(
        f":{_account(synthesized)}:alarm:{synthesized.stack.config.prefix}-*"
    )
    assert _render(alarms["Condition"]["StringEquals"]["aws:SourceAccount"]) == _account(synthesized)
    for statement in others:
        if statement is not admin and statement is not alarms:
            assert "secretsmanager." in _render(statement["Condition"]["StringEquals"]["kms:ViaService"]), statement


def _concrete(synthesized) -> bool:
    return not synthesized.stack.region.startswith("${Token")


def _region(synthesized) -> str:
    return synthesized.stack.region if _concrete(synthesized) else "<AWS::Region>"


def _account(synthesized) -> str:
    return synthesized.stack.account if _concrete(synthesized) else "<AWS::AccountId>"
