"""Flink: the Studio notebook (interactive, Flink 1.15, Glue catalog, Kinesis connector), off by a flag."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.infra


def test_studio_notebook(synth) -> None:
    props = synth.one("AWS::KinesisAnalyticsV2::Application")
    assert props["ApplicationMode"] == "INTERACTIVE"
    assert props["RuntimeEnvironment"] == "ZEPPELIN-FLINK-3_0"
    zeppelin = props["ApplicationConfiguration"]["ZeppelinApplicationConfiguration"]
    database_arn = zeppelin["CatalogConfiguration"]["GlueDataCatalogConfiguration"]["DatabaseARN"]
    assert database_arn["Fn::Join"][1][-1] == ":database/cryptostream"
    assert zeppelin["CustomArtifactsConfiguration"] == [
        {
            "ArtifactType": "DEPENDENCY_JAR",
            "MavenReference": {
                "GroupId": "org.apache.flink",
                "ArtifactId": "flink-sql-connector-kinesis",
                "Version": "1.15.4",
            },
        }
    ]
    assert props["ServiceExecutionRole"] == {"Fn::GetAtt": [synth.logical_id(synth.stack.flink.role), "Arn"]}


def test_studio_role_is_read_only_on_the_stream(synth) -> None:
    actions = synth.actions_of(synth.stack.flink.role)
    assert {"kinesis:GetRecords", "kinesis:GetShardIterator", "glue:GetTable", "glue:CreateTable"} <= actions
    assert not any(a.startswith(("kinesis:Put", "kinesis:Delete", "s3:", "dynamodb:")) for a in actions)
    assert not any(a.endswith(":*") or a == "*" for a in actions)


def test_flag_removes_the_notebook(variant) -> None:
    assert not variant.resources("AWS::KinesisAnalyticsV2::Application")
    assert not variant.resources("AWS::KinesisAnalyticsV2::ApplicationCloudWatchLoggingOption")
