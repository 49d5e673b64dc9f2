"""Firehose's transformation Lambda keeps poison out of the archive and names the partition."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from archive_transform.handler import lambda_handler

EVENT = json.loads((Path(__file__).parents[1] / "fixtures" / "firehose" / "transformation_event.json").read_text())


def test_valid_quotes_pass_with_partition_keys_and_poison_fails():
    response = lambda_handler(EVENT, None)
    results = {r["recordId"]: r for r in response["records"]}
    assert list(results) == [r["recordId"] for r in EVENT["records"]]  # one answer per record, same ids
    good, high_below_low, not_json = response["records"]
    assert good["result"] == "Ok"
    assert good["metadata"] == {"partitionKeys": {"symbol": "BTC", "market": "USD", "dt": "2026-11-22"}}
    body = base64.b64decode(good["data"])
    assert body.endswith(b"\n")
    assert json.loads(body)["volume"] == "12"  # canonical decimal strings, whatever the producer sent
    for failed, original in ((high_below_low, EVENT["records"][1]), (not_json, EVENT["records"][2])):
        assert failed["result"] == "ProcessingFailed"
        assert failed["data"] == original["data"]  # Firehose writes the raw record to the error prefix


def test_counts_are_logged_not_metric_series(capsys, caplog):
    """No EMF series ($0.30 a month each): Firehose's own SucceedProcessing.Records is free; the counts are logged."""
    lambda_handler(EVENT, None)
    assert "_aws" not in capsys.readouterr().out
    (line,) = [r for r in caplog.records if r.getMessage() == "records kept out of the archive"]
    assert (line.failed, line.records) == (2, 3)


def test_disabled_metrics_stay_silent_over_many_invocations(capsys, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    for _ in range(105):  # Powertools prints a pending set by itself once a metric holds 100 values
        lambda_handler(EVENT, None)
    assert "_aws" not in capsys.readouterr().out
