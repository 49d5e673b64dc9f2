"""Observability: the dashboard covers each stage, alarms notify an encrypted topic, e-mail is optional."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.infra


def _dashboard_body(synth) -> str:
    body = synth.one("AWS::CloudWatch::Dashboard")["DashboardBody"]
    return json.dumps(body)


@pytest.mark.parametrize(
    "metric",
    [
        "IncomingRecords",
        "GetRecords.IteratorAgeMilliseconds",
        "Errors",
        "Throttles",
        "Duration",
        "ReadThrottleEvents",
        "WriteThrottleEvents",
        "ApproximateNumberOfMessagesVisible",
        "DeliveryToS3.DataFreshness",
        "DeliveryToS3.Success",
        "FailedConversion.Records",
        "ExecuteProcessing.Success",
        "SucceedProcessing.Records",
        "FailedPairs",
    ],
)
def test_dashboard_shows(synth, metric: str) -> None:
    assert f'\\"{metric}\\"' in _dashboard_body(synth)


def test_counts_that_are_not_metric_series_are_on_the_dashboard_from_the_logs(synth) -> None:
    """Published, records written, ingest lag, duplicates, quarantined, per-interval producer counts: Logs
    Insights over the handlers' summaries (only the alarmed FailedPairs is a metric series)."""
    body = _dashboard_body(synth)
    for fragment in ('producer run finished', 'by interval', 'batch consumed', 'sum(stats.duplicates)',
                     'sum(stats.quarantined)', '/aws/lambda/', 'sum(summary.published)', 'sum(stats.written)',
                     'sum(stats.failed)', 'max(stats.ingest_lag_ms_max)', 'by bin(5m)'):  # fmt: skip
        assert fragment in body, fragment
    for retired in ("Published", "Records", "Written", "FailedReported", "IngestLagMaxMs", "ArchiveRejectedRecords"):
        assert f'\\"{retired}\\"' not in body, retired


def test_one_failed_pairs_alarm_watches_every_schedule(synth) -> None:
    alarms = [a["Properties"] for a in synth.resources("AWS::CloudWatch::Alarm").values()]
    (failed,) = [a for a in alarms if a.get("MetricName") == "FailedPairs"]
    assert failed["AlarmName"] == "cryptostream-producer-failed-pairs"
    assert failed["Dimensions"] == [{"Name": "service", "Value": "cryptostream-producer"}]
    assert failed["EvaluationPeriods"] == 3


def test_alarms_cover_the_pipeline_and_notify_the_topic(synth) -> None:
    alarms = {a["Properties"]["AlarmName"]: a["Properties"] for a in synth.resources("AWS::CloudWatch::Alarm").values()}
    metrics = {props.get("MetricName") for props in alarms.values()}
    assert {
        "GetRecords.IteratorAgeMilliseconds",  # iterator age
        "Errors",  # Lambda errors
        "ApproximateNumberOfMessagesVisible",  # any quarantined record
        "DeliveryToS3.Success",  # Firehose failures
        "FailedConversion.Records",
        "FailedPairs",  # producer failures
    } <= metrics
    topic = {"Ref": synth.logical_id(synth.stack.observability.topic)}
    for name, props in alarms.items():
        assert props["AlarmActions"] == [topic], name
    quarantined = alarms["cryptostream-quarantined"]
    assert quarantined["Threshold"] == 1 and quarantined["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_topic_is_encrypted_and_email_is_optional(synth, variant) -> None:
    assert synth.one("AWS::SNS::Topic")["KmsMasterKeyId"]
    assert not synth.resources("AWS::SNS::Subscription")
    subscription = variant.one("AWS::SNS::Subscription")
    assert subscription["Protocol"] == "email" and subscription["Endpoint"] == "ops@example.com"


def test_archive_transformation_is_watched_like_the_other_lambdas(synth) -> None:
    function = {"Ref": synth.logical_id(synth.stack.archive.transform.function)}
    body = _dashboard_body(synth)
    assert json.dumps(function) in body
    assert "Archive transform errors and throttles" in body
    alarms = {a["Properties"]["AlarmName"]: a["Properties"] for a in synth.resources("AWS::CloudWatch::Alarm").values()}
    # one alarm covers the function failing and Firehose failing to invoke it (ExecuteProcessing.Success < 1)
    assert "cryptostream-archive-transform-errors" not in alarms
    invocations = alarms["cryptostream-archive-transform-invocation-failures"]
    assert invocations["MetricName"] == "ExecuteProcessing.Success" and invocations["Namespace"] == "AWS/Firehose"
    assert invocations["Statistic"] == "Minimum"
    assert invocations["Threshold"] == 1 and invocations["ComparisonOperator"] == "LessThanThreshold"
