"""Archive: Firehose writes exactly the local archiver's key layout as Parquet; buckets are locked down."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from archive_transform.handler import lambda_handler
from cryptostream_model.archive import ARCHIVE_PREFIX, ERROR_PREFIX, archive_partition_prefix

pytestmark = pytest.mark.infra

FIXTURE = Path(__file__).parents[1] / "fixtures" / "firehose" / "transformation_event.json"
EVENT = json.loads(FIXTURE.read_text())  # one valid quote, one with high below low, one not JSON
LAMBDA_SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024


def _destination(synth) -> dict:
    return synth.one("AWS::KinesisFirehose::DeliveryStream")["ExtendedS3DestinationConfiguration"]


def _processor_parameters(synth) -> tuple[str, dict]:
    (processor,) = _destination(synth)["ProcessingConfiguration"]["Processors"]
    return processor["Type"], {p["ParameterName"]: p["ParameterValue"] for p in processor["Parameters"]}


def _transformed(event: dict) -> list[dict]:
    """The transformation's answer to a Firehose event, records in order."""
    return lambda_handler(event, None)["records"]


def test_the_processor_is_the_transformation_lambda(synth) -> None:
    destination = _destination(synth)
    assert destination["ProcessingConfiguration"]["Enabled"] is True
    kind, parameters = _processor_parameters(synth)
    assert kind == "Lambda"  # the jq MetadataExtraction processor is gone: partition keys come from the Lambda
    assert parameters["LambdaArn"] == {"Fn::GetAtt": [synth.logical_id(synth.stack.archive.transform.function), "Arn"]}
    assert parameters["RoleArn"] == {"Fn::GetAtt": [synth.logical_id(_delivery_role(synth)), "Arn"]}
    assert parameters["BufferSizeInMBs"] == "1"
    assert parameters["BufferIntervalInSeconds"] == "300"
    assert parameters["NumberOfRetries"] == "3"


def test_dynamic_partitioning_from_the_lambda_yields_the_local_archive_layout(synth) -> None:
    destination = _destination(synth)
    assert destination["DynamicPartitioningConfiguration"]["Enabled"] is True
    prefix = destination["Prefix"]
    assert prefix.startswith(ARCHIVE_PREFIX)
    assert "partitionKeyFromQuery" not in prefix
    assert re.findall(r"!\{partitionKeyFromLambda:(\w+)\}", prefix) == ["symbol", "market", "dt"]
    good = next(r for r in _transformed(EVENT) if r["result"] == "Ok")
    keys = good["metadata"]["partitionKeys"]
    rendered = re.sub(r"!\{partitionKeyFromLambda:(\w+)\}", lambda m: keys[m.group(1)], prefix)
    quote = json.loads(base64.b64decode(good["data"]))
    assert rendered == archive_partition_prefix(quote["symbol"], quote["market"], quote["ts"])


def test_poison_lands_where_the_local_archiver_puts_it(synth) -> None:
    error_prefix = _destination(synth)["ErrorOutputPrefix"]
    assert error_prefix == f"{ERROR_PREFIX}!{{firehose:error-output-type}}/dt=!{{timestamp:yyyy-MM-dd}}/"
    assert any(r["result"] == "ProcessingFailed" for r in _transformed(EVENT))
    # Firehose names the error type of records a transformation failed "processing-failed".
    rendered = error_prefix.replace("!{firehose:error-output-type}", "processing-failed").replace(
        "!{timestamp:yyyy-MM-dd}", "2026-11-22"
    )
    assert rendered == f"{ERROR_PREFIX}processing-failed/dt=2026-11-22/"  # local/archiver.py


def test_a_full_processor_buffer_fits_lambdas_synchronous_payload_limit(synth) -> None:
    """Firehose sends each buffered record base64-encoded with its Kinesis metadata: the event must stay < 6 MB."""
    _, parameters = _processor_parameters(synth)
    buffer_bytes = int(parameters["BufferSizeInMBs"]) * 1024 * 1024
    template = EVENT["records"][0]
    count = buffer_bytes // len(base64.b64decode(template["data"]))
    records = [{**template, "recordId": f"{template['recordId']}{i:06d}"} for i in range(count)]
    event = {**EVENT, "records": records}
    assert len(json.dumps(event)) < LAMBDA_SYNC_PAYLOAD_LIMIT
    assert len(json.dumps(lambda_handler(event, None))) < LAMBDA_SYNC_PAYLOAD_LIMIT


def _delivery_role(synth):
    return synth.stack.archive.delivery_stream.node.find_child("S3 Destination Role")


def _transform_props(synth) -> dict:
    return synth.raw["Resources"][synth.logical_id(synth.stack.archive.transform.function)]["Properties"]


def test_transformation_function_handler_runtime_layer_and_limits(synth) -> None:
    props = _transform_props(synth)
    transform = synth.stack.archive.transform
    assert props["Handler"] == "archive_transform.handler.lambda_handler"
    assert props["Runtime"] == "python3.14"
    assert props["Architectures"] == ["x86_64"]
    assert props["Layers"] == [{"Ref": synth.logical_id(synth.stack.ingestion.layer)}]
    assert props["MemorySize"] == 256
    assert props["Timeout"] <= 60  # Firehose gives a transformation at most 5 minutes
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["LoggingConfig"]["LogGroup"] == {"Ref": synth.logical_id(transform.log_group)}
    log_group = synth.raw["Resources"][synth.logical_id(transform.log_group)]["Properties"]
    assert log_group["LogGroupName"] == "/aws/lambda/cryptostream-archive-transform"
    assert log_group["RetentionInDays"] == 30
    asset = synth.asset_dir(transform.function)
    assert (asset / "archive_transform" / "handler.py").exists()
    assert not (asset / "producer").exists() and not (asset / "consumer").exists()
    assert not list(asset.rglob("*.pyc"))


