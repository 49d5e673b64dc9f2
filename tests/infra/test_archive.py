"""Archive: Firehose writes exactly the local archiver's key layout as Parquet; buckets are locked down."""

from __future__ import annotations

import re

import pytest

from cryptostream_model.archive import ARCHIVE_PREFIX, ERROR_PREFIX, archive_partition_prefix

pytestmark = pytest.mark.infra

QUOTE = {"symbol": "BTC", "market": "USD", "ts": "2026-11-22T09:05:00Z"}


def _destination(synth) -> dict:
    return synth.one("AWS::KinesisFirehose::DeliveryStream")["ExtendedS3DestinationConfiguration"]


def _jq(query: str) -> str:
    """Evaluate the three jq forms the partition query uses: ``.field`` and ``.field[a:b]``."""
    match = re.fullmatch(r"\.(\w+)(?:\[(\d+):(\d+)\])?", query)
    assert match, f"unexpected jq expression {query!r}"
    field = QUOTE[match.group(1)]
    return field[int(match.group(2)) : int(match.group(3))] if match.group(2) else field


def test_dynamic_partitioning_yields_the_local_archive_layout(synth) -> None:
    destination = _destination(synth)
    assert destination["DynamicPartitioningConfiguration"]["Enabled"] is True
    (processor,) = destination["ProcessingConfiguration"]["Processors"]
    parameters = {p["ParameterName"]: p["ParameterValue"] for p in processor["Parameters"]}
    assert processor["Type"] == "MetadataExtraction"
    assert parameters["JsonParsingEngine"] == "JQ-1.6"
    query = parameters["MetadataExtractionQuery"]
    assert query == '{"symbol":.symbol,"market":.market,"dt":.ts[0:10]}'
    keys = dict(re.findall(r'"(\w+)":([^,}]+)', query.strip("{}")))
    prefix = destination["Prefix"]
    rendered = re.sub(r"!\{partitionKeyFromQuery:(\w+)\}", lambda m: _jq(keys[m.group(1)]), prefix)
    assert rendered == archive_partition_prefix(QUOTE["symbol"], QUOTE["market"], QUOTE["ts"])
    assert prefix.startswith(ARCHIVE_PREFIX)
    expected_errors = f"{ERROR_PREFIX}!{{firehose:error-output-type}}/dt=!{{timestamp:yyyy-MM-dd}}/"
    assert destination["ErrorOutputPrefix"] == expected_errors


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
    assert destination["BufferingHints"] == {"IntervalInSeconds": 300, "SizeInMBs": 64}
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
