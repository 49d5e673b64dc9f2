"""The permission check's parts on small hand-made templates: evaluator, resolver, call mapping, recorder."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tests.iam.needs import NeedMapper, UnmappedCall
from tests.iam.policy import Need, UnsupportedPolicy
from tests.iam.recorder import CallRecorder, RecordedCall
from tests.iam.template import StackTemplate, Unresolvable

ARN = {"Fn::GetAtt": ["Table", "Arn"]}
KEY_ARN = {"Fn::GetAtt": ["Key", "Arn"]}
ROOT = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::", {"Ref": "AWS::AccountId"}, ":root"]]}


def _template(*statements: dict[str, Any], key_policy: list[dict[str, Any]] | None = None) -> StackTemplate:
    delegation = [{"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"}]
    return StackTemplate(
        {
            "Resources": {
                "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
                "Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Statement": key_policy or delegation}}},
                "Table": {
                    "Type": "AWS::DynamoDB::Table",
                    "Properties": {"TableName": "quotes", "SSESpecification": {"KMSMasterKeyId": KEY_ARN}},
                },
                "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "poison", "KmsMasterKeyId": KEY_ARN}},
                "Policy": {
                    "Type": "AWS::IAM::Policy",
                    "Properties": {"Roles": [{"Ref": "Role"}], "PolicyDocument": {"Statement": list(statements)}},
                },
            }
        }
    )


def _allowed(template: StackTemplate, need: Need) -> bool:
    from tests.iam.audit import decide

    return decide(template, "Role", need).allowed


TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/quotes"


def test_resolves_the_stacks_own_references_to_concrete_arns() -> None:
    template = _template()
    assert template.resolve(ARN) == TABLE
    assert template.resolve({"Fn::Join": ["", [ARN, "/index/*"]]}) == f"{TABLE}/index/*"
    assert (
        template.resolve({"Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/quotes"})
        == TABLE
    )
    assert template.resolve({"Ref": "Queue"}) == "https://sqs.us-east-1.amazonaws.com/123456789012/poison"
    assert template.owner_of(f"{TABLE}/index/latest") == "Table"
    with pytest.raises(Unresolvable):
        template.resolve({"Fn::GetAtt": ["Missing", "Arn"]})


def test_wildcards_actions_ignore_case_and_explicit_deny_wins() -> None:
    allow = {"Effect": "Allow", "Action": "dynamodb:*Item", "Resource": ARN}
    assert _allowed(_template(allow), Need("dynamodb:putitem", TABLE))
    assert not _allowed(_template(allow), Need("dynamodb:Query", TABLE))
    assert not _allowed(_template(allow), Need("dynamodb:PutItem", TABLE + "-other"))
    deny = {"Effect": "Deny", "NotAction": "dynamodb:GetItem", "Resource": "*"}
    assert not _allowed(_template(allow, deny), Need("dynamodb:PutItem", TABLE))
    assert _allowed(_template(allow, deny), Need("dynamodb:GetItem", TABLE))


def test_conditions_are_evaluated_and_unknown_operators_refused() -> None:
    tls_only = {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": False}}}
    allow = {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": ARN}
    assert _allowed(_template(allow, tls_only), Need("dynamodb:GetItem", TABLE))
    plain = Need("dynamodb:GetItem", TABLE, (("aws:SecureTransport", "false"),))
    assert not _allowed(_template(allow, tls_only), plain)
    odd = {**allow, "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2026-01-01"}}}
    with pytest.raises(UnsupportedPolicy):
        _allowed(_template(odd), Need("dynamodb:GetItem", TABLE))


def test_a_key_needs_its_policy_to_delegate_or_name_the_role() -> None:
    key = "arn:aws:kms:us-east-1:123456789012:key/key-key"
    decrypt = Need("kms:Decrypt", key, (("kms:ViaService", "secretsmanager.us-east-1.amazonaws.com"),))
    identity = {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY_ARN}
    assert _allowed(_template(identity), decrypt)  # the default key policy delegates to the account
    assert not _allowed(_template(), decrypt)  # ... but the role itself must be allowed too
    admin_only = [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/admin"}, "Action": "kms:*"}]
    assert not _allowed(_template(identity, key_policy=admin_only), decrypt)
    via = {"StringEquals": {"kms:ViaService": {"Fn::Sub": "secretsmanager.${AWS::Region}.amazonaws.com"}}}
    direct = [{"Effect": "Allow", "Principal": {"AWS": {"Fn::GetAtt": ["Role", "Arn"]}}, "Action": "kms:Decrypt",
               "Resource": "*", "Condition": via}]  # fmt: skip
    assert _allowed(_template(key_policy=direct), decrypt)
    assert not _allowed(_template(key_policy=direct), Need("kms:Decrypt", key))  # not through Secrets Manager


def test_transaction_items_and_batches_map_to_their_own_actions_and_the_key() -> None:
    mapper = NeedMapper(_template())
    items = [{kind: {"TableName": "quotes", "Key": {}}} for kind in ("ConditionCheck", "Put", "Update", "Delete")]
    needs = mapper.needs(RecordedCall("consumer", "dynamodb", "TransactWriteItems", {"TransactItems": items}))
    actions = {need.action for need in needs if need.resource == TABLE}
    assert actions == {"dynamodb:ConditionCheckItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
    assert {need.action for need in needs if need.action.startswith("kms:")} == {
        "kms:Decrypt",
        "kms:Encrypt",
        "kms:GenerateDataKey",
    }
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/poison"
    sent = mapper.needs(RecordedCall("consumer", "sqs", "SendMessageBatch", {"QueueUrl": url, "Entries": []}))
    assert [need.action for need in sent] == ["sqs:SendMessage", "kms:GenerateDataKey", "kms:Decrypt"]
    with pytest.raises(UnmappedCall):
        mapper.needs(RecordedCall("consumer", "dynamodb", "DeleteTable", {"TableName": "quotes"}))
    with pytest.raises(Unresolvable):  # a table the template does not declare
        mapper.needs(RecordedCall("consumer", "dynamodb", "GetItem", {"TableName": "elsewhere"}))


def test_removing_a_grant_copies_only_what_it_changes() -> None:
    from tests.iam.policy import Grant, StatementAt

    template = _template({"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem"], "Resource": ARN})
    weaker = template.without(Grant(StatementAt("Policy", 0, 0), "dynamodb:PutItem"))
    assert _allowed(weaker, Need("dynamodb:GetItem", TABLE)) and not _allowed(weaker, Need("dynamodb:PutItem", TABLE))
    assert _allowed(template, Need("dynamodb:PutItem", TABLE))  # the original is untouched


def test_recorder_attributes_calls_to_the_running_handler() -> None:
    client = boto3.client("sqs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    recorder = CallRecorder()
    with Stubber(client) as stub, recorder.installed():
        stub.add_response("list_queues", {})
        stub.add_response("list_queues", {})
        client.list_queues()  # the harness's call
        recorder.attributed_handler("consumer", lambda: client.list_queues())()
    assert [str(call) for call in recorder.calls] == ["consumer: sqs ListQueues"]
    assert recorder.unattributed == 1


def _analytics_template(lake_formation: bool) -> StackTemplate:
    bucket_arn = {"Fn::GetAtt": ["Bucket", "Arn"]}
    resources: dict[str, Any] = {
        "Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Statement": []}}},
        "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "archive", "BucketEncryption": {
            "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {
                "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KEY_ARN}, "BucketKeyEnabled": True}]}}},
        "Database": {"Type": "AWS::Glue::Database", "Properties": {"DatabaseInput": {"Name": "cs"}}},
        "Quotes": {"Type": "AWS::Glue::Table", "Properties": {"DatabaseName": {"Ref": "Database"}, "TableInput": {
            "Name": "quotes", "StorageDescriptor": {
                "Location": {"Fn::Join": ["", ["s3://", {"Ref": "Bucket"}, "/quotes/"]]}}}}},
        "WorkGroup": {"Type": "AWS::Athena::WorkGroup", "Properties": {"Name": "wg", "WorkGroupConfiguration": {
            "ResultConfiguration": {"OutputLocation": {"Fn::Join": ["", ["s3://", {"Ref": "Bucket"}, "/results/"]]}}}}},
    }
    if lake_formation:
        resources["Location"] = {"Type": "AWS::LakeFormation::Resource", "Properties": {
            "ResourceArn": {"Fn::Join": ["", [bucket_arn, "/quotes"]]}}}
    return StackTemplate({"Resources": resources})


@pytest.mark.parametrize("lake_formation", [True, False])
def test_athena_queries_need_the_workgroup_the_catalog_the_results_and_the_data(lake_formation: bool) -> None:
    mapper = NeedMapper(_analytics_template(lake_formation))
    sql = "WITH r AS (SELECT * FROM cs.quotes AS q WHERE q.dt IN ('2026-11-21')) SELECT * FROM r"
    start = RecordedCall("rollup_workflow", "athena", "StartQueryExecution",
                         {"QueryString": sql, "WorkGroup": "wg", "QueryExecutionContext": {"Database": "cs"}},
                         returned={"QueryExecutionId": "q-1"})
    needs = {(n.action, n.resource) for n in mapper.needs(start)}
    workgroup = "arn:aws:athena:us-east-1:123456789012:workgroup/wg"
    glue = "arn:aws:glue:us-east-1:123456789012"
    assert {("athena:StartQueryExecution", workgroup), ("glue:GetDatabase", f"{glue}:database/cs"),
            ("glue:GetTable", f"{glue}:catalog"), ("glue:GetTable", f"{glue}:table/cs/quotes"),
            ("s3:PutObject", "arn:aws:s3:::archive/results/query-id.csv"),
            ("kms:GenerateDataKey", "arn:aws:kms:us-east-1:123456789012:key/key-key")} <= needs
    reads_through_lake_formation = ("lakeformation:GetDataAccess", "*") in needs
    reads_objects = ("s3:GetObject", "arn:aws:s3:::archive/quotes/object") in needs
    assert (reads_through_lake_formation, reads_objects) == (lake_formation, not lake_formation)
    results = RecordedCall("rollup_workflow", "athena", "GetQueryResults", {"QueryExecutionId": "q-1"})
    assert {(n.action, n.resource) for n in mapper.needs(results)} >= {
        ("athena:GetQueryResults", workgroup), ("s3:GetObject", "arn:aws:s3:::archive/results/query-id.csv")}
    with pytest.raises(UnmappedCall):  # a query the recorded run did not start: its workgroup is unknown
        mapper.needs(RecordedCall("rollup_workflow", "athena", "GetQueryExecution", {"QueryExecutionId": "q-2"}))


def test_listing_carries_its_prefix_and_objects_their_bucket_key() -> None:
    mapper = NeedMapper(_analytics_template(True))
    (listing,) = mapper.needs(RecordedCall("f", "s3", "ListObjectsV2", {"Bucket": "archive", "Prefix": "rollups/"}))
    assert listing.action == "s3:ListBucket" and ("s3:prefix", "rollups/") in listing.context
    put = mapper.needs(RecordedCall("f", "s3", "PutObject", {"Bucket": "archive", "Key": "rollups/x/part-0.json"}))
    assert [(n.action, n.resource) for n in put] == [
        ("s3:PutObject", "arn:aws:s3:::archive/rollups/x/part-0.json"),
        ("kms:GenerateDataKey", "arn:aws:kms:us-east-1:123456789012:key/key-key")]
    assert ("kms:EncryptionContext:aws:s3:arn", "arn:aws:s3:::archive") in put[1].context
