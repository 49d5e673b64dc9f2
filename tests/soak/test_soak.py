"""The fault-injection soak, small: 2,000 quotes through the embedded stack with every fault kind.

Also proves the verifier can fail: a quote removed from the table, a poison record that never
reached quarantine and a watermark moved back are each reported.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cli.demo import stream_market
from cryptostream_model.keys import table_pk
from cryptostream_model.record import format_ts
from local.stack import LocalStack
from tools.soak import FaultRates, SoakConfig, run_soak
from tools.soak.__main__ import main
from tools.soak.faults import FAULT_KINDS
from tools.soak.ledger import Ledger, PoisonSent, bar_key
from tools.soak.verify import verify

pytestmark = pytest.mark.e2e

EXPECTED_KINDS = {
    "alphavantage_throttled",
    "consumer_crash_mid_batch",
    "duplicate_batch_delivery",
    "dynamodb_throttle_burst",
    "dynamodb_throttled",
    "dynamodb_unprocessed_items",
    "kinesis_partial_failure",
    "kinesis_throttled",
    "poison_record",
    "producer_crash_before_watermark",
    "replayed_record",
}


def test_two_thousand_quotes_under_every_fault_lose_nothing():
    report = run_soak(SoakConfig(quotes=2000, pairs=4, step_bars=60, seed=11))
    verdict = report.verdict

    assert set(FAULT_KINDS) == set(report.faults) == EXPECTED_KINDS, report.faults
    assert all(report.faults[kind] > 0 for kind in EXPECTED_KINDS), report.faults
    assert verdict.problems == []
    assert verdict.ok and verdict.lost == 0 and verdict.duplicated_in_table == 0
    assert verdict.quotes == verdict.published_distinct == 2000
    assert verdict.poison_injected == verdict.poison_quarantined == 20
    # the faults really bit: republished bars after the producer crash, Lambda retried and bisected
    assert report.published_records > 2000
    assert report.producer_crashes >= 1
    assert report.mapping["function_errors"] >= 1 and report.mapping["bisections"] >= 1
    assert report.mapping["partial_failures"] >= 1 and report.mapping["sent_to_on_failure"] == 0
    assert report.consumer["duplicates"] > 0 and report.consumer["retries"] > 0
    assert (
        report.summary_line()
        == f"soak: 2000 quotes, 0 lost, 0 duplicated, 20 quarantined, {report.faults_injected} faults injected"
    )


def test_command_prints_the_verdict_last_and_rejects_bad_arguments(capsys):
    assert main(["--quotes", "300", "--pairs", "3", "--no-faults"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == "soak: 300 quotes, 0 lost, 0 duplicated, 0 quarantined, 0 faults injected"
    assert main(["--quotes", "0"]) == 2
    assert main(["--pairs", "500"]) == 2
    assert "error: pairs must be between 1 and 60" in capsys.readouterr().err


def test_verifier_reports_what_went_missing(tmp_path):
    pairs, end = ["BTC-USD", "ETH-USD"], datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    start = end - timedelta(hours=1)
    with LocalStack(None, seed=3, archive_buffer_seconds=3600) as stack:
        stream_market(stack, pairs, "1min", start, end, steps=1)
        ledger = Ledger("1min")
        for pair in pairs:
            symbol, market = pair.split("-")
            for bar in stack.clients.dynamodb.query(
                TableName=stack.config.table_name,
                KeyConditionExpression="pk = :pk AND sk < :letters",
                ExpressionAttributeValues={":pk": {"S": table_pk(pair, "1min")}, ":letters": {"S": "A"}},
            )["Items"]:
                values = {name: bar[name]["N"] for name in ("open", "high", "low", "close", "volume")}
                ledger.add_published(
                    f'{{"symbol":"{symbol}","market":"{market}","ts":"{bar["sk"]["S"]}",'
                    + ",".join(f'"{k}":"{v}"' for k, v in values.items())
                    + "}"
                )
        ledger.expected = set(ledger.published)
        assert len(ledger.published) == 120 and verify(stack, ledger, pairs).ok

        oldest = format_ts(start)
        stack.clients.dynamodb.delete_item(
            TableName=stack.config.table_name, Key={"pk": {"S": table_pk("BTC-USD", "1min")}, "sk": {"S": oldest}}
        )
        ledger.expected.add(bar_key("ETH-USD", format_ts(end)))  # a bar the producer never published
        ledger.poison.append(PoisonSent("shardId-000000000000", "999999", "not_json"))
        ledger.observe_watermarks({"BTC-USD": "2026-11-20T11:00:00Z"}, run=1)
        ledger.observe_watermarks({"BTC-USD": "2026-11-20T10:00:00Z"}, run=2)
        verdict = verify(stack, ledger, pairs)

    assert (verdict.missing_in_table, verdict.never_published, verdict.poison_missing) == (1, 1, 1)
    assert verdict.watermark_regressions == 1 and verdict.lost == 3 and not verdict.ok
    assert any(oldest in problem or "BTC-USD" in problem for problem in verdict.problems)


def test_no_fault_rates_inject_nothing():
    assert all(value == 0 for value in vars(FaultRates.none()).values())
