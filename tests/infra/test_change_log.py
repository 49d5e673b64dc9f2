"""The archive's change log (infra/change_log.py): S3 notifications of the quotes prefix on an encrypted queue the
rollup role drains, with exactly the calls it makes."""

from __future__ import annotations

from typing import Any

import pytest

from infra.change_log import MAX_RECEIVES

pytestmark = pytest.mark.infra


def _queue(synth, name: str) -> tuple[str, dict[str, Any]]:
    (found,) = [(lid, r["Properties"]) for lid, r in synth.resources("AWS::SQS::Queue").items()
                if r["Properties"].get("QueueName") == name]  # fmt: skip
    return found


def test_the_queue_is_encrypted_with_the_pipeline_key_retained_days_and_has_a_dead_letter_queue(synth) -> None:
    lid, queue = _queue(synth, "cryptostream-rollup-changes")
    key = synth.logical_id(synth.stack.archive.key)
    assert queue["KmsMasterKeyId"] == {"Fn::GetAtt": [key, "Arn"]}
    assert 4 * 86400 <= queue["MessageRetentionPeriod"] <= 14 * 86400
    assert queue["VisibilityTimeout"] == 900  # the function's timeout: a plan never sees its own messages again
    dlq_lid, dlq = _queue(synth, "cryptostream-rollup-changes-dlq")
    assert queue["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": [dlq_lid, "Arn"]},
                                      "maxReceiveCount": MAX_RECEIVES}  # fmt: skip
    assert dlq["KmsMasterKeyId"] == {"Fn::GetAtt": [key, "Arn"]} and dlq["MessageRetentionPeriod"] == 14 * 86400


def test_the_archive_bucket_notifies_object_creations_under_quotes_only(synth) -> None:
    lid, _ = _queue(synth, "cryptostream-rollup-changes")
    bucket_lid = synth.logical_id(synth.stack.archive.bucket)
    bucket = synth.raw["Resources"][bucket_lid]
    (configuration,) = bucket["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert configuration == {"Event": "s3:ObjectCreated:*", "Queue": {"Fn::GetAtt": [lid, "Arn"]},
                             "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": "quotes/"}]}}}  # fmt: skip
    (policy_lid,) = [p for p, r in synth.resources("AWS::SQS::QueuePolicy").items()
                     if {"Ref": lid} in r["Properties"]["Queues"]]  # fmt: skip
    assert policy_lid in bucket["DependsOn"]  # S3 checks the destination when the configuration is applied
    # No custom resource writes it (CDK's handler needs boto3 and s3:PutBucketNotification on *).
    assert not synth.resources("Custom::S3BucketNotifications")


def _source_conditions(statement: dict[str, Any]) -> tuple[str, Any]:
    arn = statement["Condition"]["ArnEquals"]["aws:SourceArn"]
    joined = "".join(p if isinstance(p, str) else str(p) for p in arn["Fn::Join"][1])
    return joined, statement["Condition"]["StringEquals"]["aws:SourceAccount"]


def test_only_this_archive_bucket_may_send_and_use_the_key_for_it_over_tls(synth) -> None:
    lid, _ = _queue(synth, "cryptostream-rollup-changes")
    policies = synth.resources("AWS::SQS::QueuePolicy").values()
    (policy,) = [r["Properties"]["PolicyDocument"]["Statement"] for r in policies
                 if {"Ref": lid} in r["Properties"]["Queues"]]  # fmt: skip
    deny = [s for s in policy if s["Effect"] == "Deny"]
    assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    (send,) = [s for s in policy if s["Effect"] == "Allow"]
    assert send["Principal"] == {"Service": "s3.amazonaws.com"} and send["Action"] == "sqs:SendMessage"
    bucket, account = _source_conditions(send)
    assert bucket.startswith("arn:") and ":s3:::cryptostream-archive-" in bucket
    assert account == {"Ref": "AWS::AccountId"}
    key = synth.raw["Resources"][synth.logical_id(synth.stack.archive.key)]["Properties"]["KeyPolicy"]["Statement"]
    (s3_use,) = [s for s in key if s.get("Sid") == "S3NotificationsOfTheArchiveToTheChangeLog"]
    assert s3_use["Principal"] == {"Service": "s3.amazonaws.com"}
    assert sorted(s3_use["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert "Condition" not in s3_use  # as AWS documents it: S3 may not pass its source on to KMS (infra/change_log.py)


def test_the_rollup_role_may_receive_and_delete_and_nothing_else_on_the_queue(synth) -> None:
    lid, _ = _queue(synth, "cryptostream-rollup-changes")
    role = synth.logical_id(synth.stack.rollups.role)
    statements = [s for r in synth.resources("AWS::IAM::Policy").values() if {"Ref": role} in r["Properties"]["Roles"]
                  for s in r["Properties"]["PolicyDocument"]["Statement"]]  # fmt: skip
    sqs = [s for s in statements if any(str(a).startswith("sqs:") for a in _list(s["Action"]))]
    assert [(sorted(_list(s["Action"])), s["Resource"]) for s in sqs] == [
        (["sqs:DeleteMessage", "sqs:ReceiveMessage"], {"Fn::GetAtt": [lid, "Arn"]})]
    env = synth.raw["Resources"][synth.logical_id(synth.stack.rollups.function)]["Properties"]["Environment"]
    assert env["Variables"]["CHANGES_QUEUE_URL"] == {"Ref": lid}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