def test_transformation_role_writes_its_logs_and_traces_only(synth) -> None:
    transform = synth.stack.archive.transform
    role = synth.raw["Resources"][synth.logical_id(transform.role)]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert "ManagedPolicyArns" not in role and "Policies" not in role
    statements = synth.statements_of(transform.role)
    by_actions = {tuple(sorted(s["Action"] if isinstance(s["Action"], list) else [s["Action"]])): s for s in statements}
    assert set(by_actions) == {
        ("logs:CreateLogStream", "logs:PutLogEvents"),
        ("xray:PutTelemetryRecords", "xray:PutTraceSegments"),  # active tracing; no resource-level permission
    }
    logs = by_actions[("logs:CreateLogStream", "logs:PutLogEvents")]
    assert logs["Resource"] == {"Fn::GetAtt": [synth.logical_id(transform.log_group), "Arn"]}
    managed = synth.resources("AWS::IAM::ManagedPolicy").values()
    assert not any({"Ref": synth.logical_id(transform.role)} in m["Properties"].get("Roles", []) for m in managed)


def test_only_the_firehose_role_may_invoke_the_transformation(synth) -> None:
    function_id = synth.logical_id(synth.stack.archive.transform.function)
    arn = {"Fn::GetAtt": [function_id, "Arn"]}
    invokers = [
        (policy["Properties"]["Roles"], statement)
        for policy in synth.resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if function_id in json.dumps(statement["Resource"])
    ]
    ((roles, statement),) = invokers
    assert roles == [{"Ref": synth.logical_id(_delivery_role(synth))}]
    assert statement["Action"] == "lambda:InvokeFunction"
    assert statement["Resource"] == [arn, {"Fn::Join": ["", [arn, ":*"]]}]
    permissions = synth.resources("AWS::Lambda::Permission").values()
    assert not any(p["Properties"]["FunctionName"] in (arn, {"Ref": function_id}) for p in permissions)


def test_parquet_conversion_from_the_glue_table(synth) -> None:
    conversion = _destination(synth)["DataFormatConversionConfiguration"]
    assert conversion["Enabled"] is True
    assert conversion["InputFormatConfiguration"]["Deserializer"] == {"OpenXJsonSerDe": {"CaseInsensitive": False}}
    assert conversion["OutputFormatConfiguration"]["Serializer"]["ParquetSerDe"]["Compression"] == "SNAPPY"
    schema = conversion["SchemaConfiguration"]
    assert schema["TableName"] == {"Ref": synth.logical_id(synth.stack.catalog.archive_table)}
    assert schema["DatabaseName"] == "cryptostream"
    assert schema["VersionId"] == "LATEST"


def test_delivery_reads_the_stream_and_buffers_as_configured(synth) -> None:
    props = synth.one("AWS::KinesisFirehose::DeliveryStream")
    assert props["DeliveryStreamType"] == "KinesisStreamAsSource"
    source = props["KinesisStreamSourceConfiguration"]["KinesisStreamARN"]
    assert source == {"Fn::GetAtt": [synth.logical_id(synth.stack.stream.stream), "Arn"]}
    destination = _destination(synth)
    assert destination["BufferingHints"] == {"IntervalInSeconds": 900, "SizeInMBs": 64}
    assert destination["EncryptionConfiguration"]["KMSEncryptionConfig"]["AWSKMSKeyARN"] == {
        "Fn::GetAtt": [synth.logical_id(synth.stack.archive.key), "Arn"]
    }
    assert destination["CloudWatchLoggingOptions"]["Enabled"] is True


def test_every_bucket_is_encrypted_private_tls_only_and_expiring(synth) -> None:
    buckets = synth.resources("AWS::S3::Bucket")
    assert len(buckets) == 4  # access logs, archive, Athena results, connector spill
    access_logs = synth.logical_id(synth.stack.archive.access_logs)
    for logical_id, bucket in buckets.items():
        props = bucket["Properties"]
        (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        algorithm = rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
        # S3 cannot deliver server access logs into an SSE-KMS bucket: that one bucket is SSE-S3.
        assert algorithm == ("AES256" if logical_id == access_logs else "aws:kms"), logical_id
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert props["LifecycleConfiguration"]["Rules"], logical_id
        if logical_id != access_logs:
            assert props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": access_logs}
    tls_denials = [
        s
        for policy in synth.resources("AWS::S3::BucketPolicy").values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
    ]
    assert len(tls_denials) == len(buckets)


def test_archive_lifecycle_tiers_quotes_and_expires_errors(synth) -> None:
    props = synth.raw["Resources"][synth.logical_id(synth.stack.archive.bucket)]["Properties"]
    rules = {r["Id"]: r for r in props["LifecycleConfiguration"]["Rules"]}
    assert rules["tier-quotes"]["Prefix"] == ARCHIVE_PREFIX
    assert rules["tier-quotes"]["Transitions"] == [{"StorageClass": "INTELLIGENT_TIERING", "TransitionInDays": 30}]
    assert rules["expire-errors"]["Prefix"] == ERROR_PREFIX
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert synth.raw["Resources"][synth.logical_id(synth.stack.archive.bucket)]["DeletionPolicy"] == "Retain"
