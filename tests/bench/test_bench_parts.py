"""The benchmark's own parts: the naive consumer, the API-call counter and the Markdown report."""

from __future__ import annotations

import boto3
from moto import mock_aws

from bench.api_calls import counting_api_calls
from bench.machine import this_machine
from bench.markdown import render
from bench.naive_consumer import naive_handler
from tests.consumer.events import kinesis_event, quote


class RecordingDynamoDB:
    def __init__(self) -> None:
        self.items: list[dict] = []

    def put_item(self, TableName: str, Item: dict) -> dict:  # noqa: N803 (boto3's names)
        self.items.append(Item)
        return {}


def test_naive_consumer_puts_each_valid_record_once_and_skips_poison():
    event = kinesis_event([quote(ts="2026-11-22T09:00:00Z"), b"{not json", quote(ts="2026-11-22T09:05:00Z")])
    dynamodb = RecordingDynamoDB()
    assert naive_handler(event, dynamodb, "cryptostream-quotes") == 2
    assert [item["sk"]["S"] for item in dynamodb.items] == ["2026-11-22T09:00:00Z", "2026-11-22T09:05:00Z"]
    assert dynamodb.items[0]["close"] == {"N": "67001"}


def test_api_calls_are_counted_by_service_and_operation(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        with counting_api_calls() as calls:
            sqs.list_queues()
            sqs.list_queues()
            sqs.create_queue(QueueName="q")
        sqs.list_queues()  # after the block: not counted
    assert calls == {"sqs:ListQueues": 2, "sqs:CreateQueue": 1}


def test_watermark_transactions_are_counted_apart_from_the_consumers(monkeypatch):
    from bench.requests_per_quote import _who
    from producer.watermarks import WatermarkStore

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk")],
            BillingMode="PAY_PER_REQUEST",
        )
        latest = {"pk": {"S": "BTC-USD#5min"}, "sk": {"S": "LATEST"}}
        with counting_api_calls(_who) as calls:
            WatermarkStore(dynamodb, "t", writes="transaction").advance_many(
                {"BTC-USD": "2026-11-22T09:00:00Z"}, "5min"
            )
            dynamodb.transact_write_items(TransactItems=[{"Put": {"TableName": "t", "Item": latest}}])
    assert calls == {"dynamodb:TransactWriteItems (watermarks)": 1, "dynamodb:TransactWriteItems": 1}


def test_report_names_the_machine_and_a_command_for_every_section():
    soak_verdict = {"quotes": 10, "published_distinct": 10, "duplicated_in_table": 0, "latest_wrong": 0,
                    "watermark_regressions": 0, "poison_injected": 1, "poison_quarantined": 1}  # fmt: skip
    results = {
        "consumer": {"records": 10, "repeats": 1, "consumer_records_per_cpu_s": 9000, "naive_records_per_cpu_s": 10000,
                     "bare_decode_records_per_cpu_s": 30000, "consumer_vs_naive": 0.9,
                     "dynamodb_requests_per_1000": {"consumer": 42.0, "naive": 1000.0}},
        "moto": {"records": 10, "repeats": 1, "consumer_records_per_s": 900, "naive_records_per_s": 200,
                 "consumer_vs_naive": 4.5},
        "requests": {"pairs": 2, "roles": {"kinesis:PutRecords": "producer"},
                     **{key: {"quotes": 4, "per_1000": {"kinesis:PutRecords": 3.3}, "dynamodb_per_1000": 5.0,
                              "kinesis_put_per_1000": 3.3}
                        for key in ("backfill_hourly_runs", "schedule_one_bar_per_pair_per_run")}},
        "freshness": {"batching_window_seconds": 5.0,
                      **{f"1_pairs_{mode}": {"bars": 2, "p50_ms": 12.5, "p99_ms": 20.0}
                         for mode in ("with_batching_window", "window_shut")}},
        "imports": {"boto3": 110.0, "consumer.handler": 70.0},
        "archive": {"n_bars": 1000, "archive_objects": 10, "repeats": 1,
                    "bytes_per_million_quotes": {"parquet_snappy": 1, "json_lines": 4},
                    "rollup_full_seconds": 1.0, "rollup_full_peak_rss_mib": 100.0, "rollup_full_cpu_seconds": 1.5,
                    "rollup_incremental_one_new_day_seconds": 0.5, "rollup_incremental_one_new_day_cpu_seconds": 0.25,
                    "rollup_rerun_no_new_data_seconds": 0.1},
        "soak": {"summary_line": "soak: 10 quotes, 0 lost, 0 duplicated, 1 quarantined, 3 faults injected",
                 "verdict": soak_verdict, "faults": {"poison_record": 1}, "consumer": {"records": 12, "retries": 1,
                 "dynamodb_requests": 2}, "mapping": {"invocations": 2, "function_errors": 0, "partial_failures": 0,
                 "bisections": 0}, "wall_seconds": 1.0, "quotes_per_second": 10.0, "latency_ms_p50": 5.0,
                 "latency_ms_p99": 9.0, "producer_runs": 2, "producer_crashes": 1, "lost": 0,
                 "published_records": 12, "alphavantage_requests": 4, "alphavantage_throttled": 1},
    }  # fmt: skip
    machine = this_machine()
    text = render(machine, results, {"consumer": 1.0}, quick=False, soak_quotes=10)
    assert machine.cpu_model in text and f"{machine.cpus} CPUs" in text
    for section in ("consumer", "moto", "requests", "freshness", "imports", "archive"):
        assert f"-m bench {section}`" in text
    assert "-m tools.soak --quotes 10`" in text and "**4.5x**" in text and "| 1 | 2 | 12.5 | 20.0 |" in text


