"""Log groups: each encrypted with the stack's customer-managed log key, which CloudWatch Logs may use
for this stack's log groups only (CloudWatch Logs User Guide, "Encrypt log data in CloudWatch Logs
using AWS Key Management Service")."""

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
def test_every_log_group_is_encrypted_with_the_log_key(request: pytest.FixtureRequest, fixture: str) -> None:
    synthesized = request.getfixturevalue(fixture)
    key_id, key = _logs_key(synthesized)
    groups = synthesized.resources("AWS::Logs::LogGroup")
    assert len(groups) >= 4  # producer, consumer, archive transform, Firehose (+ connector, Studio, auto-delete)
    for logical_id, group in groups.items():
        assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}, logical_id
        assert group["DeletionPolicy"] == "Delete", logical_id
    assert key["Properties"]["EnableKeyRotation"] is True
    # The log groups go with the stack, whatever retain_data says: so does the key that encrypts them.
    assert key["DeletionPolicy"] == "Delete"


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
    # Beyond the account's default administration statement, only CloudWatch, for the alarm topic.
    others = [s for s in statements if s is not logs]
    admin, alarms = sorted(others, key=lambda s: "Service" in s["Principal"])
    assert admin["Action"] == "kms:*" and "AWS" in admin["Principal"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert sorted(alarms["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]


def _concrete(synthesized) -> bool:
    return not synthesized.stack.region.startswith("${Token")


def _region(synthesized) -> str:
    return synthesized.stack.region if _concrete(synthesized) else "<AWS::Region>"


def _account(synthesized) -> str:
    return synthesized.stack.account if _concrete(synthesized) else "<AWS::AccountId>"
