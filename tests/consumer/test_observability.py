"""Metrics (CloudWatch EMF through Powertools) and the stats hook, with stub clients (no AWS needed)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from consumer import handler
from consumer.stats import BatchStats
from tests.consumer.conftest import FakeLambdaContext
from tests.consumer.events import kinesis_event, quote


class AcceptEverything:
    def batch_write_item(self, **_: Any) -> dict[str, Any]:
        return {"UnprocessedItems": {}}

    def transact_write_items(self, **_: Any) -> dict[str, Any]:
        return {}

    def send_message_batch(self, Entries: list[dict[str, Any]], **_: Any) -> dict[str, Any]:  # noqa: N803
        return {"Successful": [{"Id": entry["Id"]} for entry in Entries], "Failed": []}


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TABLE_NAME", "cryptostream-quotes")
    monkeypatch.setenv("QUARANTINE_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/q")
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "WARNING")


def stubbed_handler(**hooks: Any) -> handler.Handler:
    """The consumer's handler on clients that accept every request."""
    stub = AcceptEverything()
    return handler.make_handler(clients=lambda _: stub, **hooks)


def emf_documents(output: str) -> list[dict[str, Any]]:
    documents = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return [document for document in documents if "_aws" in document]


def test_no_metric_series_the_counts_are_in_the_batch_log_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """No EMF series ($0.30 a month each, no alarm reads them): the dashboard charts this line (docs/cost.md)."""
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "INFO")
    stubbed_handler()(kinesis_event([quote(), quote(), quote(high="1")]), FakeLambdaContext())
    assert emf_documents(capsys.readouterr().out) == []
    (line,) = [record for record in caplog.records if record.getMessage() == "batch consumed"]
    stats = line.stats
    assert (stats["records"], stats["written"], stats["failed"]) == (3, 1, 0)
    assert stats["ingest_lag_ms_max"] > 0


def test_disabled_metrics_stay_silent_over_many_batches(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    event, consume = kinesis_event([quote()]), stubbed_handler()
    for _ in range(105):  # Powertools prints a pending set by itself once a metric holds 100 values
        consume(event, FakeLambdaContext())
    assert emf_documents(capsys.readouterr().out) == []


def test_the_stats_hook_gets_every_batch_and_a_context_is_optional(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    seen: list[BatchStats] = []
    consume = stubbed_handler(on_stats=seen.append)
    consume(kinesis_event([quote(), quote(ts="2026-11-22T09:05:00Z")]), None)
    consume(kinesis_event([quote(interval="2min")]), FakeLambdaContext())
    assert [(s.records, s.written, s.quarantined) for s in seen] == [(2, 2, 0), (1, 0, 1)]
    assert seen[1].quarantined_by_reason == {"unknown_interval": 1}