def test_requests_table_sets_transaction_writes_beside_the_default():
    from bench.markdown import _requests

    def shape(ops: dict[str, float], dynamodb: float) -> dict:
        return {"quotes": 300, "per_1000": ops, "dynamodb_per_1000": dynamodb, "kinesis_put_per_1000": 100.0}

    keys = ("backfill_hourly_runs", "schedule_one_bar_per_pair_per_run")
    default = shape({"dynamodb:UpdateItem": 1000.0}, 1700.0)
    tx = shape({"dynamodb:TransactWriteItems (watermarks)": 100.0}, 800.0)
    text = _requests({"pairs": 10, "roles": {}, **dict.fromkeys(keys, default), "transaction": dict.fromkeys(keys, tx)})
    assert "| `dynamodb:UpdateItem` |  | 1000.0 | – |" in text
    assert "| `dynamodb:TransactWriteItems (watermarks)` |  | – | 100.0 |" in text
    assert "DynamoDB: **1700.0** requests per 1,000 quotes (**800.0** with `WATERMARK_WRITES=transaction`)" in text


def test_the_archive_section_sets_the_earlier_revision_beside_today_with_ratios():
    from bench.markdown import _baseline

    text = _baseline({"revision": "abc1234", "runs": 3, "before": {"wall": 2.0, "cpu": 4.0, "rss": 400.0},
                      "now": {"wall": 1.5, "cpu": 3.0, "rss": 300.0}})
    assert "before 2.0 s, 4.0 CPU-s, 400.0 MiB; now 1.5 s, 3.0 CPU-s, 300.0 MiB" in text
    assert "now/before 0.75 in time, 0.75 in CPU, 0.75 in memory" in text
    assert "-m bench.rollup_ab abc1234 <archive> 3`" in text
    assert "No earlier revision" in _baseline(None)


def test_the_compaction_section_sets_before_beside_after_with_ratios():
    from bench.compaction_bench import render

    timing = {"seconds": 2.0, "cpu_seconds": 1.5}
    text = render({"n_bars": 2880, "pairs": 10, "days": 1, "objects_per_pair_day": 96, "repeats": 1,
                   "objects_before": 960, "objects_after": 10, "bytes_before": 4000, "bytes_after": 1000,
                   "rows_compacted": 2880, "partitions_compacted": 10, "compaction": timing,
                   "rollup_full_before": timing, "rollup_full_after": {"seconds": 0.5, "cpu_seconds": 0.4},
                   "vwap_1d_before": timing, "vwap_1d_after": {"seconds": 0.25, "cpu_seconds": 0.2},
                   "rollup_speedup": 4.0, "query_speedup": 8.0})
    assert "| objects | 960 | 10 | 96x fewer |" in text and "| bytes | 4,000 | 1,000 | 4.0x smaller |" in text
    assert "2.0 s / 1.5 s | 0.5 s / 0.4 s | 4.0x faster |" in text and "-m bench compaction`" in text
